"""The daily reconciliation against a stand-in Cost Management (tests/support/fake_cost_management.py).

What Azure billed is read from the Query API's documented answer (columns by name, pages, 204, 429); the
comparison with what the bridge charged is kept in the usage table (Azurite) and told in the log and as the
`bridge.reconcile` event, whose fields are the ones the workbook and the alert read.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from aiohttp.test_utils import TestServer
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from bridge.gateway.tables import TableService
from bridge.gateway.usage.store import Counts
from bridge.gateway.usage.table_store import USAGE_TABLE, TableUsageStore
from bridge.http import close_session
from bridge.reconcile import job
from bridge.reconcile.charged import usage_charged
from bridge.reconcile.comparison import Charged, ChargedOn, Reconciliation, compare
from bridge.reconcile.cost_management import AzureCost, CostQueryError, read_page
from bridge.reconcile.job import EVENT_NAME, RECONCILED_PARTITION, ReconcileError, reconcile, settled_day
from bridge.telemetry import setup
from bridge.telemetry.pipeline import assemble
from tests.support.azurite import Azurite, FreshTable, requires_azurite
from tests.support.fake_cost_management import TOKEN, Billed, FakeCostManagement
from tests.support.paths import ROOT
from tests.support.stores import UsageStores

pytestmark = pytest.mark.anyio

DAY = date(2026, 12, 4)
AOAI = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/aoai-one"
OTHER = "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-two/providers/Microsoft.CognitiveServices/accounts/aoai-two"


async def token() -> str:
    return TOKEN


def charged(usd: float, requests: int = 10, unpriced: int = 0) -> ChargedOn:
    async def charged_on(day: date) -> Charged:
        assert day == DAY
        return Charged(usd, requests, unpriced)

    return charged_on


@pytest.fixture
async def cost_management() -> AsyncIterator[tuple[FakeCostManagement, str]]:
    fake = FakeCostManagement()
    fake.allow(AOAI, OTHER)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await close_session()
    await server.close()


def env(url: str, *ids: str, **more: str) -> dict[str, str]:
    return {"RECONCILE_RESOURCE_IDS": ",".join(ids or (AOAI,)), "AZURE_MANAGEMENT_URL": url, **more}


async def test_a_day_within_the_threshold(cost_management: tuple[FakeCostManagement, str]) -> None:
    fake, url = cost_management
    fake.billed += [Billed(AOAI, DAY, 6.0), Billed(AOAI.lower(), DAY, 4.0), Billed(AOAI, date(2026, 12, 5), 99.0)]
    result = await reconcile(DAY, env(url), charged(9.8), token, None)
    assert (result.azure_usd, result.bridge_usd, result.gap_percent, result.over_threshold) == (10.0, 9.8, -2.0, False)
    (query,) = fake.queries
    assert query["client_type"] == "claude-azure-bridge"
    assert query["body"]["timePeriod"] == {"from": "2026-12-04T00:00:00Z", "to": "2026-12-04T23:59:59Z"}


async def test_pages_and_resource_groups(cost_management: tuple[FakeCostManagement, str]) -> None:
    fake, url = cost_management
    fake.page_size = 1
    fake.billed += [Billed(AOAI, DAY, 1.5), Billed(OTHER, DAY, 2.5)]
    other_in_the_same_group = AOAI.replace("aoai-one", "aoai-three")
    fake.billed.append(Billed(other_in_the_same_group, DAY, 3.0))
    result = await reconcile(DAY, env(url, AOAI, OTHER, other_in_the_same_group), charged(7.0), token, None)
    assert result.azure_usd == 7.0 and result.resources == 3 and result.gap_percent == 0.0
    assert sorted(query["scope"] for query in fake.queries) == [
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-ai",
        "/subscriptions/00000000-0000-0000-0000-000000000002/resourcegroups/rg-two",
    ], "one query per resource group; the second page is a nextLink, not a query"


async def test_a_next_link_elsewhere_is_not_followed(cost_management: tuple[FakeCostManagement, str]) -> None:
    """The token goes with each page's POST: a nextLink on another host (a spoofed answer) must not get it."""
    fake, url = cost_management
    fake.page_size = 1
    fake.billed += [Billed(AOAI, DAY, 1.0), Billed(AOAI.replace("aoai-one", "aoai-four"), DAY, 1.0)]
    caught = FakeCostManagement()
    server = TestServer(caught.app(), host="127.0.0.1")
    await server.start_server()
    fake.foreign_next_link = str(server.make_url("/pages/steal"))
    try:
        with pytest.raises(ReconcileError, match="nextLink leaves"):
            ids = (AOAI, AOAI.replace("aoai-one", "aoai-four"))
            await reconcile(DAY, env(url, *ids), charged(2.0), token, None)
    finally:
        await server.close()
    assert caught.hits == 0, "nothing, the token least of all, went to the other host"


