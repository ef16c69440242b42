"""Where sign-ins live: rows of plain values (str, bool, int, float), read and written under optimistic concurrency.

    operation                 Azure Table (`TableRows`)                     memory (`MemoryRows`)
    read(partition, row)      point read: the row and its ETag              the row and its version
    insert(row)               create: False when it exists (409)            False when it exists
    replace(row, etag)        update If-Match etag: False when changed      False when the version moved
                              since (412) or gone (404); etag None: upsert
    delete(partition, row)    delete (gone already is fine)

Every instance of the bridge sees the same table, so any of them answers any step of a sign-in, and a
row taken once (a device grant, a browser flow, a refresh) is taken by exactly one of them: each step
that consumes a row replaces it with the ETag it read.  Without a table (no USAGE_*), one process
keeps them in memory: fine for `python -m bridge`, lost at restart.  Storage outages are a retryable
503 naming the table (`Table.unavailable`).
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from bridge.gateway.tables import Table

LOGIN_TABLE = "bridgelogin"
Row = dict[str, Any]
"""PartitionKey, RowKey and plain values."""
MEMORY_ROWS_LIMIT = 100_000
"""Memory rows beyond this are dropped oldest first (no table: one process, a bounded footprint)."""


class Rows(Protocol):
    async def read(self, partition: str, row: str) -> tuple[Row, str] | None: ...

    async def insert(self, entity: Row) -> bool: ...

    async def replace(self, entity: Row, etag: str | None) -> bool: ...

    async def delete(self, partition: str, row: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryRows:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], tuple[Row, str]] = {}
        self._versions = itertools.count(1)

    async def read(self, partition: str, row: str) -> tuple[Row, str] | None:
        found = self._rows.get((partition, row))
        return (dict(found[0]), found[1]) if found is not None else None

    def _put(self, entity: Row) -> None:
        if len(self._rows) >= MEMORY_ROWS_LIMIT:
            del self._rows[next(iter(self._rows))]
        self._rows[(entity["PartitionKey"], entity["RowKey"])] = (dict(entity), str(next(self._versions)))

    async def insert(self, entity: Row) -> bool:
        if (entity["PartitionKey"], entity["RowKey"]) in self._rows:
            return False
        self._put(entity)
        return True

    async def replace(self, entity: Row, etag: str | None) -> bool:
        found = self._rows.get((entity["PartitionKey"], entity["RowKey"]))
        if etag is not None and (found is None or found[1] != etag):
            return False
        self._put(entity)
        return True

    async def delete(self, partition: str, row: str) -> None:
        self._rows.pop((partition, row), None)

    async def aclose(self) -> None:
        return None


def _plain(entity: Any) -> Row:
    """A row as read, with its values plain (the SDK wraps some in EntityProperty)."""
    return {name: getattr(value, "value", value) for name, value in dict(entity).items()}


class TableRows:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def read(self, partition: str, row: str) -> tuple[Row, str] | None:
        try:
            entity = await (await self.table.client()).get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self.table.unavailable("read the sign-in", exc) from None
        return _plain(entity), str(entity.metadata["etag"])

    async def insert(self, entity: Row) -> bool:
        try:
            await (await self.table.client()).create_entity(entity)
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise self.table.unavailable("store the sign-in", exc) from None
        return True

    async def replace(self, entity: Row, etag: str | None) -> bool:
        try:
            client = await self.table.client()
            if etag is None:
                await client.upsert_entity(entity, mode=UpdateMode.REPLACE)
            else:
                await client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except AzureError as exc:
            raise self.table.unavailable("update the sign-in", exc) from None
        return True

    async def delete(self, partition: str, row: str) -> None:
        try:
            await (await self.table.client()).delete_entity(partition, row)
        except AzureError as exc:
            raise self.table.unavailable("remove the sign-in", exc) from None

    async def aclose(self) -> None:
        await self.table.aclose()
