"""Budgets: the overrides setting, limits per caller, refusals with usage, limit and reset, resets at UTC boundaries."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bridge.config.kinds import parse_token_count
from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller, shared_token_caller
from bridge.gateway.tables import TableService
from bridge.gateway.usage.budget import HOLD_GRACE_SECONDS, Admission, Budget, Spending
from bridge.gateway.usage.charge import OUTPUT_HOLD_CAP, allowance, estimated
from bridge.gateway.usage.ledger import Amount, Hold, Ledger
from bridge.gateway.usage.limits import BudgetConfig, Override, parse_overrides
from bridge.gateway.usage.notices import HELD_RETRY_AFTER_SECONDS, budget_headers
from bridge.gateway.usage.report import report
from bridge.gateway.usage.store import Counts, DayUsage, MemoryUsageStore, UsageStore
from bridge.gateway.usage.table_store import TableUsageStore
from bridge.gateway.usage.window import Window
from bridge.model import Message, Request, TextDelta, TextPart, ToolCallDelta, ToolCallStart, Usage
from bridge.upstreams.stream import KEPT_CHARS, Received
from tests.support.azurite import Azurite, FreshTable, requires_azurite
from tests.support.stores import UsageStores

pytestmark = pytest.mark.anyio

LEADS = "6d1f0c9e-2222-4bbb-9ccc-0123456789ab"
INTERNS = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ALICE = Caller("0c5e4f3a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "alice@contoso.example", "entra", roles=frozenset({"Bridge.Lead"}))
BOB = Caller("7a8b9c0d-1e2f-4a5b-9c6d-7e8f9a0b1c2d", "bob@contoso.example", "entra")
CAROL = Caller("5f5f5f5f-1e2f-4a5b-9c6d-7e8f9a0b1c2d", "carol@contoso.example", "key", groups=frozenset({LEADS.upper()}))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def record(budget: Budget, caller: Caller, model: str, input_tokens: int, output_tokens: int) -> None:
    """A finished request that held nothing: `input_tokens` (cached included) and `output_tokens`, no price."""
    await budget.record(Spending(caller, model), Counts(input_tokens, 0, output_tokens, 1, unpriced=1))


async def admit(budget: Budget, caller: Caller, tokens: int = 0, lifetime: float = 60, micros: int = 0) -> Admission | None:
    return await budget.admit(caller, Amount(tokens, micros), lifetime)


async def report_of(budget: Budget, caller: Caller) -> dict[str, Any]:
    return await report(budget, caller.user_id, caller.name, budget.limits(caller))


def budget(daily: int | None = None, monthly: int | None = None, overrides: str = "", *, at: datetime) -> tuple[Budget, Clock]:
    parsed, problems = parse_overrides(overrides)
    assert problems == []
    clock = Clock(at)
    return Budget(BudgetConfig(daily, monthly, parsed), MemoryUsageStore(), clock=clock), clock


async def over(budget: Budget, caller: Caller, kind: str = "rate_limit_error") -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await admit(budget, caller)
    assert caught.value.kind == kind and caught.value.status == 429
    assert caught.value.headers["x-should-retry"] == "false" and int(caught.value.headers["retry-after"]) > 0
    return caught.value


@pytest.mark.parametrize(
    ("raw", "count"),
    [("2000000", 2_000_000), ("2M", 2_000_000), ("500k", 500_000), ("1_000_000", 1_000_000), ("3g", 3 * 10**9), ("0", 0)],
)
def test_token_counts(raw: str, count: int) -> None:
    assert parse_token_count(raw) == count


@pytest.mark.parametrize("raw", ["", "-5", "1.5M", "2MB", "lots", "1e6"])
def test_bad_token_counts(raw: str) -> None:
    with pytest.raises(ValueError, match="must be a token count"):
        parse_token_count(raw)


def test_unlimited_is_no_limit() -> None:
    assert parse_token_count("Unlimited") is None


def test_the_overrides_setting() -> None:
    overrides, problems = parse_overrides(
        f" role:Bridge.Lead=daily:2M,monthly:40M ; group:{LEADS}=daily:unlimited;role:Bridge.Intern=monthly:0;"
    )
    assert problems == []
    assert overrides == (
        Override("role", "Bridge.Lead", {"daily": 2_000_000, "monthly": 40_000_000}),
        Override("group", LEADS, {"daily": None}),
        Override("role", "Bridge.Intern", {"monthly": 0}),
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("Bridge.Lead=daily:5", "must look like role:<app role>"),
        ("role:=daily:5", "must look like role:<app role>"),
        ("user:alice=daily:5", "must look like role:<app role>"),
        ("role:Bridge.Lead", "must look like role:<app role>"),
        ("group:Leads=daily:5", "groups are named by their object id"),
        ("role:Bridge.Lead=weekly:5", "'weekly:5' must be daily:<n>, monthly:<n>, daily_usd:<usd> or monthly_usd:<usd>"),
        ("role:Bridge.Lead=daily_usd:lots", "daily_usd must be an amount of US dollars (such as 20 or 12.50)"),
        (
            "role:Bridge.Lead=daily:lots",
            "daily must be a token count (a whole number such as 2000000 or 2M, or 'unlimited'), got 'lots'",
        ),
    ],
)
def test_what_is_wrong_with_the_overrides_is_said_never_raised(raw: str, problem: str) -> None:
    overrides, problems = parse_overrides(raw + ";role:Fine=daily:1")
    assert overrides[-1] == Override("role", "Fine", {"daily": 1})
    assert len(problems) == 1 and problems[0].startswith("BUDGET_OVERRIDES: ") and problem in problems[0]


def test_the_most_generous_matching_override_wins() -> None:
    overrides, _ = parse_overrides(
        f"role:Bridge.Lead=daily:2M;group:{LEADS}=daily:3M,monthly:50M;group:{INTERNS}=daily:0;role:Big=monthly:unlimited"
    )
    config = BudgetConfig(1000, 20_000, overrides)
    assert (config.limit(BOB, "daily"), config.limit(BOB, "monthly")) == (1000, 20_000)
    assert (config.limit(ALICE, "daily"), config.limit(ALICE, "monthly")) == (2_000_000, 20_000)
    assert (config.limit(CAROL, "daily"), config.limit(CAROL, "monthly")) == (3_000_000, 50_000_000)
    both = Caller("x", "x", "entra", roles=frozenset({"Bridge.Lead", "Big"}), groups=frozenset({LEADS, INTERNS}))
    assert (config.limit(both, "daily"), config.limit(both, "monthly")) == (3_000_000, None)
    intern = Caller("y", "y", "entra", groups=frozenset({INTERNS}))
    assert config.limit(intern, "daily") == 0


async def test_under_the_limit_passes_and_at_it_is_refused() -> None:
    limits, _ = budget(daily=10_000, at=datetime(2025, 3, 14, 15, 45, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 6_000, 3_999)
    await admit(limits, ALICE, 0, 60)
    await record(limits, ALICE, "gpt-5-mini", 1, 0)
    error = await over(limits, ALICE)
    assert error.message.startswith("Daily token budget used up: 10,000 of 10,000 tokens today (UTC).")
    assert "It resets at 2025-03-15 00:00 UTC" in error.message
    await admit(limits, BOB, 0, 60)


async def test_a_request_overshoots_by_its_own_size_only() -> None:
    limits, _ = budget(daily=10_000, at=datetime(2025, 3, 14, 15, 45, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 9_999, 0)
    await admit(limits, ALICE, 0, 60)
    await record(limits, ALICE, "gpt-5", 50_000, 2_000)
    assert "61,999 of 10,000 tokens today" in (await over(limits, ALICE)).message


async def test_the_daily_budget_starts_again_at_midnight_utc() -> None:
    limits, clock = budget(daily=1000, monthly=5000, at=datetime(2025, 3, 14, 23, 59, 59, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 800, 200)
    await over(limits, ALICE)
    clock.now = datetime(2025, 3, 15, 0, 0, tzinfo=UTC)
    await admit(limits, ALICE, 0, 60)
    report = await report_of(limits, ALICE)
    assert (report["today"]["total_tokens"], report["month"]["total_tokens"]) == (0, 1000)


async def test_the_monthly_budget_starts_again_on_the_first() -> None:
    limits, clock = budget(daily=10**6, monthly=3000, at=datetime(2025, 12, 30, 12, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 2000, 0)
    clock.now += timedelta(days=1)
    await record(limits, ALICE, "gpt-5", 1000, 0)
    error = await over(limits, ALICE)
    assert "Monthly token budget used up: 3,000 of 3,000 tokens this month (UTC)" in error.message
    assert "It resets at 2026-01-01 00:00 UTC" in error.message
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    await admit(limits, ALICE, 0, 60)


async def test_when_both_are_used_up_the_later_reset_is_named() -> None:
    limits, _ = budget(daily=100, monthly=100, at=datetime(2025, 2, 10, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 100, 0)
    assert "resets at 2025-03-01 00:00 UTC" in (await over(limits, ALICE)).message


async def test_a_bigger_budget_through_an_override() -> None:
    limits, _ = budget(daily=1000, overrides=f"group:{LEADS}=daily:5k", at=datetime(2025, 3, 14, tzinfo=UTC))
    for caller in (BOB, CAROL):
        await record(limits, caller, "gpt-5", 1000, 0)
    await over(limits, BOB)
    await admit(limits, CAROL, 0, 60)


async def test_a_zero_budget_refuses_from_the_start() -> None:
    limits, _ = budget(overrides=f"group:{INTERNS}=daily:0", at=datetime(2025, 3, 14, tzinfo=UTC))
    intern = Caller("y", "y", "entra", groups=frozenset({INTERNS}))
    assert "0 of 0 tokens today" in (await over(limits, intern)).message
    await admit(limits, BOB, 0, 60)


class CountingStore(MemoryUsageStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        self.reads += 1
        return await super().month(user_id, day)


async def test_without_limits_a_check_reads_nothing() -> None:
    store = CountingStore()
    unlimited = Budget(BudgetConfig(None, None, parse_overrides(f"group:{LEADS}=daily:unlimited")[0]), store)
    await admit(unlimited, ALICE, 0, 60)
    assert store.reads == 0
    limited_for_interns = Budget(BudgetConfig(overrides=parse_overrides(f"group:{INTERNS}=daily:5")[0]), store)
    await admit(limited_for_interns, ALICE, 0, 60)
    assert store.reads == 0
    await admit(limited_for_interns, Caller("y", "y", "entra", groups=frozenset({INTERNS})))
    assert store.reads == 1


async def test_the_usage_report() -> None:
    limits, clock = budget(daily=100_000, monthly=1_000_000, at=datetime(2025, 3, 2, 8, tzinfo=UTC))
    await record(limits, ALICE, "gpt-5", 1000, 100)
    clock.now += timedelta(days=1)
    await record(limits, ALICE, "gpt-5", 2000, 200)
    await limits.record(Spending(ALICE, "gpt-5-mini", "subagent"), Counts(300, 100, 30, 1, 1234))
    await record(limits, BOB, "gpt-5", 99, 9)

    def counts(input_tokens: int, cached: int, output: int, requests: int, cost: float, unpriced: int) -> dict[str, Any]:
        shown = {
            "input_tokens": input_tokens,
            "cached_input_tokens": cached,
            "output_tokens": output,
            "total_tokens": input_tokens + cached + output,
            "requests": requests,
            "cost_usd": cost,
        }
        return {**shown, "unpriced_requests": unpriced} if unpriced else shown

    assert await report_of(limits, ALICE) == {
        "user": {"id": ALICE.user_id, "name": ALICE.name},
        "today": {
            "date": "2025-03-03",
            **counts(2200, 100, 230, 2, 0.001234, 1),
            "limit": 100_000,
            "remaining": 97_470,
            "limit_usd": None,
            "remaining_usd": None,
            "resets_at": "2025-03-04T00:00:00Z",
            "models": {"gpt-5": counts(2000, 0, 200, 1, 0, 1), "gpt-5-mini": counts(200, 100, 30, 1, 0.001234, 0)},
            "agents": {"main": counts(2000, 0, 200, 1, 0, 1), "subagents": counts(200, 100, 30, 1, 0.001234, 0)},
        },
        "month": {
            "month": "2025-03",
            **counts(3200, 100, 330, 3, 0.001234, 2),
            "limit": 1_000_000,
            "remaining": 996_370,
            "limit_usd": None,
            "remaining_usd": None,
            "resets_at": "2025-04-01T00:00:00Z",
            "models": {"gpt-5": counts(3000, 0, 300, 2, 0, 2), "gpt-5-mini": counts(200, 100, 30, 1, 0.001234, 0)},
            "agents": {"main": counts(3000, 0, 300, 2, 0, 2), "subagents": counts(200, 100, 30, 1, 0.001234, 0)},
        },
        "budgets": [
            {
                "budget": "tokens-month",
                "kind": "tokens",
                "period": "month",
                "used": 3630,
                "limit": 1_000_000,
                "remaining": 996_370,
                "percent": 0.4,
                "resets_at": "2025-04-01T00:00:00Z",
            },
            {
                "budget": "tokens-day",
                "kind": "tokens",
                "period": "day",
                "used": 2530,
                "limit": 100_000,
                "remaining": 97_470,
                "percent": 2.5,
                "resets_at": "2025-03-04T00:00:00Z",
            },
        ],
        "warning": None,
    }


async def test_the_report_without_limits_and_over_them() -> None:
    limits, _ = budget(at=datetime(2025, 3, 2, tzinfo=UTC))
    report = await report_of(limits, shared_token_caller())
    assert report["today"]["limit"] is None and report["today"]["remaining"] is None
    assert report["month"]["models"] == {} and report["user"]["id"] == "shared-token"
    capped, _ = budget(daily=10, at=datetime(2025, 3, 2, tzinfo=UTC))
    await record(capped, BOB, "gpt-5", 50, 0)
    assert (await report_of(capped, BOB))["today"]["remaining"] == 0


class BrokenStore(MemoryUsageStore):
    async def add(self, *_: object) -> None:
        raise BridgeError("api_error", "Could not count the request's tokens (Azure Table 'bridgeusage'): down")


async def test_recording_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    limits = Budget(BudgetConfig(), BrokenStore())
    with caplog.at_level(logging.ERROR, logger="bridge.gateway.usage"):
        await record(limits, ALICE, "gpt-5", 10, 2)
    assert f"usage of {ALICE.user_id} not counted (10 input, 2 output tokens, 0 micro-dollars on gpt-5)" in caplog.text


@requires_azurite
async def test_two_instances_share_one_budget(azurite: Azurite) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    async with FreshTable(azurite, "usage") as table:
        here, there = (Budget(BudgetConfig(daily=10_000), TableUsageStore(table.open()), clock=clock) for _ in range(2))
        await record(here, ALICE, "gpt-5", 6000, 0)
        await admit(there, ALICE, 0, 60)
        await record(there, ALICE, "gpt-5", 4000, 0)
        assert "10,000 of 10,000" in (await over(here, ALICE)).message
        await admit(here, BOB, 0, 60)
        assert (await report_of(there, ALICE))["today"]["requests"] == 2


# ----- issue 18: requests in flight hold their allowance; overage; estimates --------------------------------------


def test_a_groups_overage_gets_the_most_restrictive_group_budget() -> None:
    overrides, _ = parse_overrides(f"group:{INTERNS}=daily:100;group:{LEADS}=daily:5M;role:Bridge.Lead=daily:unlimited")
    config = BudgetConfig(2_000_000, None, overrides)
    overage = Caller("z", "z", "entra", groups_overage=True)
    assert config.limit(overage, "daily") == 100, "any group override could be theirs: the most restrictive applies"
    assert config.limit(overage, "monthly") is None
    lead = Caller("z", "z", "entra", roles=frozenset({"Bridge.Lead"}), groups_overage=True)
    assert config.limit(lead, "daily") is None, "a role matched: a group could only raise the most generous"
    generous = BudgetConfig(1000, None, parse_overrides(f"group:{LEADS}=daily:unlimited")[0])
    assert generous.limit(overage, "daily") == 1000, "no group override is more restrictive than the default"


def test_a_request_holds_its_input_and_its_output_limit_up_to_the_cap() -> None:
    assert allowance(1000, 200) == Amount(1200)
    assert allowance(1000, 128_000) == Amount(1000 + OUTPUT_HOLD_CAP)
    assert allowance(1000, None) == Amount(1000 + OUTPUT_HOLD_CAP), "no max_tokens: the cap"


def test_the_ledger_rolls_over_and_lets_holds_expire() -> None:
    moment = datetime(2025, 3, 31, 23, 59, tzinfo=UTC)
    hold = Hold.until(Amount(500, 7), moment + timedelta(seconds=30))
    ledger = Ledger(moment.date(), Amount(900, 10), Amount(5000, 20)).holding(hold)
    assert ledger.held == Amount(500, 7) and hold.expires % 60 == 0
    assert hold.expires >= (moment + timedelta(seconds=30)).timestamp()
    rolled = ledger.at(moment)
    assert (rolled.day, rolled.today, rolled.month, rolled.holds) == (ledger.day, ledger.today, ledger.month, ledger.holds)
    next_month = ledger.at(moment + timedelta(minutes=1))
    assert (next_month.day, next_month.today, next_month.month, next_month.held) == (
        date(2025, 4, 1),
        Amount(),
        Amount(),
        Amount(),
    )
    settled = ledger.settled(hold, Amount(120, 3))
    assert (settled.today, settled.month, settled.held) == (Amount(1020, 13), Amount(5120, 23), Amount())
    assert ledger.settled(Hold(Amount(500), 1), Amount(120)).held == Amount(500, 7), "a hold already expired releases nothing"
    reconciled = ledger.reconciled(Amount(1500, 5), Amount(100, 30))
    assert (reconciled.today, reconciled.month) == (Amount(1500, 10), Amount(5000, 30))


def held_budget(store: UsageStore, clock: Clock, daily: int = 1000) -> Budget:
    return Budget(BudgetConfig(daily=daily), store, clock=clock)


async def refused_for_holds(budget: Budget, caller: Caller, allowance: int = 300) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await admit(budget, caller, allowance, 60)
    assert caught.value.kind == "rate_limit_error" and caught.value.status == 429
    assert caught.value.headers["retry-after"] == str(HELD_RETRY_AFTER_SECONDS), "a retry may pass once they end"
    assert "x-should-retry" not in caught.value.headers
    return caught.value


async def test_requests_in_flight_hold_their_allowance_until_they_end(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    budget = held_budget(make_usage_store(), clock)
    holds = [await admit(budget, ALICE, 300, 60) for _ in range(4)]
    assert all(a is not None and a.hold is not None and a.hold.amount.tokens == 300 for a in holds), "0, 300, 600, 900"
    error = await refused_for_holds(budget, ALICE)
    assert "0 of 1,000 tokens used today (UTC), and 1,200 more held by your requests still running" in error.message
    budget.settle_soon(Spending(ALICE, "gpt-5"), holds[0], Counts(50, 0, 10, 1))
    budget.settle_soon(Spending(ALICE, "gpt-5"), holds[1], Counts())
    await budget.settle()
    assert await admit(budget, ALICE, 300, 60), "60 used and 600 held: there is room again"
    for hold in holds[2:]:
        budget.settle_soon(Spending(ALICE, "gpt-5"), hold, Counts(400, 0, 600, 1))
    await budget.settle()
    assert "2,060 of 1,000 tokens today" in (await over(budget, ALICE)).message, "used up: not retryable"
    assert (await report_of(budget, ALICE))["today"]["requests"] == 3, "a request the upstream never answered: no count"


async def test_concurrent_admissions_on_two_instances_keep_the_bound(make_usage_store: UsageStores) -> None:
    """16 requests at once through two instances: every admission sees the others' holds."""
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    here, there = held_budget(make_usage_store(), clock), held_budget(make_usage_store(), clock)

    async def admitted(budget: Budget) -> Admission | None:
        try:
            return await admit(budget, BOB, 300, 60)
        except BridgeError as error:
            assert error.kind == "rate_limit_error"
            return None

    holds = await asyncio.gather(*(admitted(budget) for budget in [here, there] * 8))
    assert sum(hold is not None for hold in holds) == 4, "admitted while used + held < 1,000: at 0, 300, 600, 900"
    for n, hold in enumerate(holds):
        if hold is not None:
            (here, there)[n % 2].settle_soon(Spending(BOB, "gpt-5"), hold, Counts(280, 0, 20, 1))
    await asyncio.gather(here.settle(), there.settle())
    used = (await report_of(there, BOB))["today"]["total_tokens"]
    assert used == 1200 <= 1000 + 300, "over the limit by at most the last allowance"
    assert "1,200 of 1,000" in (await over(here, BOB)).message


