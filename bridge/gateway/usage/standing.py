"""A person's standing against their budgets: one pure value, computed from their ledger and limits, that every
renderer reads (the `x-bridge-budget-*` headers and 429 messages of `bridge.gateway.usage.notices`, GET /v1/usage,
and Claude Code's own headers and usage page after it).

    for each budget that applies   kind        "tokens" or "usd" (used, held and limit in micro-dollars)
                                   span        "day" (UTC) or "month" (calendar month, UTC)
                                   used        what the person used in the span (settled requests)
                                   held        what their requests still running hold
                                   limit       the budget
                                   resets_at   when the span starts again
    warn_percent                   BUDGET_WARN_PERCENT: a budget at or past it is a warning
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bridge.gateway.usage.ledger import Ledger, period_ids
from bridge.gateway.usage.limits import DEFAULT_WARN_PERCENT, Limits
from bridge.gateway.usage.periods import next_day, next_month, utc_day

Kind = Literal["tokens", "usd"]
Span = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class BudgetState:
    kind: Kind
    span: Span
    used: int
    held: int
    limit: int
    resets_at: datetime
    period: str
    """The span's name: 2026-12-06, or 2026-12."""

    @property
    def key(self) -> str:
        """`usd-day`, `tokens-month`, ...: how headers and warnings name the budget."""
        return f"{self.kind}-{self.span}"

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def spent(self) -> bool:
        return self.used >= self.limit

    @property
    def percent(self) -> float:
        """How much of the budget is used, in percent (100 or more once spent; a zero budget is spent)."""
        return self.used * 100 / self.limit if self.limit > 0 else 100.0

    @property
    def held_back(self) -> bool:
        """Only the caller's running requests stand between them and the limit."""
        return not self.spent and self.used + self.held >= self.limit


@dataclass(frozen=True, slots=True)
class Standing:
    budgets: tuple[BudgetState, ...] = ()
    warn_percent: int = DEFAULT_WARN_PERCENT

    @property
    def warnings(self) -> tuple[BudgetState, ...]:
        return tuple(b for b in self.budgets if b.percent >= self.warn_percent)

    @property
    def spent(self) -> BudgetState | None:
        """The spent budget that keeps the person waiting longest (the one that resets last), if any."""
        spent = [b for b in self.budgets if b.spent]
        return max(spent, key=lambda b: b.resets_at) if spent else None

    @property
    def held_back(self) -> BudgetState | None:
        return next((b for b in self.budgets if b.held_back), None)

    def warned_keys(self) -> frozenset[str]:
        """The warnings as the ledger remembers them: budget and period."""
        return frozenset(f"{b.key}@{b.period}" for b in self.warnings)


NO_STANDING = Standing()


def standing_of(ledger: Ledger, limits: Limits, now: datetime, warn_percent: int = DEFAULT_WARN_PERCENT) -> Standing:
    """The standing `ledger` (as of `now`) gives against `limits`: the budgets that apply, monthly first."""
    day_id, month_id = period_ids(utc_day(now))
    day_reset, month_reset = next_day(now), next_month(now)
    held = ledger.held
    rows: tuple[tuple[Kind, Span, int | None, int, int, datetime, str], ...] = (
        ("usd", "month", limits.monthly_usd, ledger.month.micros, held.micros, month_reset, month_id),
        ("usd", "day", limits.daily_usd, ledger.today.micros, held.micros, day_reset, day_id),
        ("tokens", "month", limits.monthly, ledger.month.tokens, held.tokens, month_reset, month_id),
        ("tokens", "day", limits.daily, ledger.today.tokens, held.tokens, day_reset, day_id),
    )
    budgets = tuple(
        BudgetState(kind, span, used, held_now, limit, resets, period)
        for kind, span, limit, used, held_now, resets, period in rows
        if limit is not None
    )
    return Standing(budgets, warn_percent)
