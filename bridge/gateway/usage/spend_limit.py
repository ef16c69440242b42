"""A person's dollar budgets as Claude Code shows a spend limit (its gateway protocol, "Usage-limit headers"):
the `anthropic-ratelimit-unified-*` headers on every answer, the 429 `billing_error` at the cap, and the body of
`GET /api/oauth/usage`.  Pure: a standing in (`bridge.gateway.usage.standing`), headers and bodies out.

Only dollar budgets are a spend limit (token budgets keep their own headers and 429).  When several apply, the
one described is the fullest, or once one is spent the spent one that resets last.

    standing                        header / field                                     value
    the budget described            anthropic-ratelimit-unified-status                 allowed; allowed_warning past 75%;
                                                                                        rejected at the cap (429)
                                    -representative-claim, -overage-status              overage, the status (not on the 429:
                                                                                        the client would drop our message)
                                    -overage-utilization                                used / limit, two decimals rounded
                                                                                        down (below 1 while allowed)
                                    -overage-surpassed-threshold                        0.75 or 0.95 once past it (what makes
                                                                                        the client warn); 1 on the 429
                                    -reset, -overage-reset                              its reset, Unix seconds
                                    -overage-period                                     daily (span day), monthly (span month)
                                    -overage-disabled-reason (429 only)                 org_spend_cap_reached
    the 429                         retry-after, x-should-retry                        seconds to the reset, false
    /api/oauth/usage, a cap         extra_usage {is_enabled, monthly_limit,            the described budget: cents rounded
                                    used_credits, utilization, currency}               down, whole percent, "USD"
                                    limits [{kind, group, percent, resets_at,          one row per dollar budget; resets_at
                                    severity, is_active}]                              ISO 8601 with milliseconds, the same
                                                                                        second as its reset header; severity
                                                                                        normal, warning (75%), critical (95%)
    /api/oauth/usage, no cap        extra_usage {monthly_limit: null,                  what was spent this UTC month, day,
                                    used_credits, daily, weekly}, limits []            and week from Monday, in cents
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.errors import NO_RETRY, BridgeError
from bridge.gateway.pricing.price import MICROS_PER_USD
from bridge.gateway.usage.standing import BudgetState, Standing

PREFIX = "anthropic-ratelimit-unified-"
WARN_THRESHOLDS = (95, 75)
"""The percents past which Claude Code warns ("You've used NN% of your usage credits"), highest first."""
PERIODS = {"day": "daily", "month": "monthly"}
MICROS_PER_CENT = MICROS_PER_USD // 100
CAP_REACHED = "org_spend_cap_reached"


@dataclass(frozen=True, slots=True)
class Spent:
    """What a person spent, in micro-dollars: this UTC day, week from Monday and month (for a person with no cap)."""

    day: int = 0
    week: int = 0
    month: int = 0


def hundredths(budget: BudgetState) -> int:
    """The share of the budget used, in hundredths rounded down (a zero budget is all used)."""
    return budget.used * 100 // budget.limit if budget.limit > 0 else 100


def described(standing: Standing) -> BudgetState | None:
    """The dollar budget Claude Code is told of: the spent one that resets last, else the fullest; None: no cap."""
    dollars = [b for b in standing.budgets if b.kind == "usd"]
    spent = [b for b in dollars if b.spent]
    if spent:
        return max(spent, key=lambda b: b.resets_at)
    return max(dollars, key=lambda b: (hundredths(b), b.resets_at), default=None)


def _fraction(hundredths: int) -> str:
    """0.77, 1.12, 1, 0: two decimals at most, as the capture shows them."""
    whole, part = divmod(hundredths, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") if part else str(whole)


def _threshold(percent: int) -> int | None:
    """The highest warning threshold `percent` has passed (at 95% exactly, that is 75%, as the reference sends)."""
    return next((t for t in WARN_THRESHOLDS if percent > t), None)


def _reset(budget: BudgetState) -> str:
    return str(int(budget.resets_at.timestamp()))


def unified_headers(standing: Standing) -> dict[str, str]:
    """The headers of an answer the person was allowed (none when no dollar budget applies to them)."""
    budget = described(standing)
    if budget is None:
        return {}
    percent = hundredths(budget)
    threshold = _threshold(percent)
    status = "allowed" if threshold is None else "allowed_warning"
    headers = {
        f"{PREFIX}status": status,
        f"{PREFIX}representative-claim": "overage",
        f"{PREFIX}overage-status": status,
        f"{PREFIX}overage-utilization": _fraction(percent),
        f"{PREFIX}reset": _reset(budget),
        f"{PREFIX}overage-reset": _reset(budget),
        f"{PREFIX}overage-period": PERIODS[budget.span],
    }
    if threshold is not None:
        headers[f"{PREFIX}overage-surpassed-threshold"] = _fraction(threshold)
    return headers


def cap_reached(budget: BudgetState, now: datetime, message: str, headers: dict[str, str]) -> BridgeError:
    """The 429 `billing_error` for a spent dollar budget (`message` and `headers`: what every client is told, from
    `bridge.gateway.usage.notices`): Claude Code prints the message as it is, at once."""
    wait = max(1, math.ceil((budget.resets_at - now).total_seconds()))
    unified = {
        f"{PREFIX}status": "rejected",
        f"{PREFIX}reset": _reset(budget),
        f"{PREFIX}overage-reset": _reset(budget),
        f"{PREFIX}overage-utilization": _fraction(hundredths(budget)),
        f"{PREFIX}overage-surpassed-threshold": "1",
        f"{PREFIX}overage-period": PERIODS[budget.span],
        f"{PREFIX}overage-disabled-reason": CAP_REACHED,
    }
    return BridgeError("billing_error", message, {**headers, **unified, "retry-after": str(wait), **NO_RETRY})


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _severity(percent: int) -> str:
    threshold = _threshold(percent)
    return "normal" if threshold is None else "warning" if threshold < max(WARN_THRESHOLDS) else "critical"


def _cents(micros: int) -> int:
    return micros // MICROS_PER_CENT


def usage_page(standing: Standing, spent: Spent) -> dict[str, Any]:
    """The body of `GET /api/oauth/usage` for the person (`spent` is read only when no dollar budget applies)."""
    budget = described(standing)
    if budget is None:
        return {
            "extra_usage": {
                "is_enabled": True,
                "monthly_limit": None,
                "used_credits": _cents(spent.month),
                "utilization": None,
                "currency": "USD",
                "daily": {"limit": None, "used_credits": _cents(spent.day), "utilization": None},
                "weekly": {"limit": None, "used_credits": _cents(spent.week), "utilization": None},
            },
            "limits": [],
        }
    limits = [
        {
            "kind": "spend",
            "group": PERIODS[b.span],
            "percent": hundredths(b),
            "resets_at": _iso_ms(b.resets_at),
            "severity": _severity(hundredths(b)),
            "is_active": b is budget,
        }
        for b in standing.budgets
        if b.kind == "usd"
    ]
    return {
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": _cents(budget.limit),
            "used_credits": _cents(budget.used),
            "utilization": hundredths(budget),
            "currency": "USD",
        },
        "limits": limits,
    }