async def test_the_holds_of_a_dead_instance_expire(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    dead, alive = held_budget(make_usage_store(), clock), held_budget(make_usage_store(), clock)
    assert await admit(dead, ALICE, 1000, 30)  # the instance dies with the request: nobody settles it
    await refused_for_holds(alive, ALICE)
    clock.now += timedelta(seconds=30 + HOLD_GRACE_SECONDS + 60)
    assert await admit(alive, ALICE, 300, 60), "the hold expired after the request's deadline and the grace"


async def test_the_ledger_takes_in_usage_it_missed(make_usage_store: UsageStores) -> None:
    """Counts written before budgets were configured (or whose ledger write failed) still count."""
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    store = make_usage_store()
    await store.add(ALICE.user_id, ALICE.name, "", date(2025, 3, 14), "gpt-5", "main", Counts(900, 0, 150, 1))
    assert "1,050 of 1,000 tokens today" in (await over(held_budget(store, clock), ALICE)).message


async def test_storage_down_fails_closed_for_limited_callers_only() -> None:
    unreachable = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    store = TableUsageStore(TableService(connection_string=unreachable).table("usage"))
    budget = Budget(BudgetConfig(daily=1000, overrides=parse_overrides("role:Bridge.Lead=daily:unlimited")[0]), store)
    try:
        with pytest.raises(BridgeError) as caught:
            await admit(budget, BOB, 300, 60)
        assert await admit(budget, ALICE, 300, 60) is None, "nothing to hold for an unlimited caller: no storage needed"
    finally:
        await store.aclose()
    assert caught.value.status == 503 and "x-should-retry" not in caught.value.headers
    assert "Azure Table 'usage', USAGE_CONNECTION_STRING" in caught.value.message


async def unpriced() -> None:
    return None


async def test_an_estimate_counts_the_text_kept_and_estimates_the_rest() -> None:
    request = Request(model="gpt-5", messages=[Message("user", [TextPart("hello there")])])
    received = Received()
    received.feed([TextDelta("The answer is forty-two."), ToolCallStart(0, "call_1", "Read"), ToolCallDelta(0, '{"a": 1}')])
    small, no_cost = await estimated(request, "chat", received, unpriced(), 50)
    assert small.input == 50 and 8 <= small.output <= 20 and small.requests == 1 and no_cost is None
    received.feed([TextDelta("x" * KEPT_CHARS), TextDelta("y" * 4000)])
    assert received.beyond == 4000 and received.usage is None
    big, _ = await estimated(request, "chat", received, unpriced())
    assert big.input > 0 and big.output >= small.output + 1000, "the kept text counted, the rest at 4 characters a token"
    received.feed([Usage(7, 3)])
    assert received.usage == Usage(7, 3)


# ----- issue 20: dollars, the standing, warnings, rate limits -----------------------------------------------------

USD = 1_000_000
"""Micro-dollars in a dollar."""


def money_budget(store: UsageStore, clock: Clock, **settings: Any) -> Budget:
    return Budget(BudgetConfig(**settings), store, clock=clock)


async def spend(budget: Budget, caller: Caller, micros: int, tokens: int = 100) -> None:
    await budget.record(Spending(caller, "gpt-5"), Counts(tokens, 0, 0, 1, micros))


async def test_a_dollar_budget_is_spent_held_and_named(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 18, tzinfo=UTC))
    budget = money_budget(make_usage_store(), clock, daily_usd=20 * USD, monthly_usd=400 * USD)
    admitted = await admit(budget, ALICE, 1000, micros=15 * USD)
    assert admitted is not None and admitted.hold is not None and admitted.hold.amount == Amount(1000, 15 * USD)
    second = await admit(budget, ALICE, 1000, micros=5 * USD)
    assert second is not None, "admitted while used + held is under the budget: $15 of $20"
    with pytest.raises(BridgeError) as held:
        await admit(budget, ALICE, 1000, micros=USD)
    assert held.value.message.startswith(
        "Daily dollar budget: $0.00 of $20.00 used today (UTC), and $20.00 more held by your requests still running"
    )
    budget.settle_soon(Spending(ALICE, "gpt-5"), second, Counts())
    budget.settle_soon(Spending(ALICE, "gpt-5"), admitted, Counts(900, 0, 100, 1, 20_130_000))
    await budget.settle()
    error = await over(budget, ALICE, "billing_error")
    assert error.message.startswith(
        "Daily dollar budget used up: $20.13 of $20.00 today (UTC). It resets at 2025-03-15 00:00 UTC"
    )
    assert error.headers["retry-after"] == str(6 * 3600), "seconds until midnight UTC"
    assert error.headers["x-bridge-budget-remaining-usd-day"] == "0.00"
    assert error.headers["x-bridge-budget-remaining-usd-month"] == "379.87"
    assert error.headers["x-bridge-budget-warning"] == "usd-day 100%"
    assert error.headers["anthropic-ratelimit-unified-overage-utilization"] == "1", "Claude Code's spend limit (issue 22)"
    clock.now = datetime(2025, 3, 15, tzinfo=UTC)
    assert await admit(budget, ALICE, micros=USD), "a new day"


