"""What GET /v1/usage answers (a person's own usage, or anyone's for an administrator) and the month's chargeback
export (GET /v1/usage/export), from the usage rows and the ledger.

    GET /v1/usage             {"user": {id, name},
                               "today": {date, <counts>, limit, remaining (tokens), limit_usd, remaining_usd,
                                         resets_at, "models": {deployment: <counts>},
                                         "agents": {"main": <counts>, "subagents": <counts>}},
                               "month": {month, ... the same},
                               "budgets": [{budget: usd-day, kind, period, used, limit, remaining, percent,
                                            resets_at}, ...],
                               "warning": "usd-day 85%" or null}
    <counts>                  input_tokens (not cached), cached_input_tokens, output_tokens, total_tokens, requests,
                              cost_usd (of the priced requests), unpriced_requests (when some had no price: their
                              cost is unknown, not $0)

Dollar amounts are dollars with six decimals (exact: they are whole micro-dollars).  "Subagents" are Claude Code's
requests sent with `x-claude-code-agent-id`.  An administrator reading someone else's usage sees the limits that
applied at that person's last request (the ledger keeps them): their app roles and groups are known only when they
call.

    GET /v1/usage/export      text/csv, one row per person, deployment and agent over the month: month, user_id,
                              user_name, roles, deployment, agent, requests, input_tokens, cached_input_tokens,
                              output_tokens, total_tokens, cost_usd, unpriced_requests

A cell a spreadsheet would take for a formula (starting with =, +, -, @, a tab or a carriage return: a display name
is the person's to choose) is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bridge.gateway.clock import iso_utc
from bridge.gateway.pricing.price import MICROS_PER_USD, usd
from bridge.gateway.usage.budget import Budget
from bridge.gateway.usage.ledger import Ledger
from bridge.gateway.usage.limits import Limits
from bridge.gateway.usage.notices import WARNING_HEADER, budget_headers
from bridge.gateway.usage.periods import next_day, next_month, utc_day
from bridge.gateway.usage.standing import Span, Standing
from bridge.gateway.usage.store import Counts, DayUsage, UsageRow

AGENTS = {"main": "main", "subagent": "subagents"}
COLUMNS = (
    "month",
    "user_id",
    "user_name",
    "roles",
    "deployment",
    "agent",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def counts_json(counts: Counts) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "input_tokens": counts.input - counts.cached,
        "cached_input_tokens": counts.cached,
        "output_tokens": counts.output,
        "total_tokens": counts.total,
        "requests": counts.requests,
        "cost_usd": usd(counts.micros),
    }
    if counts.unpriced:
        shown["unpriced_requests"] = counts.unpriced
    return shown


def _breakdown(rows: Iterable[DayUsage]) -> tuple[Counts, dict[str, Counts], dict[str, Counts]]:
    total = Counts()
    models: defaultdict[str, Counts] = defaultdict(Counts)
    agents: dict[str, Counts] = {name: Counts() for name in AGENTS.values()}
    for row in rows:
        total += row.counts
        models[row.model] += row.counts
        agents[AGENTS[row.agent]] += row.counts
    return total, models, agents


def _period(rows: Iterable[DayUsage], standing: Standing, span: Span, resets: datetime) -> dict[str, Any]:
    total, models, agents = _breakdown(rows)
    budgets = {(b.kind, b.span): b for b in standing.budgets}
    tokens, dollars = budgets.get(("tokens", span)), budgets.get(("usd", span))
    return {
        **counts_json(total),
        "limit": tokens.limit if tokens is not None else None,
        "remaining": tokens.remaining if tokens is not None else None,
        "limit_usd": usd(dollars.limit) if dollars is not None else None,
        "remaining_usd": usd(dollars.remaining) if dollars is not None else None,
        "resets_at": iso_utc(resets),
        "models": {model: counts_json(counts) for model, counts in sorted(models.items())},
        "agents": {name: counts_json(counts) for name, counts in agents.items()},
    }


def _budgets(standing: Standing) -> list[dict[str, Any]]:
    def value(kind: str, amount: int) -> float | int:
        return usd(amount) if kind == "usd" else amount

    return [
        {
            "budget": b.key,
            "kind": b.kind,
            "period": b.span,
            "used": value(b.kind, b.used),
            "limit": value(b.kind, b.limit),
            "remaining": value(b.kind, b.remaining),
            "percent": round(b.percent, 1),
            "resets_at": iso_utc(b.resets_at),
        }
        for b in standing.budgets
    ]


def usage_report(user: dict[str, str], now: datetime, standing: Standing, rows: list[DayUsage]) -> dict[str, Any]:
    today = utc_day(now)
    return {
        "user": user,
        "today": {"date": today.isoformat(), **_period((r for r in rows if r.day == today), standing, "day", next_day(now))},
        "month": {"month": f"{today.year:04d}-{today.month:02d}", **_period(rows, standing, "month", next_month(now))},
        "budgets": _budgets(standing),
        "warning": budget_headers(standing).get(WARNING_HEADER),
    }


async def report(budget: Budget, user_id: str, user_name: str, limits: Limits | None = None) -> dict[str, Any]:
    """The usage of `user_id` today and this month, with the budgets `limits` gives (None: the limits of their
    last request, as their ledger keeps them)."""
    now, ledger, rows = await budget.usage(user_id)
    standing = budget.standing(ledger, _limits(ledger, limits), now)
    return usage_report({"id": user_id, "name": user_name}, now, standing, rows)


def _limits(ledger: Ledger, limits: Limits | None) -> Limits:
    if limits is not None:
        return limits
    return ledger.limits if ledger.limits is not None else Limits()


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def chargeback_csv(month: date, rows: Iterable[UsageRow]) -> str:
    """The month's rows of everyone, summed per person, deployment and agent, as CSV."""
    summed: dict[tuple[str, str, str], Counts] = defaultdict(Counts)
    seen: dict[str, tuple[str, str]] = {}
    for row in rows:
        summed[row.user_id, row.usage.model, row.usage.agent] += row.usage.counts
        seen[row.user_id] = (row.user_name, row.roles)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    period = f"{month.year:04d}-{month.month:02d}"
    for (user_id, model, agent), counts in sorted(summed.items()):
        name, roles = seen[user_id]
        writer.writerow(
            [
                period,
                _cell(user_id),
                _cell(name),
                _cell(roles),
                _cell(model),
                agent,
                counts.requests,
                counts.input - counts.cached,
                counts.cached,
                counts.output,
                counts.total,
                f"{Decimal(counts.micros) / MICROS_PER_USD:.6f}",
                counts.unpriced,
            ]
        )
    return out.getvalue()
