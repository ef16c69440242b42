"""The daily reconciliation: Azure's bill for a day against what the bridge charged, kept and told.

    step                        from / to
    the day                     `settled_day`: two days back (Cost Management's data settles 8-24 hours after
                                the day); `python -m bridge reconcile --day YYYY-MM-DD` any day
    Azure's cost                Cost Management (`bridge.reconcile.cost_management`) for RECONCILE_RESOURCE_IDS,
                                signed in with the bridge's identity (Cost Management Reader, infra/cost-reader.bicep)
    the bridge's cost           what the gateway's usage table charged that day (`bridge.reconcile.charged`)
    the comparison              `bridge.reconcile.comparison`: the gap, over RECONCILE_GAP_PERCENT or not
    kept                        a row of the usage table (`RECONCILED_PARTITION`, RowKey "reconciled|<day>",
                                outside every user's partition and every month's RowKey range); without a
                                table (USAGE_*) there is nothing to reconcile: each instance's charges are its own
    told                        one JSON log line (a WARNING when over the threshold), and the `bridge.reconcile`
                                event when telemetry exports (the workbook's view and the alert on the gap)

The timer in function_app.py and the CLI call `run`; nothing here is imported by the request path.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from bridge.config.table import AZURE_MANAGEMENT_URL, RECONCILE_GAP_PERCENT, RECONCILE_RESOURCE_IDS
from bridge.gateway.tables import Table
from bridge.gateway.usage.periods import utc_day
from bridge.reconcile.comparison import ChargedOn, Reconciliation, compare
from bridge.reconcile.cost_management import CostManagement, CostQueryError, Token, resource_group_of
from bridge.telemetry import setup

SETTLED_DAYS = 2
EVENT_NAME = "bridge.reconcile"
RECONCILED_PARTITION = "reconciliation"
log = logging.getLogger(__name__)


class ReconcileError(Exception):
    """The day could not be reconciled; the message says what to fix."""


def settled_day(now: datetime) -> date:
    return utc_day(now) - timedelta(days=SETTLED_DAYS)


def resource_ids(env: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    raw = RECONCILE_RESOURCE_IDS.value(env, problems) or ""
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if problems or not ids:
        raise ReconcileError(
            f"{RECONCILE_RESOURCE_IDS.name} is not set: name the Azure OpenAI resources whose bill to reconcile (azd up sets it)"
        )
    for resource_id in ids:
        try:
            resource_group_of(resource_id)
        except ValueError as reason:
            raise ReconcileError(f"{RECONCILE_RESOURCE_IDS.name}: {reason}") from None
    return ids


def row(result: Reconciliation) -> dict[str, Any]:
    return {"PartitionKey": RECONCILED_PARTITION, "RowKey": f"reconciled|{result.day.isoformat()}", **result.fields()}


async def keep(table: Table, result: Reconciliation) -> None:
    """Write the day's row (a later run of the same day replaces it: Azure's cost may be rerated)."""
    client = await table.client()
    await client.upsert_entity(row(result))


def tell(result: Reconciliation) -> None:
    fields = result.fields()
    log.info(json.dumps({"event": EVENT_NAME, **fields}, separators=(",", ":")))
    if result.over_threshold:
        log.warning(
            "reconcile %s: the bridge charged %.2f USD, Azure billed %.2f USD (%+.1f%%, more than %s%% apart): a price "
            "is wrong, traffic bypasses the bridge, or usage goes uncounted",
            fields["day"],
            result.bridge_usd,
            result.azure_usd,
            result.gap_percent,
            result.threshold_percent,
        )
    telemetry = setup.current()
    if telemetry is not None:
        telemetry.event(EVENT_NAME, fields)
        telemetry.flush()


async def reconcile(
    day: date,
    env: Mapping[str, str],
    charged_on: ChargedOn,
    token: Token,
    table: Table | None,
) -> Reconciliation:
    """Reconcile `day`: ask Azure, compare with `charged_on`, keep the row in `table` (if any), tell."""
    ids = resource_ids(env)
    problems: list[str] = []
    threshold = RECONCILE_GAP_PERCENT.value_or_default(env, problems)
    management_url = AZURE_MANAGEMENT_URL.value_or_default(env, problems)
    if problems:
        raise ReconcileError("; ".join(problems))
    try:
        azure = await CostManagement(management_url, token).cost(day, ids)
    except CostQueryError as reason:
        raise ReconcileError(str(reason)) from None
    result = compare(day, await charged_on(day), azure.usd, len(ids), threshold)
    if table is not None:
        try:
            await keep(table, result)
        except AzureError as exc:
            log.error("reconcile %s: the row could not be written to table %s: %s", day, table.name, exc)
    tell(result)
    return result


def management_token(management_url: str) -> Token:
    """A token for Resource Manager from the bridge's own identity, fetched once per run (one run a day)."""
    fetched: list[str] = []

    async def token() -> str:
        if not fetched:
            from bridge.upstreams.credentials import identity_credential

            credential = identity_credential()
            try:
                fetched.append(str((await credential.get_token(f"{management_url.rstrip('/')}/.default")).token))
            except Exception as exc:
                raise CostQueryError(f"the bridge's identity could not sign in to {management_url}: {exc}") from None
            finally:
                await credential.close()
        return fetched[0]

    return token


async def run(day: date, env: Mapping[str, str] | None = None) -> Reconciliation:
    """Reconcile `day` with the gateway's usage table and the bridge's identity (the timer, the CLI)."""
    from bridge.gateway.build import build_gateway
    from bridge.gateway.settings import load_gateway_settings
    from bridge.gateway.usage.table_store import USAGE_TABLE
    from bridge.reconcile.charged import usage_charged

    env = os.environ if env is None else env
    gateway = build_gateway(load_gateway_settings(env), None)
    if gateway.tables is None:
        await gateway.aclose()
        raise ReconcileError(
            "the bridge's usage is in a table only with USAGE_TABLE_ENDPOINT or USAGE_CONNECTION_STRING (azd up sets the "
            "first): without one, no instance's charges can be read back"
        )
    table = gateway.tables.table(USAGE_TABLE)
    try:
        problems: list[str] = []
        token = management_token(AZURE_MANAGEMENT_URL.value_or_default(env, problems))
        return await reconcile(day, env, usage_charged(gateway.budget.store), token, table)
    finally:
        await table.aclose()
        await gateway.aclose()


async def on_timer() -> None:
    """The timer's run (function_app.py, daily): the last settled day; a day that cannot be reconciled is logged
    as an error (Application Insights keeps it), and the next run tries the next day."""
    from bridge.gateway.clock import utc_now

    try:
        await run(settled_day(utc_now()))
    except ReconcileError as reason:
        log.error("reconcile: %s", reason)