async def test_the_standing_every_renderer_reads() -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    budget = money_budget(MemoryUsageStore(), clock, daily=10_000, daily_usd=10 * USD, monthly_usd=100 * USD, warn_percent=50)
    await spend(budget, ALICE, 6_543_210, tokens=2_000)
    admitted = await admit(budget, ALICE)
    assert admitted is not None
    standing = admitted.standing
    assert [(b.key, b.used, b.limit) for b in standing.budgets] == [
        ("usd-month", 6_543_210, 100 * USD),
        ("usd-day", 6_543_210, 10 * USD),
        ("tokens-day", 2_000, 10_000),
    ]
    assert [b.key for b in standing.warnings] == ["usd-day"] and standing.spent is None
    assert budget_headers(standing) == {
        "x-bridge-budget-remaining-usd-month": "93.45",
        "x-bridge-budget-reset-month": "2025-04-01T00:00:00Z",
        "x-bridge-budget-remaining-usd-day": "3.45",
        "x-bridge-budget-reset-day": "2025-03-15T00:00:00Z",
        "x-bridge-budget-remaining-tokens-day": "8000",
        "x-bridge-budget-warning": "usd-day 65%",
    }
    unlimited = await admit(budget, Caller("nobody", "nobody", "entra", roles=frozenset({"Bridge.Lead"})))
    assert unlimited is not None and unlimited.hold is None, "a limit applies, nothing to hold"


