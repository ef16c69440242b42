"""Budgets: the overrides setting, limits per caller, refusals with usage, limit and reset, resets at UTC boundaries."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.config.kinds import parse_token_count
from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller, shared_token_caller
from bridge.gateway.tables import TableService
from bridge.gateway.usage.budget import HELD_RETRY_AFTER_SECONDS, HOLD_GRACE_SECONDS, Budget
from bridge.gateway.usage.charge import OUTPUT_HOLD_CAP, allowance, estimated
from bridge.gateway.usage.ledger import Hold, Ledger
from bridge.gateway.usage.limits import BudgetConfig, Override, parse_overrides
from bridge.gateway.usage.store import DayUsage, MemoryUsageStore, Tokens, UsageStore
from bridge.gateway.usage.table_store import TableUsageStore
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


def budget(daily: int | None = None, monthly: int | None = None, overrides: str = "", *, at: datetime) -> tuple[Budget, Clock]:
    parsed, problems = parse_overrides(overrides)
    assert problems == []
    clock = Clock(at)
    return Budget(BudgetConfig(daily, monthly, parsed), MemoryUsageStore(), clock=clock), clock


async def over(budget: Budget, caller: Caller) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await budget.admit(caller, 0, 60)
    assert caught.value.kind == "rate_limit_error" and caught.value.status == 429
    assert caught.value.headers == {"x-should-retry": "false"}
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
        ("role:Bridge.Lead=weekly:5", "'weekly:5' must be daily:<n> or monthly:<n>"),
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
    await limits.record(ALICE, "gpt-5", 6_000, 3_999)
    await limits.admit(ALICE, 0, 60)
    await limits.record(ALICE, "gpt-5-mini", 1, 0)
    error = await over(limits, ALICE)
    assert error.message.startswith("Daily token budget used up: 10,000 of 10,000 tokens today (UTC).")
    assert "It resets at 2025-03-15 00:00 UTC" in error.message
    await limits.admit(BOB, 0, 60)


async def test_a_request_overshoots_by_its_own_size_only() -> None:
    limits, _ = budget(daily=10_000, at=datetime(2025, 3, 14, 15, 45, tzinfo=UTC))
    await limits.record(ALICE, "gpt-5", 9_999, 0)
    await limits.admit(ALICE, 0, 60)
    await limits.record(ALICE, "gpt-5", 50_000, 2_000)
    assert "61,999 of 10,000 tokens today" in (await over(limits, ALICE)).message


async def test_the_daily_budget_starts_again_at_midnight_utc() -> None:
    limits, clock = budget(daily=1000, monthly=5000, at=datetime(2025, 3, 14, 23, 59, 59, tzinfo=UTC))
    await limits.record(ALICE, "gpt-5", 800, 200)
    await over(limits, ALICE)
    clock.now = datetime(2025, 3, 15, 0, 0, tzinfo=UTC)
    await limits.admit(ALICE, 0, 60)
    report = await limits.report(ALICE)
    assert (report["today"]["total_tokens"], report["month"]["total_tokens"]) == (0, 1000)


async def test_the_monthly_budget_starts_again_on_the_first() -> None:
    limits, clock = budget(daily=10**6, monthly=3000, at=datetime(2025, 12, 30, 12, tzinfo=UTC))
    await limits.record(ALICE, "gpt-5", 2000, 0)
    clock.now += timedelta(days=1)
    await limits.record(ALICE, "gpt-5", 1000, 0)
    error = await over(limits, ALICE)
    assert "Monthly token budget used up: 3,000 of 3,000 tokens this month (UTC)" in error.message
    assert "It resets at 2026-01-01 00:00 UTC" in error.message
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    await limits.admit(ALICE, 0, 60)


async def test_when_both_are_used_up_the_later_reset_is_named() -> None:
    limits, _ = budget(daily=100, monthly=100, at=datetime(2025, 2, 10, tzinfo=UTC))
    await limits.record(ALICE, "gpt-5", 100, 0)
    assert "resets at 2025-03-01 00:00 UTC" in (await over(limits, ALICE)).message


async def test_a_bigger_budget_through_an_override() -> None:
    limits, _ = budget(daily=1000, overrides=f"group:{LEADS}=daily:5k", at=datetime(2025, 3, 14, tzinfo=UTC))
    for caller in (BOB, CAROL):
        await limits.record(caller, "gpt-5", 1000, 0)
    await over(limits, BOB)
    await limits.admit(CAROL, 0, 60)


async def test_a_zero_budget_refuses_from_the_start() -> None:
    limits, _ = budget(overrides=f"group:{INTERNS}=daily:0", at=datetime(2025, 3, 14, tzinfo=UTC))
    intern = Caller("y", "y", "entra", groups=frozenset({INTERNS}))
    assert "0 of 0 tokens today" in (await over(limits, intern)).message
    await limits.admit(BOB, 0, 60)


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
    await unlimited.admit(ALICE, 0, 60)
    assert store.reads == 0
    limited_for_interns = Budget(BudgetConfig(overrides=parse_overrides(f"group:{INTERNS}=daily:5")[0]), store)
    await limited_for_interns.admit(ALICE, 0, 60)
    assert store.reads == 0
    await limited_for_interns.admit(Caller("y", "y", "entra", groups=frozenset({INTERNS})), 0, 60)
    assert store.reads == 1


async def test_the_usage_report() -> None:
    limits, clock = budget(daily=100_000, monthly=1_000_000, at=datetime(2025, 3, 2, 8, tzinfo=UTC))
    await limits.record(ALICE, "gpt-5", 1000, 100)
    clock.now += timedelta(days=1)
    await limits.record(ALICE, "gpt-5", 2000, 200)
    await limits.record(ALICE, "gpt-5-mini", 300, 30)
    await limits.record(BOB, "gpt-5", 99, 9)
    assert await limits.report(ALICE) == {
        "user": {"id": ALICE.user_id, "name": ALICE.name},
        "today": {
            "date": "2025-03-03",
            "input_tokens": 2300,
            "output_tokens": 230,
            "total_tokens": 2530,
            "requests": 2,
            "limit": 100_000,
            "remaining": 97_470,
            "resets_at": "2025-03-04T00:00:00Z",
            "models": {
                "gpt-5": {"input_tokens": 2000, "output_tokens": 200, "total_tokens": 2200, "requests": 1},
                "gpt-5-mini": {"input_tokens": 300, "output_tokens": 30, "total_tokens": 330, "requests": 1},
            },
        },
        "month": {
            "month": "2025-03",
            "input_tokens": 3300,
            "output_tokens": 330,
            "total_tokens": 3630,
            "requests": 3,
            "limit": 1_000_000,
            "remaining": 996_370,
            "resets_at": "2025-04-01T00:00:00Z",
            "models": {
                "gpt-5": {"input_tokens": 3000, "output_tokens": 300, "total_tokens": 3300, "requests": 2},
                "gpt-5-mini": {"input_tokens": 300, "output_tokens": 30, "total_tokens": 330, "requests": 1},
            },
        },
    }


async def test_the_report_without_limits_and_over_them() -> None:
    limits, _ = budget(at=datetime(2025, 3, 2, tzinfo=UTC))
    report = await limits.report(shared_token_caller())
    assert report["today"]["limit"] is None and report["today"]["remaining"] is None
    assert report["month"]["models"] == {} and report["user"]["id"] == "shared-token"
    capped, _ = budget(daily=10, at=datetime(2025, 3, 2, tzinfo=UTC))
    await capped.record(BOB, "gpt-5", 50, 0)
    assert (await capped.report(BOB))["today"]["remaining"] == 0


class BrokenStore(MemoryUsageStore):
    async def add(self, *_: object) -> None:
        raise BridgeError("api_error", "Could not count the request's tokens (Azure Table 'bridgeusage'): down")


async def test_recording_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    limits = Budget(BudgetConfig(), BrokenStore())
    with caplog.at_level(logging.ERROR, logger="bridge.gateway.usage"):
        await limits.record(ALICE, "gpt-5", 10, 2)
    assert f"usage of {ALICE.user_id} not counted (10 input, 2 output tokens on gpt-5)" in caplog.text


@requires_azurite
async def test_two_instances_share_one_budget(azurite: Azurite) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    async with FreshTable(azurite, "usage") as table:
        here, there = (Budget(BudgetConfig(daily=10_000), TableUsageStore(table.open()), clock=clock) for _ in range(2))
        await here.record(ALICE, "gpt-5", 6000, 0)
        await there.admit(ALICE, 0, 60)
        await there.record(ALICE, "gpt-5", 4000, 0)
        assert "10,000 of 10,000" in (await over(here, ALICE)).message
        await here.admit(BOB, 0, 60)
        assert (await there.report(ALICE))["today"]["requests"] == 2


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
    assert allowance(1000, 200) == 1200
    assert allowance(1000, 128_000) == 1000 + OUTPUT_HOLD_CAP
    assert allowance(1000, None) == 1000 + OUTPUT_HOLD_CAP, "no max_tokens: the cap"


def test_the_ledger_rolls_over_and_lets_holds_expire() -> None:
    moment = datetime(2025, 3, 31, 23, 59, tzinfo=UTC)
    hold = Hold.until(500, moment + timedelta(seconds=30))
    ledger = Ledger(moment.date(), 900, 5000).holding(hold)
    assert ledger.held == 500 and hold.expires % 60 == 0 and hold.expires >= (moment + timedelta(seconds=30)).timestamp()
    assert ledger.at(moment) == ledger
    next_month = ledger.at(moment + timedelta(minutes=1))
    assert (next_month.day, next_month.day_tokens, next_month.month_tokens, next_month.held) == (date(2025, 4, 1), 0, 0, 0)
    settled = ledger.settled(hold, 120)
    assert (settled.day_tokens, settled.month_tokens, settled.held) == (1020, 5120, 0)
    assert ledger.settled(Hold(500, 1), 120).held == 500, "a hold already expired releases nothing"
    assert ledger.reconciled(1500, 100) == Ledger(ledger.day, 1500, 5000, ledger.holds)


def held_budget(store: UsageStore, clock: Clock, daily: int = 1000) -> Budget:
    return Budget(BudgetConfig(daily=daily), store, clock=clock)


async def refused_for_holds(budget: Budget, caller: Caller, allowance: int = 300) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await budget.admit(caller, allowance, 60)
    assert caught.value.kind == "rate_limit_error" and caught.value.status == 429
    assert caught.value.headers == {"retry-after": str(HELD_RETRY_AFTER_SECONDS)}, "a retry may pass once they end"
    return caught.value


async def test_requests_in_flight_hold_their_allowance_until_they_end(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    budget = held_budget(make_usage_store(), clock)
    holds = [await budget.admit(ALICE, 300, 60) for _ in range(4)]
    assert all(hold is not None and hold.tokens == 300 for hold in holds), "0, 300, 600 and 900 are under 1,000"
    error = await refused_for_holds(budget, ALICE)
    assert "0 of 1,000 tokens used today (UTC), and 1,200 more held by your requests still running" in error.message
    budget.settle_soon(ALICE, "gpt-5", holds[0], Tokens(50, 10, 1))
    budget.settle_soon(ALICE, "gpt-5", holds[1], Tokens())
    await budget.settle()
    assert await budget.admit(ALICE, 300, 60), "60 used and 600 held: there is room again"
    for hold in holds[2:]:
        budget.settle_soon(ALICE, "gpt-5", hold, Tokens(400, 600, 1))
    await budget.settle()
    assert "2,060 of 1,000 tokens today" in (await over(budget, ALICE)).message, "used up: not retryable"
    assert (await budget.report(ALICE))["today"]["requests"] == 3, "a request the upstream never answered: no count"


async def test_concurrent_admissions_on_two_instances_keep_the_bound(make_usage_store: UsageStores) -> None:
    """16 requests at once through two instances: every admission sees the others' holds."""
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    here, there = held_budget(make_usage_store(), clock), held_budget(make_usage_store(), clock)

    async def admitted(budget: Budget) -> Hold | None:
        try:
            return await budget.admit(BOB, 300, 60)
        except BridgeError as error:
            assert error.kind == "rate_limit_error"
            return None

    holds = await asyncio.gather(*(admitted(budget) for budget in [here, there] * 8))
    assert sum(hold is not None for hold in holds) == 4, "admitted while used + held < 1,000: at 0, 300, 600, 900"
    for n, hold in enumerate(holds):
        if hold is not None:
            (here, there)[n % 2].settle_soon(BOB, "gpt-5", hold, Tokens(280, 20, 1))
    await asyncio.gather(here.settle(), there.settle())
    used = (await there.report(BOB))["today"]["total_tokens"]
    assert used == 1200 <= 1000 + 300, "over the limit by at most the last allowance"
    assert "1,200 of 1,000" in (await over(here, BOB)).message