async def test_no_cost_that_day_is_204(cost_management: tuple[FakeCostManagement, str]) -> None:
    _, url = cost_management
    result = await reconcile(DAY, env(url), charged(0.0, 0), token, None)
    assert (result.azure_usd, result.gap_percent, result.over_threshold) == (0.0, 0.0, False)
    charged_but_not_billed = await reconcile(DAY, env(url), charged(1.0), token, None)
    assert charged_but_not_billed.gap_percent == 100.0 and charged_but_not_billed.over_threshold


async def test_throttling_is_waited_out(cost_management: tuple[FakeCostManagement, str]) -> None:
    fake, url = cost_management
    fake.throttle = 2
    fake.billed.append(Billed(AOAI, DAY, 3.0))
    result = await reconcile(DAY, env(url), charged(3.0), token, None)
    assert result.azure_usd == 3.0 and len(fake.queries) == 3


async def test_without_cost_management_reader_it_says_so(cost_management: tuple[FakeCostManagement, str]) -> None:
    fake, url = cost_management
    fake.readable.clear()
    with pytest.raises(ReconcileError, match=r"403: AuthorizationFailed.*Cost Management Reader"):
        await reconcile(DAY, env(url), charged(1.0), token, None)


async def test_a_bill_in_another_currency_without_usd_is_refused(cost_management: tuple[FakeCostManagement, str]) -> None:
    fake, url = cost_management
    fake.usd_column = False
    fake.billed.append(Billed(AOAI, DAY, 10.0, "EUR", 0.9))
    with pytest.raises(ReconcileError, match="EUR without a CostUSD column"):
        await reconcile(DAY, env(url), charged(10.0), token, None)
    fake.billed[0] = Billed(AOAI, DAY, 10.0)
    result = await reconcile(DAY, env(url), charged(10.0), token, None)
    assert result.azure_usd == 10.0, "the legacy PreTaxCost column, in dollars"


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({}, "RECONCILE_RESOURCE_IDS is not set"),
        ({"RECONCILE_RESOURCE_IDS": "aoai-one"}, "is no resource id"),
        ({"RECONCILE_RESOURCE_IDS": AOAI, "RECONCILE_GAP_PERCENT": "-1"}, "RECONCILE_GAP_PERCENT must be a positive number"),
    ],
)
async def test_settings_that_cannot_work_are_named(settings: dict[str, str], said: str) -> None:
    with pytest.raises(ReconcileError, match=said):
        await reconcile(DAY, settings, charged(1.0), token, None)


