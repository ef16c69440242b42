"""Usage counters on both stores; through Azurite, concurrent increments from several instances lose nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from bridge.gateway.usage.ledger import Amount, Ledger
from bridge.gateway.usage.limits import Limits
from bridge.gateway.usage.store import Counts, DayUsage, LedgerConflict
from bridge.gateway.usage.table_store import TableUsageStore, row_key
from bridge.gateway.usage.window import Window
from tests.support.azurite import Azurite, FreshTable, requires_azurite
from tests.support.stores import UsageStores

pytestmark = pytest.mark.anyio

USER = "0c5e4f3a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
OTHER = "7a8b9c0d-1e2f-4a5b-9c6d-7e8f9a0b1c2d"
DAY = date(2025, 3, 14)


def by_day_and_model(rows: list[DayUsage]) -> dict[tuple[str, str], Counts]:
    return {(row.day.isoformat(), row.model): row.counts for row in rows}


async def test_a_month_is_its_days_per_model(make_usage_store: UsageStores) -> None:
    store = make_usage_store()
    await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(100, 0, 10, 1))
    await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(50, 0, 5, 1))
    await store.add(USER, "alice", "", date(2025, 3, 1), "gpt-5-mini", "main", Counts(7, 0, 3, 1))
    await store.add(USER, "alice", "", date(2025, 3, 31), "gpt-5", "main", Counts(1, 0, 1, 1))
    await store.add(USER, "alice", "", date(2025, 2, 28), "gpt-5", "main", Counts(1000, 0, 0, 1))
    await store.add(USER, "alice", "", date(2025, 4, 1), "gpt-5", "main", Counts(1000, 0, 0, 1))
    await store.add(OTHER, "bob", "", DAY, "gpt-5", "main", Counts(999, 0, 0, 1))
    assert by_day_and_model(await store.month(USER, date(2025, 3, 20))) == {
        ("2025-03-14", "gpt-5"): Counts(150, 0, 15, 2),
        ("2025-03-01", "gpt-5-mini"): Counts(7, 0, 3, 1),
        ("2025-03-31", "gpt-5"): Counts(1, 0, 1, 1),
    }
    assert by_day_and_model(await store.month(OTHER, DAY)) == {("2025-03-14", "gpt-5"): Counts(999, 0, 0, 1)}
    assert await store.month(USER, date(2025, 5, 1)) == []


async def test_any_model_name_is_a_row(make_usage_store: UsageStores) -> None:
    store = make_usage_store()
    names = ["azure/gpt-5#eu?x", "back\\slash", "a|b", "100%", "claude-sonnet-4-5-20250929", "ünïcode"]
    for name in names:
        await store.add(USER, "alice", "", DAY, name, "main", Counts(1, 0, 2, 1))
    assert {row.model for row in await store.month(USER, DAY)} == set(names)


async def test_counts_beyond_32_bits(make_usage_store: UsageStores) -> None:
    store = make_usage_store()
    await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(3_000_000_000, 0, 2**40, 1))
    await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(3_000_000_000, 0, 1, 1))
    assert by_day_and_model(await store.month(USER, DAY)) == {("2025-03-14", "gpt-5"): Counts(6_000_000_000, 0, 2**40 + 1, 2)}


async def test_concurrent_increments_from_two_instances_lose_nothing(make_usage_store: UsageStores) -> None:
    first, second = make_usage_store(), make_usage_store()
    await asyncio.gather(
        *(store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(1000, 0, 10, 1)) for store in [first, second] * 50)
    )
    expected = {("2025-03-14", "gpt-5"): Counts(100_000, 0, 1000, 100)}
    assert by_day_and_model(await first.month(USER, DAY)) == expected
    assert by_day_and_model(await second.month(USER, DAY)) == expected


@requires_azurite
async def test_many_instances_racing_on_one_row_lose_nothing(azurite: Azurite) -> None:
    """Eight instances, each with bursts of concurrent requests: the ETag races are real and retried."""
    async with FreshTable(azurite, "usage") as table:
        stores = [TableUsageStore(table.open()) for _ in range(8)]
        for _ in range(3):
            await asyncio.gather(
                *(store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(3, 0, 1, 1)) for store in stores * 5)
            )
        rows = await stores[0].month(USER, DAY)
    assert by_day_and_model(rows) == {("2025-03-14", "gpt-5"): Counts(360, 0, 120, 120)}
    assert sum(store.conflicts for store in stores) > 0, "no race happened: the test proves nothing"


@requires_azurite
@pytest.mark.parametrize("between", ["get_entity", "update_entity"])
async def test_a_write_that_loses_a_race_reads_again(azurite: Azurite, between: str) -> None:
    """Deterministic: another instance writes just before this one's conditional write, which must then read again.

    `get_entity`: between this instance's read and its write (it has not written the row before).
    `update_entity`: after this instance's own last write, whose ETag it would otherwise reuse.
    """
    async with FreshTable(azurite, "usage") as table:
        mine, theirs = TableUsageStore(table.open()), TableUsageStore(table.open())
        await (mine if between == "update_entity" else theirs).add(USER, "alice", "", DAY, "gpt-5", "main", Counts(1, 0, 0, 1))
        client = await mine.table.client()
        real = getattr(client, between)
        interfered = False

        async def someone_else_writes_first(*args: Any, **kwargs: Any) -> Any:
            nonlocal interfered
            if between == "update_entity" and not interfered:
                interfered = True
                await theirs.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(10, 0, 0, 1))
            answer = await real(*args, **kwargs)
            if between == "get_entity" and not interfered:
                interfered = True
                await theirs.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(10, 0, 0, 1))
            return answer

        setattr(client, between, someone_else_writes_first)
        await mine.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(100, 0, 0, 1))
        rows = await theirs.month(USER, DAY)
    assert by_day_and_model(rows) == {("2025-03-14", "gpt-5"): Counts(111, 0, 0, 3)}
    assert interfered and mine.conflicts == 1


@requires_azurite
async def test_a_row_this_instance_wrote_last_is_written_without_a_read(azurite: Azurite) -> None:
    async with FreshTable(azurite, "usage") as table:
        store = TableUsageStore(table.open())
        await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(1, 0, 0, 1))
        client = await store.table.client()
        reads = 0
        real_get = client.get_entity

        async def counted_get(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await real_get(*args, **kwargs)

        client.get_entity = counted_get  # type: ignore[method-assign]
        for _ in range(5):
            await store.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(1, 0, 0, 1))
        rows = await store.month(USER, DAY)
    assert reads == 0 and by_day_and_model(rows) == {("2025-03-14", "gpt-5"): Counts(6, 0, 0, 6)}


@requires_azurite
async def test_the_first_write_of_a_row_can_race_too(azurite: Azurite) -> None:
    async with FreshTable(azurite, "usage") as table:
        stores = [TableUsageStore(table.open()) for _ in range(4)]
        await asyncio.gather(*(store.add(USER, "alice", "", DAY, "fresh", "main", Counts(5, 0, 5, 1)) for store in stores))
        rows = await stores[0].month(USER, DAY)
    assert by_day_and_model(rows) == {("2025-03-14", "fresh"): Counts(20, 0, 20, 4)}


@requires_azurite
async def test_the_table_rows(azurite: Azurite) -> None:
    async with FreshTable(azurite, "usage") as table:
        store = TableUsageStore(table.open())
        await store.add(
            USER, "alice@contoso.example", "Bridge.Lead,Bridge.User", DAY, "azure/gpt-5", "main", Counts(12, 4, 3, 1, 77)
        )
        await store.add(USER, "alice@contoso.example", "", DAY, "azure/gpt-5", "subagent", Counts(5, 0, 1, 1, unpriced=1))
        entities = {e["RowKey"]: dict(e) async for e in (await table.open().client()).list_entities()}
    assert set(entities) == {row_key(DAY, "azure/gpt-5"), row_key(DAY, "azure/gpt-5", "subagent")}
    entity = entities["2025-03-14|azure%2Fgpt-5"]
    assert (entity["Model"], entity["Agent"], entity["UserName"]) == ("azure/gpt-5", "main", "alice@contoso.example")
    assert entity["Roles"] == "Bridge.Lead,Bridge.User"
    counters = ("InputTokens", "CachedTokens", "OutputTokens", "Requests", "CostMicros", "UnpricedRequests")
    assert [entity[name].value for name in counters] == [12, 4, 3, 1, 77, 0]
    assert entities["2025-03-14|azure%2Fgpt-5|subagent"]["Agent"] == "subagent"


@requires_azurite
async def test_rows_written_before_prices_count_as_unpriced(azurite: Azurite) -> None:
    """A row of issue 18's (no CostMicros, no Agent, no CachedTokens) is read as main-agent usage of unknown cost."""
    async with FreshTable(azurite, "usage") as table:
        client = await table.open().client()
        old = {"PartitionKey": USER, "RowKey": "2025-03-14|gpt-5", "Model": "gpt-5", "UserName": "alice"}
        await client.create_entity({**old, "InputTokens": 100, "OutputTokens": 10, "Requests": 2})
        rows = await TableUsageStore(table.open()).month(USER, DAY)
    assert rows == [DayUsage(DAY, "gpt-5", Counts(100, 0, 10, 2, 0, 2), "main")]