async def test_a_warning_is_logged_once_per_person_and_period_whichever_instance(
    make_usage_store: UsageStores, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    here, there = (money_budget(make_usage_store(), clock, daily_usd=10 * USD) for _ in range(2))
    with caplog.at_level(logging.WARNING, logger="bridge.gateway.usage"):
        for budget in (here, there, here, there):
            admitted = await admit(budget, BOB, micros=USD)
            budget.settle_soon(Spending(BOB, "gpt-5"), admitted, Counts(10, 0, 1, 1, 2_500_000))
            await budget.settle()
        clock.now += timedelta(days=1)
        await spend(there, BOB, 9 * USD)
        await admit(here, BOB)
    lines = [r.getMessage() for r in caplog.records if "budget warning" in r.getMessage()]
    assert lines == [
        "budget warning: bob@contoso.example has used 100% of their daily dollar budget ($10.00 of $10.00 for 2025-03-14); "
        "it resets at 2025-03-15T00:00:00Z",
        "budget warning: bob@contoso.example has used 90% of their daily dollar budget ($9.00 of $10.00 for 2025-03-15); "
        "it resets at 2025-03-16T00:00:00Z",
    ], "crossing 80 % at $10.00 of $10.00 (the fourth request), then again the next day"


async def test_dollar_holds_keep_the_bound_on_two_instances(make_usage_store: UsageStores) -> None:
    """16 requests at once through two instances, each holding $3 of a $10 budget: four are admitted (0, 3, 6, 9)."""
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    here, there = (money_budget(make_usage_store(), clock, daily_usd=10 * USD) for _ in range(2))

    async def admitted(budget: Budget) -> Admission | None:
        try:
            return await admit(budget, BOB, 10, micros=3 * USD)
        except BridgeError as error:
            assert error.kind == "rate_limit_error" and "x-should-retry" not in error.headers
            return None

    admissions = await asyncio.gather(*(admitted(budget) for budget in [here, there] * 8))
    assert sum(a is not None for a in admissions) == 4


async def test_the_dollar_hold_of_a_dead_instance_expires(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    dead, alive = (money_budget(make_usage_store(), clock, daily_usd=10 * USD) for _ in range(2))
    assert await admit(dead, ALICE, 10, lifetime=30, micros=10 * USD)  # the instance dies: nobody settles it
    await refused_for_holds(alive, ALICE, 10)
    clock.now += timedelta(seconds=30 + HOLD_GRACE_SECONDS + 60)
    assert await admit(alive, ALICE, 10, micros=USD)


async def test_requests_per_minute_on_two_instances(make_usage_store: UsageStores) -> None:
    """12 requests at once through two instances against 5 a minute: 5 admitted, the others told when to retry."""
    clock = Clock(datetime(2025, 3, 14, 12, 0, 20, tzinfo=UTC))
    here, there = (money_budget(make_usage_store(), clock, requests_per_minute=5) for _ in range(2))
    refusals: list[BridgeError] = []

    async def admitted(budget: Budget) -> bool:
        try:
            await admit(budget, ALICE)
            return True
        except BridgeError as error:
            refusals.append(error)
            return False

    results = await asyncio.gather(*(admitted(budget) for budget in [here, there] * 6))
    assert results.count(True) == 5
    for error in refusals:
        assert error.kind == "rate_limit_error" and "x-should-retry" not in error.headers
        assert "Rate limit: 5 requests a minute per person (RATE_LIMIT_REQUESTS_PER_MINUTE)" in error.message
        assert error.headers["retry-after"] == "52", "40 s to the next minute, where the 5 weigh 4 from 12 s on"
    clock.now += timedelta(seconds=40)
    await over_rate(here, ALICE)
    clock.now += timedelta(seconds=12)
    assert await admit(there, ALICE), "the last minute's 5 now weigh 4"


async def over_rate(budget: Budget, caller: Caller) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await admit(budget, caller)
    assert caught.value.kind == "rate_limit_error"
    return caught.value


async def test_tokens_per_minute_count_the_input_then_what_was_used() -> None:
    clock = Clock(datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC))
    budget = money_budget(MemoryUsageStore(), clock, tokens_per_minute=1000)
    admitted = await budget.admit(ALICE, Amount(400), 60, input_tokens=300)
    assert admitted is not None and admitted.counted == 300
    budget.settle_soon(Spending(ALICE, "gpt-5"), admitted, Counts(350, 0, 700, 1))
    await budget.settle()
    error = await over_rate(budget, ALICE)
    assert "1,000 tokens a minute per person (RATE_LIMIT_TOKENS_PER_MINUTE)" in error.message
    assert error.headers["retry-after"] == "63", "1,050 this minute: 60 s, then 1,050 * (1 - t / 60) < 1,000 from 3 s on"


def test_the_window_slides() -> None:
    window = Window().at(120.0).counting(6, 600)
    assert window.start == 120 and window.load(150.0) == (6, 600)
    rolled = window.at(190.0)
    assert (rolled.start, rolled.previous_requests, rolled.requests) == (180, 6, 0)
    assert rolled.load(190.0) == pytest.approx((5.0, 500.0)), "the minute before, weighted by what of it is still inside"
    assert window.at(300.0) == Window(300), "two minutes later, nothing"
    assert rolled.wait(0, 6, 2, 190.0) == 30, "6 * (1 - t / 60) ≤ 2 from 40 s into the minute"
    assert window.wait(6, 0, 4, 150.0) == 50, "not before the next minute, then 6 * (1 - t / 60) ≤ 4 from 20 s into it"
