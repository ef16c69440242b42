"""The spend limit where Claude Code shows it (issue 22, item 1): a person's dollar budgets rendered as the
gateway protocol's `anthropic-ratelimit-unified-*` headers, its 429 `billing_error` and `GET /api/oauth/usage`,
held value by value to the recorded session (../shared/claude-gateway-protocol/2.1.332/client-session.md: a
$0.10 daily cap at 73%, 77%, 95%, then 112%).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.errors import BridgeError
from bridge.gateway.usage.spend_limit import Spent, cap_reached, described, unified_headers, usage_page
from tests.support.gateway_protocol import captured_headers, captured_json, recorded

MICROS = 1_000_000
RESET = datetime(2026, 12, 7, tzinfo=UTC)
"""1796601600, the capture's reset."""
NOW = datetime.fromtimestamp(1796601600 - 53726, UTC)
"""When the capture's 429 was sent (its retry-after: 53726)."""
CAP = MICROS // 10
"""$0.10, the capture's daily cap."""


@dataclass(frozen=True)
class Budget:
    kind: str
    span: str
    used: int
    limit: int
    resets_at: datetime


@dataclass(frozen=True)
class Standing:
    budgets: tuple[Budget, ...]


def daily(used: float, *also: Budget) -> Standing:
    return Standing((Budget("usd", "day", round(used * MICROS), CAP, RESET), *also))


def test_at_73_percent_the_answer_is_allowed_without_a_threshold() -> None:
    headers = unified_headers(daily(0.073))
    assert headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert headers["anthropic-ratelimit-unified-overage-utilization"] == "0.73"
    assert "anthropic-ratelimit-unified-overage-surpassed-threshold" not in headers


def test_past_75_percent_the_client_is_told_to_warn() -> None:
    headers = unified_headers(daily(0.0775))
    assert headers == {
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-representative-claim": "overage",
        "anthropic-ratelimit-unified-overage-status": "allowed_warning",
        "anthropic-ratelimit-unified-overage-utilization": "0.77",
        "anthropic-ratelimit-unified-overage-surpassed-threshold": "0.75",
        "anthropic-ratelimit-unified-reset": "1796601600",
        "anthropic-ratelimit-unified-overage-reset": "1796601600",
        "anthropic-ratelimit-unified-overage-period": "daily",
    }
    session = recorded("client-session.md")
    assert "`status: allowed_warning`, `overage-utilization: 0.77`, `overage-surpassed-threshold: 0.75`" in session


def test_at_95_percent_exactly_the_threshold_is_still_75_as_recorded_and_past_it_95() -> None:
    assert "Prompt 2: utilization 0.95, threshold 0.75." in recorded("client-session.md")
    at = unified_headers(daily(0.095))
    assert at["anthropic-ratelimit-unified-overage-utilization"] == "0.95"
    assert at["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.75"
    past = unified_headers(daily(0.0999))
    assert past["anthropic-ratelimit-unified-overage-utilization"] == "0.99"
    assert past["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.95"


def test_no_dollar_budget_means_no_header() -> None:
    assert unified_headers(Standing(())) == {}
    assert unified_headers(Standing((Budget("tokens", "day", 900, 1000, RESET),))) == {}


def test_the_fullest_budget_is_described_and_once_spent_the_one_resetting_last() -> None:
    month_reset = datetime(2027, 1, 1, tzinfo=UTC)
    month = Budget("usd", "month", 80 * MICROS, 100 * MICROS, month_reset)
    assert described(daily(0.01, month)) is month
    headers = unified_headers(daily(0.01, month))
    assert headers["anthropic-ratelimit-unified-overage-period"] == "monthly"
    assert headers["anthropic-ratelimit-unified-overage-reset"] == str(int(month_reset.timestamp()))
    spent_month = Budget("usd", "month", 100 * MICROS, 100 * MICROS, month_reset)
    assert described(daily(0.2, spent_month)) is spent_month


def test_the_cap_is_the_recorded_429() -> None:
    standing = daily(0.112)
    budget = described(standing)
    assert budget is not None
    error = cap_reached(budget, NOW)
    assert isinstance(error, BridgeError) and error.status == 429 and error.kind == "billing_error"
    recorded_headers = captured_headers("HTTP/1.1 429\nanthropic-ratelimit-unified-status")
    assert error.headers == recorded_headers
    assert "representative-claim" not in str(error.headers), "with it the client drops the message for its own"
    assert error.message.startswith("spend limit reached") and "resets Dec 7" in error.message
    assert "$0.11 of $0.10 today" in error.message


def test_the_usage_page_is_the_recorded_one() -> None:
    recorded_page = captured_json("| 65 | `GET /api/oauth/usage`")
    assert usage_page(daily(0.0775), Spent()) == recorded_page
    over = usage_page(daily(0.112), Spent())
    assert over["extra_usage"]["used_credits"] == 11 and over["extra_usage"]["utilization"] == 112
    assert over["limits"][0]["severity"] == "critical"
    assert "`used_credits 11, utilization 112, severity critical`" in recorded("client-session.md")


def test_the_usage_page_pairs_with_the_headers_to_the_second() -> None:
    standing = daily(0.05)
    page = usage_page(standing, Spent())
    resets = datetime.strptime(page["limits"][0]["resets_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert str(int(resets.timestamp())) == unified_headers(standing)["anthropic-ratelimit-unified-overage-reset"]


def test_every_dollar_budget_is_a_row_and_the_described_one_is_active() -> None:
    month = Budget("usd", "month", 54 * MICROS, 100 * MICROS, datetime(2027, 1, 1, tzinfo=UTC))
    page = usage_page(daily(0.01, month, Budget("tokens", "day", 1, 2, RESET)), Spent())
    assert [(row["group"], row["percent"], row["is_active"], row["severity"]) for row in page["limits"]] == [
        ("daily", 10, False, "normal"),
        ("monthly", 54, True, "normal"),
    ]
    assert page["extra_usage"] == {
        "is_enabled": True,
        "monthly_limit": 10000,
        "used_credits": 5400,
        "utilization": 54,
        "currency": "USD",
    }


def test_a_person_without_a_cap_sees_their_spend_of_the_month_day_and_week() -> None:
    page = usage_page(Standing(()), Spent(day=12_400_000, week=40_000_000, month=271_400_000))
    assert page["limits"] == []
    extra = page["extra_usage"]
    assert extra["monthly_limit"] is None and extra["utilization"] is None and extra["used_credits"] == 27140
    assert extra["daily"] == {"limit": None, "used_credits": 1240, "utilization": None}
    assert extra["weekly"] == {"limit": None, "used_credits": 4000, "utilization": None}
    assert '`daily` is `{"limit": null, "used_credits": 1240, "utilization": null}`' in recorded("protocol.md")