async def test_an_administrator_finds_people_and_everyones_month(make_usage_store: UsageStores) -> None:
    store = make_usage_store()
    await store.add(USER, "alice@contoso.example", "Bridge.Lead", DAY, "gpt-5", "main", Counts(10, 0, 1, 1, 5))
    await store.add(USER, "alice@contoso.example", "Bridge.Lead", DAY, "gpt-5", "subagent", Counts(20, 0, 2, 1, 6))
    await store.add(OTHER, "bob@contoso.example", "", date(2025, 3, 2), "gpt-4o", "main", Counts(30, 0, 3, 1, 7))
    await store.add(OTHER, "bob@contoso.example", "", date(2025, 4, 1), "gpt-4o", "main", Counts(40, 0, 4, 1, 8))
    assert await store.find_user("bob@contoso.example") == (OTHER, "bob@contoso.example")
    assert await store.find_user(USER) == (USER, "alice@contoso.example")
    assert await store.find_user("carol@contoso.example") is None
    everyone = await store.everyone(DAY)
    assert sorted(
        (r.user_id, r.user_name, r.roles, r.usage.model, r.usage.agent, r.usage.counts.micros) for r in everyone
    ) == sorted(
        [
            (USER, "alice@contoso.example", "Bridge.Lead", "gpt-5", "main", 5),
            (USER, "alice@contoso.example", "Bridge.Lead", "gpt-5", "subagent", 6),
            (OTHER, "bob@contoso.example", "", "gpt-4o", "main", 7),
        ]
    )


