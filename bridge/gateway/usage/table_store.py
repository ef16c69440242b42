"""Usage counters in an Azure Table that every instance of the bridge shares.

One entity per user, UTC day, deployment and agent:

    PartitionKey  the user id (Entra object id; "shared-token", "anonymous")
    RowKey        "{YYYY-MM-DD}|{deployment, percent-encoded}", "...|subagent" for subagents' requests
                  (a month is the RowKey range "YYYY-MM-" .. "YYYY-MM.")
    Model         the deployment as recorded
    Agent         "main" or "subagent" (absent on rows older than issue 20: main)
    UserName      who that is, and Roles, their app roles (comma-separated), as last written: for people reading
                  the table and for the chargeback export
    InputTokens (cached included), CachedTokens, OutputTokens, Requests, CostMicros (micro-dollars),
    UnpricedRequests (requests whose deployment had no price)                Edm.Int64 counters
                  (a row without CostMicros predates prices: its requests count as unpriced)

Counting never loses an update: an increment replaces the entity with
`If-Match: <its ETag>`, the ETag this process got from its own last write of
the row (no read needed) or else from a fresh read; when another instance
wrote in between, the service answers 412 and the increment reads again
(a first write is an insert, which answers 409 to the loser of a race).  Within one process, increments of
the same row are queued behind one lock and merged: whoever holds the lock
writes everything that piled up meanwhile, so a burst of concurrent requests
costs a few writes, not one conflict-and-retry each.

Each user's budget ledger (`bridge.gateway.usage.ledger`) is one more entity in their partition:

    RowKey        "ledger"                   outside every month's RowKey range
    Day           YYYY-MM-DD
    DayTokens, MonthTokens, DayMicros, MonthMicros                  Edm.Int64
    Holds         JSON {expiry: [tokens, micro-dollars]}    what requests in flight hold (a bare number: tokens)
    Window        JSON [start, requests, tokens, previous requests, previous tokens]   the rate-limit window
    Warned        the warnings given, comma-separated ("usd-day@2026-12-06")
    Limits        JSON, the limits of the last admission (`bridge.gateway.usage.limits.Limits`)
    UserName

It is read with the month's rows in one query, and written with `If-Match: <the
ETag read>` (an insert when there is none), so an admission that raced another
instance's is refused by the service (412, 409) and read again.

An administrator's reads cross partitions: a person found by UserName, and a
month's rows of everyone (the RowKey range of the month), for the export.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from bridge.config.kinds import GUID_PATTERN
from bridge.errors import BridgeError
from bridge.gateway.tables import Table
from bridge.gateway.usage.ledger import Amount, Ledger
from bridge.gateway.usage.limits import Limits
from bridge.gateway.usage.store import NOTHING, Agent, Counts, DayUsage, LedgerConflict, LedgerRead, UsageRow
from bridge.gateway.usage.window import Window

USAGE_TABLE = "bridgeusage"
LEDGER_ROW = "ledger"
SUBAGENT = "subagent"
MAX_ATTEMPTS = 40
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5
MAX_REMEMBERED_ROWS = 10_000


def row_key(day: date, model: str, agent: Agent = "main") -> str:
    """`/`, `\\`, `#`, `?` and control characters are not allowed in keys: the model is percent-encoded."""
    key = f"{day.isoformat()}|{quote(model, safe='')}"
    return key + f"|{SUBAGENT}" if agent == SUBAGENT else key


def _month_range(day: date) -> tuple[str, str]:
    prefix = f"{day.year:04d}-{day.month:02d}-"
    return prefix, prefix[:-1] + "."


def _count(raw: object) -> int:
    value = raw.value if isinstance(raw, EntityProperty) else raw
    return int(value) if isinstance(value, int | str) else 0


def _counts(entity: Mapping[str, Any]) -> Counts:
    requests = _count(entity.get("Requests"))
    priced = "CostMicros" in entity
    return Counts(
        _count(entity.get("InputTokens")),
        _count(entity.get("CachedTokens")),
        _count(entity.get("OutputTokens")),
        requests,
        _count(entity.get("CostMicros")),
        _count(entity.get("UnpricedRequests")) if priced else requests,
    )


def _usage(entity: Mapping[str, Any]) -> DayUsage:
    day_text, _, rest = str(entity["RowKey"]).partition("|")
    model, _, agent = rest.partition("|")
    return DayUsage(
        date.fromisoformat(day_text),
        str(entity.get("Model") or unquote(model)),
        _counts(entity),
        "subagent" if agent == SUBAGENT else "main",
    )


def _int64(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT64)


def _held(value: Any) -> Amount:
    return Amount(int(value[0]), int(value[1])) if isinstance(value, list) else Amount(int(value))


def _ledger(entity: Mapping[str, Any]) -> Ledger:
    holds = json.loads(str(entity.get("Holds") or "{}"))
    window = json.loads(str(entity.get("Window") or "[]"))
    limits = json.loads(str(entity.get("Limits") or "null"))
    warned = str(entity.get("Warned") or "")
    return Ledger(
        date.fromisoformat(str(entity["Day"])),
        Amount(_count(entity.get("DayTokens")), _count(entity.get("DayMicros"))),
        Amount(_count(entity.get("MonthTokens")), _count(entity.get("MonthMicros"))),
        {int(expires): _held(amount) for expires, amount in holds.items()},
        Window(*(int(v) for v in window[:5])) if window else Window(),
        frozenset(key for key in warned.split(",") if key),
        Limits(*limits) if isinstance(limits, list) else None,
    )


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class _Row:
    """One row's increments waiting in this process, and the lock of whoever writes them."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: Counts = NOTHING
    waiting: int = 0


