"""What a person is told of their standing (`bridge.gateway.usage.standing`) and rate limits: headers on every
answer, the 429 when a budget is spent or a rate limit reached, the warning line of the log.

Headers (API Management style), for each budget that applies:

    x-bridge-budget-remaining-usd-day      dollars left today (two decimals, rounded down), before this request
    x-bridge-budget-remaining-usd-month    ... this month
    x-bridge-budget-remaining-tokens-day   tokens left today
    x-bridge-budget-remaining-tokens-month
    x-bridge-budget-reset-day              when the day's budgets start again (ISO 8601, UTC)
    x-bridge-budget-reset-month
    x-bridge-budget-warning                past BUDGET_WARN_PERCENT: `usd-day 85%, tokens-month 91%`

Refusals are 429 `rate_limit_error` in the client's error shape (a spent dollar budget: `billing_error`, with
Claude Code's spend-limit headers, `bridge.gateway.usage.spend_limit`):

    a budget spent       names it (daily dollars, monthly tokens...), what was used of how much, when it resets;
                         retry-after: the seconds until then, x-should-retry: false (retrying cannot help)
    held by running      only the person's requests still running hold the rest: retryable, retry-after 5
      requests
    a rate limit         requests or tokens per minute: retryable, retry-after the seconds until the estimate of
                         the last minute falls below the limit (no x-should-retry: false: worth retrying)
"""

from __future__ import annotations

import math
from datetime import datetime

from bridge.errors import NO_RETRY, BridgeError
from bridge.gateway.clock import iso_utc
from bridge.gateway.pricing.price import MICROS_PER_USD
from bridge.gateway.usage.spend_limit import cap_reached
from bridge.gateway.usage.standing import BudgetState, Standing

HEADER_PREFIX = "x-bridge-budget-"
WARNING_HEADER = HEADER_PREFIX + "warning"
HELD_RETRY_AFTER_SECONDS = 5
_SPANS = {"day": ("Daily", "today"), "month": ("Monthly", "this month")}
_KINDS = {"usd": "dollar", "tokens": "token"}


def amount(kind: str, value: int) -> str:
    """`$12.34` (micro-dollars, to the cent, rounded down) or `1,234 tokens`."""
    if kind == "usd":
        cents = math.floor(value / (MICROS_PER_USD // 100))
        return f"${cents // 100:,}.{cents % 100:02d}"
    return f"{value:,} tokens"


def _remaining(budget: BudgetState) -> str:
    if budget.kind == "usd":
        return amount("usd", budget.remaining)[1:].replace(",", "")
    return str(budget.remaining)


def budget_headers(standing: Standing) -> dict[str, str]:
    headers: dict[str, str] = {}
    for budget in standing.budgets:
        headers[f"{HEADER_PREFIX}remaining-{budget.key}"] = _remaining(budget)
        headers[f"{HEADER_PREFIX}reset-{budget.span}"] = iso_utc(budget.resets_at)
    if standing.warnings:
        headers[WARNING_HEADER] = ", ".join(f"{b.key} {math.floor(b.percent)}%" for b in standing.warnings)
    return headers


def label(budget: BudgetState) -> str:
    """`Daily dollar budget`, `Monthly token budget`, ..."""
    return f"{_SPANS[budget.span][0]} {_KINDS[budget.kind]} budget"


def _of(budget: BudgetState) -> str:
    """`$1.38 of $1.00`, `1,234 of 1,000 tokens`."""
    if budget.kind == "usd":
        return f"{amount('usd', budget.used)} of {amount('usd', budget.limit)}"
    return f"{budget.used:,} of {amount('tokens', budget.limit)}"


def spent(standing: Standing, budget: BudgetState, now: datetime) -> BridgeError:
    """The 429 of a spent budget: for a dollar budget, the `billing_error` Claude Code shows as its spend limit
    (`bridge.gateway.usage.spend_limit`)."""
    message = (
        f"{label(budget)} used up: {_of(budget)} {_SPANS[budget.span][1]} (UTC). It resets at "
        f"{budget.resets_at:%Y-%m-%d %H:%M} UTC; ask your administrator for a larger budget if you need one."
    )
    if budget.kind == "usd":
        return cap_reached(budget, now, message, budget_headers(standing))
    wait = max(1, math.ceil((budget.resets_at - now).total_seconds()))
    return BridgeError("rate_limit_error", message, {**budget_headers(standing), **NO_RETRY, "retry-after": str(wait)})


def held(standing: Standing, budget: BudgetState) -> BridgeError:
    held_now = amount(budget.kind, budget.held) if budget.kind == "usd" else f"{budget.held:,}"
    return BridgeError(
        "rate_limit_error",
        f"{label(budget)}: {_of(budget)} used {_SPANS[budget.span][1]} (UTC), and {held_now} more held by your "
        "requests still running, which is all that is left: try again when they finish.",
        {**budget_headers(standing), "retry-after": str(HELD_RETRY_AFTER_SECONDS)},
    )


def rate_limited(what: str, limit: int, setting: str, wait: int) -> BridgeError:
    return BridgeError(
        "rate_limit_error",
        f"Rate limit: {limit:,} {what} a minute per person ({setting}), reached by your requests of the last minute: "
        f"try again in {wait} s.",
        {"retry-after": str(wait)},
    )


def warning_line(user: str, budget: BudgetState) -> str:
    """The log line for a person passing the warning threshold of a budget (once per person and period)."""
    return (
        f"budget warning: {user} has used {math.floor(budget.percent)}% of their {label(budget).lower()} "
        f"({_of(budget)} for {budget.period}); it resets at {iso_utc(budget.resets_at)}"
    )