@requires_azurite
async def test_a_gap_is_told_kept_and_exported(
    cost_management: tuple[FakeCostManagement, str], azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = cost_management
    fake.billed.append(Billed(AOAI, DAY, 12.5))
    logs = InMemoryLogRecordExporter()
    telemetry = assemble([], [], [SimpleLogRecordProcessor(logs)])
    setup.use(telemetry)
    try:
        async with FreshTable(azurite, "usage") as fresh:
            table = fresh.open()
            with caplog.at_level(logging.INFO, logger="bridge.reconcile.job"):
                result = await reconcile(DAY, env(url), charged(10.0, 40, 2), token, table)
            client = await table.client()
            stored = await client.get_entity(RECONCILED_PARTITION, "reconciled|2026-12-04")
    finally:
        setup.use(None)
        telemetry.shutdown()
    assert result.gap_percent == -20.0 and result.over_threshold
    assert stored["azure_usd"] == 12.5 and stored["bridge_usd"] == 10.0 and stored["unpriced_requests"] == 2
    assert stored["over_threshold"] is True
    assert any(record.levelno == logging.WARNING and "-20.0%" in record.getMessage() for record in caplog.records)
    (event,) = logs.get_finished_logs()
    attributes = dict(event.log_record.attributes or {})
    assert event.log_record.event_name == EVENT_NAME and attributes["microsoft.custom_event.name"] == EVENT_NAME
    assert attributes["day"] == "2026-12-04" and attributes["gap_percent"] == -20.0 and attributes["currency"] == "USD"


def priced(usd: float, requests: int = 1, unpriced: int = 0) -> Counts:
    return Counts(1000 * requests, 200 * requests, 100 * requests, requests, round(usd * 1_000_000), unpriced)


async def test_the_bridge_charged_what_the_usage_table_holds_for_the_day(make_usage_store: UsageStores) -> None:
    """Every person's rows of the day (deployments and agents alike), and not the month's other days."""
    store = make_usage_store()
    await store.add("oid-a", "ada@contoso.com", "", DAY, "gpt-5", "main", priced(1.25, 3))
    await store.add("oid-a", "ada@contoso.com", "", DAY, "gpt-5", "subagent", priced(0.5, 2))
    await store.add("oid-b", "bob@contoso.com", "", DAY, "gpt-4o", "main", priced(2.0, 4, unpriced=1))
    await store.add("oid-b", "bob@contoso.com", "", date(2026, 12, 5), "gpt-5", "main", priced(9.0, 9))
    await store.add("oid-c", "cy@contoso.com", "", date(2026, 11, 4), "gpt-5", "main", priced(7.0, 7))
    charged = await usage_charged(store)(DAY)
    assert (charged.usd, charged.requests, charged.unpriced) == (pytest.approx(3.75), 9, 1)
    assert (await usage_charged(store)(date(2026, 12, 3))).requests == 0


@requires_azurite
async def test_a_run_reads_the_usage_table_and_keeps_its_row_there(
    cost_management: tuple[FakeCostManagement, str], azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bridge reconcile` and the timer: the gateway's own table, the bridge's identity (here a token
    the stand-in accepts), Cost Management."""
    fake, url = cost_management
    fake.billed.append(Billed(AOAI, DAY, 4.0))
    store = TableUsageStore(TableService(connection_string=azurite.connection_string).table(USAGE_TABLE))
    try:
        await store.add("oid-run", "run@contoso.com", "", DAY, "gpt-5", "main", priced(4.2, 6))
    finally:
        await store.aclose()
    monkeypatch.setattr(job, "management_token", lambda _url: token)
    settings = env(url, USAGE_CONNECTION_STRING=azurite.connection_string)
    result = await job.run(DAY, settings)
    assert result.bridge_usd == pytest.approx(4.2) and result.azure_usd == 4.0 and result.gap_percent == 5.0
    table = TableService(connection_string=azurite.connection_string).table(USAGE_TABLE)
    try:
        kept = await (await table.client()).get_entity(RECONCILED_PARTITION, "reconciled|2026-12-04")
    finally:
        await table.aclose()
    assert kept["bridge_usd"] == pytest.approx(4.2) and kept["requests"] == 6


def test_the_comparison() -> None:
    def gap(bridge: float, azure: float) -> Reconciliation:
        return compare(DAY, Charged(bridge, 1), azure, 1, 5.0)

    assert gap(105, 100).gap_percent == 5.0 and not gap(105, 100).over_threshold
    assert gap(94.9, 100).over_threshold and gap(94.9, 100).gap_usd == pytest.approx(-5.1)
    assert gap(0, 0).gap_percent == 0.0 and gap(1, 0).gap_percent == 100.0


def test_columns_are_read_by_name() -> None:
    found = AzureCost()
    read_page(
        {"columns": [{"name": "ResourceId"}, {"name": "UsageDate"}, {"name": "CostUSD"}], "rows": [[AOAI, 20261204, 2.5]]}, found
    )
    assert found.by_resource == {AOAI.lower(): 2.5}
    for row in ([AOAI], [AOAI, 2026, "lots"], [AOAI, 2026, "NaN"], None):
        with pytest.raises(CostQueryError):
            read_page({"columns": [{"name": "ResourceId"}, {"name": "UsageDate"}, {"name": "CostUSD"}], "rows": [row]}, found)
    with pytest.raises(CostQueryError, match="without a cost column"):
        read_page({"columns": [{"name": "ResourceId"}], "rows": [[AOAI]]}, AzureCost())


def test_the_settled_day_is_two_days_back() -> None:
    assert settled_day(datetime(2026, 12, 6, 6, 30, tzinfo=UTC)) == DAY


@pytest.mark.process  # python -m bridge reconcile
def test_the_command_line_names_what_is_missing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "reconcile", "--day", "2026-12-04"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "USAGE_TABLE_ENDPOINT or USAGE_CONNECTION_STRING" in result.stderr, result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "bridge", "reconcile", "--day", "04/12/2026"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "write YYYY-MM-DD" in bad.stderr