class TableUsageStore:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._rows: dict[tuple[str, str], _Row] = {}
        self._written: dict[tuple[str, str], tuple[str, Counts]] = {}
        self.conflicts = 0
        """Writes that lost a race to another instance and were retried (for tests and diagnostics)."""

    async def add(self, user_id: str, user_name: str, roles: str, day: date, model: str, agent: Agent, counts: Counts) -> None:
        key = (user_id, row_key(day, model, agent))
        row = self._rows.setdefault(key, _Row())
        row.pending += counts
        row.waiting += 1
        try:
            async with row.lock:
                delta, row.pending = row.pending, NOTHING
                if delta == NOTHING:
                    return
                try:
                    await self._increment(key, (user_name, roles, model, agent), delta)
                except BaseException:
                    row.pending += delta
                    raise
        finally:
            row.waiting -= 1
            if row.waiting == 0 and row.pending == NOTHING:
                self._rows.pop(key, None)

    async def _increment(self, key: tuple[str, str], about: tuple[str, str, str, Agent], delta: Counts) -> None:
        """Add `delta` to the row: a conditional replace on the ETag this process last saw, else on a fresh read."""
        user_id, row = key
        known = self._written.pop(key, None)
        try:
            client = await self.table.client()
            for attempt in range(MAX_ATTEMPTS):
                fresh = known is None
                if known is None:
                    try:
                        current = await client.get_entity(user_id, row)
                        known = (str(current.metadata["etag"]), _counts(current))
                    except ResourceNotFoundError:
                        try:
                            written = await client.create_entity(self._entity(key, about, delta))
                            self._remember(key, written, delta)
                            return
                        except ResourceExistsError:
                            pass
                if known is not None:
                    etag, stored = known
                    try:
                        written = await client.update_entity(
                            self._entity(key, about, stored + delta),
                            mode=UpdateMode.REPLACE,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        )
                        self._remember(key, written, stored + delta)
                        return
                    except ResourceModifiedError:
                        known = None
                self.conflicts += 1
                if fresh:
                    await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)))
        except AzureError as exc:
            raise self.table.unavailable("count the request's tokens", exc) from None
        raise BridgeError(
            "api_error",
            f"Could not count the request's tokens: {MAX_ATTEMPTS} attempts lost races (Azure Table {self.table.name!r})",
        )

    def _remember(self, key: tuple[str, str], written: Mapping[str, Any], tokens: Counts) -> None:
        """The row as this process wrote it, so the next increment can skip the read (if nobody wrote since)."""
        if len(self._written) >= MAX_REMEMBERED_ROWS:
            self._written.clear()
        etag = written.get("etag")
        if isinstance(etag, str):
            self._written[key] = (etag, tokens)

    @staticmethod
    def _entity(key: tuple[str, str], about: tuple[str, str, str, Agent], counts: Counts) -> dict[str, Any]:
        user_name, roles, model, agent = about
        return {
            "PartitionKey": key[0],
            "RowKey": key[1],
            "Model": model,
            "Agent": agent,
            "UserName": user_name,
            "Roles": roles,
            "InputTokens": _int64(counts.input),
            "CachedTokens": _int64(counts.cached),
            "OutputTokens": _int64(counts.output),
            "Requests": _int64(counts.requests),
            "CostMicros": _int64(counts.micros),
            "UnpricedRequests": _int64(counts.unpriced),
        }

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        return (await self._read(user_id, day, with_ledger=False)).rows

    async def read_ledger(self, user_id: str, day: date) -> LedgerRead:
        return await self._read(user_id, day, with_ledger=True)

    async def _read(self, user_id: str, day: date, *, with_ledger: bool) -> LedgerRead:
        low, high = _month_range(day)
        query = "PartitionKey eq @user and ( RowKey ge @low and RowKey lt @high"  # the SDK substitutes @words split on spaces
        query += f" or RowKey eq '{LEDGER_ROW}' )" if with_ledger else " )"
        try:
            client = await self.table.client()
            entities = client.query_entities(query, parameters={"user": user_id, "low": low, "high": high})
            found = [e async for e in entities]
        except AzureError as exc:
            raise self.table.unavailable("read the caller's usage", exc) from None
        rows: list[DayUsage] = []
        ledger: Ledger | None = None
        version: str | None = None
        for entity in found:
            if entity["RowKey"] == LEDGER_ROW:
                ledger, version = _ledger(entity), str(entity.metadata["etag"])
                continue
            rows.append(_usage(entity))
        return LedgerRead(ledger, version, rows)

    async def find_user(self, who: str) -> tuple[str, str] | None:
        query = "PartitionKey eq @who" if GUID_PATTERN.fullmatch(who) else "UserName eq @who"
        try:
            client = await self.table.client()
            entities = client.query_entities(
                query, parameters={"who": who}, select=["PartitionKey", "UserName"], results_per_page=1
            )
            async for entity in entities:
                return str(entity["PartitionKey"]), str(entity["UserName"])
        except AzureError as exc:
            raise self.table.unavailable("find the person", exc) from None
        return None

    async def everyone(self, day: date) -> list[UsageRow]:
        low, high = _month_range(day)
        try:
            client = await self.table.client()
            entities = client.query_entities("RowKey ge @low and RowKey lt @high", parameters={"low": low, "high": high})
            found = [e async for e in entities]
        except AzureError as exc:
            raise self.table.unavailable("read everyone's usage", exc) from None
        return [
            UsageRow(str(e["PartitionKey"]), str(e.get("UserName") or e["PartitionKey"]), str(e.get("Roles") or ""), _usage(e))
            for e in found
        ]

    async def write_ledger(self, user_id: str, user_name: str, ledger: Ledger, version: str | None) -> str:
        window = ledger.window
        entity = {
            "PartitionKey": user_id,
            "RowKey": LEDGER_ROW,
            "Day": ledger.day.isoformat(),
            "DayTokens": _int64(ledger.today.tokens),
            "MonthTokens": _int64(ledger.month.tokens),
            "DayMicros": _int64(ledger.today.micros),
            "MonthMicros": _int64(ledger.month.micros),
            "Holds": _json({str(expires): [held.tokens, held.micros] for expires, held in ledger.holds.items()}),
            "Window": _json([window.start, window.requests, window.tokens, window.previous_requests, window.previous_tokens]),
            "Warned": ",".join(sorted(ledger.warned)),
            "Limits": _json(list(astuple(ledger.limits)) if ledger.limits is not None else None),
            "UserName": user_name,
        }
        try:
            client = await self.table.client()
            if version is None:
                written = await client.create_entity(entity)
            else:
                written = await client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=version, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceExistsError, ResourceModifiedError):
            raise LedgerConflict(user_id) from None
        except AzureError as exc:
            raise self.table.unavailable("hold the request's tokens in the caller's budget", exc) from None
        return str(written["etag"])

    async def aclose(self) -> None:
        await self.table.aclose()
