"""Usage counters in an Azure Table that every instance of the bridge shares.

One entity per user, UTC day and model:

    PartitionKey  the user id (Entra object id; "shared-token", "anonymous")
    RowKey        "{YYYY-MM-DD}|{model, percent-encoded}"   a month is the RowKey range "YYYY-MM-" .. "YYYY-MM."
    Model         the model as recorded
    UserName      who that is, for people reading the table
    InputTokens, OutputTokens, Requests                      Edm.Int64 counters

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
    DayTokens, MonthTokens                   Edm.Int64
    Holds         JSON {expiry: tokens}      what requests in flight hold
    UserName

It is read with the month's rows in one query, and written with `If-Match: <the
ETag read>` (an insert when there is none), so an admission that raced another
instance's is refused by the service (412, 409) and read again.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from bridge.errors import BridgeError
from bridge.gateway.tables import Table
from bridge.gateway.usage.ledger import Ledger
from bridge.gateway.usage.store import DayUsage, LedgerConflict, LedgerRead, Tokens

USAGE_TABLE = "bridgeusage"
LEDGER_ROW = "ledger"
MAX_ATTEMPTS = 40
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5
MAX_REMEMBERED_ROWS = 10_000


def row_key(day: date, model: str) -> str:
    """`/`, `\\`, `#`, `?` and control characters are not allowed in keys: the model is percent-encoded."""
    return f"{day.isoformat()}|{quote(model, safe='')}"


def _month_range(day: date) -> tuple[str, str]:
    prefix = f"{day.year:04d}-{day.month:02d}-"
    return prefix, prefix[:-1] + "."


def _count(raw: object) -> int:
    value = raw.value if isinstance(raw, EntityProperty) else raw
    return int(value) if isinstance(value, int | str) else 0


def _tokens(entity: Mapping[str, Any]) -> Tokens:
    return Tokens(_count(entity.get("InputTokens")), _count(entity.get("OutputTokens")), _count(entity.get("Requests")))


def _int64(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT64)


def _ledger(entity: Mapping[str, Any]) -> Ledger:
    holds = json.loads(str(entity.get("Holds") or "{}"))
    return Ledger(
        date.fromisoformat(str(entity["Day"])),
        _count(entity.get("DayTokens")),
        _count(entity.get("MonthTokens")),
        {int(expires): int(tokens) for expires, tokens in holds.items()},
    )


@dataclass
class _Row:
    """One row's increments waiting in this process, and the lock of whoever writes them."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: Tokens = field(default_factory=Tokens)
    waiting: int = 0


class TableUsageStore:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._rows: dict[tuple[str, str], _Row] = {}
        self._written: dict[tuple[str, str], tuple[str, Tokens]] = {}
        self.conflicts = 0
        """Writes that lost a race to another instance and were retried (for tests and diagnostics)."""

    async def add(self, user_id: str, user_name: str, day: date, model: str, tokens: Tokens) -> None:
        key = (user_id, row_key(day, model))
        row = self._rows.setdefault(key, _Row())
        row.pending += tokens
        row.waiting += 1
        try:
            async with row.lock:
                delta, row.pending = row.pending, Tokens()
                if delta == Tokens():
                    return
                try:
                    await self._increment(key, user_name, model, delta)
                except BaseException:
                    row.pending += delta
                    raise
        finally:
            row.waiting -= 1
            if row.waiting == 0 and row.pending == Tokens():
                self._rows.pop(key, None)

    async def _increment(self, key: tuple[str, str], user_name: str, model: str, delta: Tokens) -> None:
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
                        known = (str(current.metadata["etag"]), _tokens(current))
                    except ResourceNotFoundError:
                        try:
                            written = await client.create_entity(self._entity(key, user_name, model, delta))
                            self._remember(key, written, delta)
                            return
                        except ResourceExistsError:
                            pass
                if known is not None:
                    etag, stored = known
                    try:
                        written = await client.update_entity(
                            self._entity(key, user_name, model, stored + delta),
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

    def _remember(self, key: tuple[str, str], written: Mapping[str, Any], tokens: Tokens) -> None:
        """The row as this process wrote it, so the next increment can skip the read (if nobody wrote since)."""
        if len(self._written) >= MAX_REMEMBERED_ROWS:
            self._written.clear()
        etag = written.get("etag")
        if isinstance(etag, str):
            self._written[key] = (etag, tokens)

    @staticmethod
    def _entity(key: tuple[str, str], user_name: str, model: str, tokens: Tokens) -> dict[str, Any]:
        return {
            "PartitionKey": key[0],
            "RowKey": key[1],
            "Model": model,
            "UserName": user_name,
            "InputTokens": _int64(tokens.input),
            "OutputTokens": _int64(tokens.output),
            "Requests": _int64(tokens.requests),
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
            day_text, _, model = str(entity["RowKey"]).partition("|")
            rows.append(DayUsage(date.fromisoformat(day_text), str(entity.get("Model") or unquote(model)), _tokens(entity)))
        return LedgerRead(ledger, version, rows)

    async def write_ledger(self, user_id: str, user_name: str, ledger: Ledger, version: str | None) -> str:
        entity = {
            "PartitionKey": user_id,
            "RowKey": LEDGER_ROW,
            "Day": ledger.day.isoformat(),
            "DayTokens": _int64(ledger.day_tokens),
            "MonthTokens": _int64(ledger.month_tokens),
            "Holds": json.dumps({str(expires): tokens for expires, tokens in ledger.holds.items()}, separators=(",", ":")),
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