async def test_the_holds_of_a_dead_instance_expire(make_usage_store: UsageStores) -> None:
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    dead, alive = held_budget(make_usage_store(), clock), held_budget(make_usage_store(), clock)
    assert await dead.admit(ALICE, 1000, 30)  # the instance dies with the request: nobody settles it
    await refused_for_holds(alive, ALICE)
    clock.now += timedelta(seconds=30 + HOLD_GRACE_SECONDS + 60)
    assert await alive.admit(ALICE, 300, 60), "the hold expired after the request's deadline and the grace"


async def test_the_ledger_takes_in_usage_it_missed(make_usage_store: UsageStores) -> None:
    """Counts written before budgets were configured (or whose ledger write failed) still count."""
    clock = Clock(datetime(2025, 3, 14, 12, tzinfo=UTC))
    store = make_usage_store()
    await store.add(ALICE.user_id, ALICE.name, date(2025, 3, 14), "gpt-5", Tokens(900, 150, 1))
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
            await budget.admit(BOB, 300, 60)
        assert await budget.admit(ALICE, 300, 60) is None, "nothing to hold for an unlimited caller: no storage needed"
    finally:
        await store.aclose()
    assert caught.value.status == 503 and "x-should-retry" not in caught.value.headers
    assert "Azure Table 'usage', USAGE_CONNECTION_STRING" in caught.value.message


async def test_an_estimate_counts_the_text_kept_and_estimates_the_rest() -> None:
    request = Request(model="gpt-5", messages=[Message("user", [TextPart("hello there")])])
    received = Received()
    received.feed([TextDelta("The answer is forty-two."), ToolCallStart(0, "call_1", "Read"), ToolCallDelta(0, '{"a": 1}')])
    small = await estimated(request, "chat", received, 50)
    assert small.input == 50 and 8 <= small.output <= 20 and small.requests == 1
    received.feed([TextDelta("x" * KEPT_CHARS), TextDelta("y" * 4000)])
    assert received.beyond == 4000 and received.usage is None
    big = await estimated(request, "chat", received)
    assert big.input > 0 and big.output >= small.output + 1000, "the kept text counted, the rest at 4 characters a token"
    received.feed([Usage(7, 3)])
    assert received.usage == Usage(7, 3)