async def test_a_ledger_is_written_only_over_the_version_read(make_usage_store: UsageStores) -> None:
    here, there = make_usage_store(), make_usage_store()
    await here.add(USER, "alice", "", DAY, "gpt-5", "main", Counts(7, 0, 3, 1))
    first = await here.read_ledger(USER, DAY)
    assert (first.ledger, first.version) == (None, None) and by_day_and_model(first.rows) == {
        ("2025-03-14", "gpt-5"): Counts(7, 0, 3, 1)
    }
    ledger = Ledger(
        DAY,
        Amount(10, 3),
        Amount(10, 3),
        {1_741_953_600: Amount(500, 40)},
        Window(1_741_953_540, 3, 700, 1, 50),
        frozenset({"usd-day@2025-03-14"}),
        Limits(daily=1000, daily_usd=20_000_000, requests_per_minute=30),
    )
    version = await here.write_ledger(USER, "alice", ledger, None)
    with pytest.raises(LedgerConflict):
        await there.write_ledger(USER, "alice", ledger, None)
    read = await there.read_ledger(USER, DAY)
    assert (read.ledger, read.version, len(read.rows)) == (ledger, version, 1), "the ledger is not a usage row"
    moved = await there.write_ledger(USER, "alice", Ledger(DAY, Amount(20), Amount(20)), version)
    with pytest.raises(LedgerConflict):
        await here.write_ledger(USER, "alice", Ledger(DAY, Amount(30), Amount(30)), version)
    assert (await here.read_ledger(USER, DAY)).version == moved
    assert await here.month(USER, DAY) == read.rows
