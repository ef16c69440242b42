"""Personal keys in an Azure Table, seen by every instance of the bridge.

One entity per key, found by a point read on the hash of the secret:

    PartitionKey  SHA-256 of the secret (hex)     a request's lookup is one point read
    RowKey        "key"
    KeyId         key_<16 hex>                    what the owner sees and revokes by
    Name          the owner's label
    OwnerId       Entra object id                 listing and revoking filter on it (rare: a scan is fine)
    OwnerName, TenantId
    Roles, Groups JSON lists of strings           the owner's app roles and groups when the key was made
    Created, Expires (absent: never), LastUsed    UTC datetimes

Deleting the entity revokes the key for every instance at once; "last used"
is a MERGE with `If-Match: *`, so it never brings a revoked key back.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from bridge.callers.caller import Caller
from bridge.callers.keys import KeyRecord
from bridge.tables import Table

KEYS_TABLE = "bridgekeys"
ROW = "key"

log = logging.getLogger("bridge.keys")


def _entity(record: KeyRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.secret_hash,
        "RowKey": ROW,
        "KeyId": record.key_id,
        "Name": record.name,
        "OwnerId": record.owner.user_id,
        "OwnerName": record.owner.name,
        "TenantId": record.owner.tenant_id,
        "Roles": json.dumps(sorted(record.owner.roles)),
        "Groups": json.dumps(sorted(record.owner.groups)),
        "Created": record.created,
    }
    if record.expires is not None:
        entity["Expires"] = record.expires
    if record.last_used is not None:
        entity["LastUsed"] = record.last_used
    return entity


def _strings(raw: object) -> frozenset[str]:
    values = json.loads(raw) if isinstance(raw, str) else []
    return frozenset(v for v in values if isinstance(v, str)) if isinstance(values, list) else frozenset()


def _datetime(raw: object) -> datetime | None:
    return raw if isinstance(raw, datetime) else None


def _record(entity: dict[str, Any]) -> KeyRecord:
    owner = Caller(
        str(entity["OwnerId"]),
        str(entity.get("OwnerName", "")),
        "entra",
        str(entity.get("TenantId", "")),
        _strings(entity.get("Roles")),
        _strings(entity.get("Groups")),
    )
    created = _datetime(entity.get("Created"))
    assert created is not None, "a key entity always has Created"
    return KeyRecord(
        key_id=str(entity["KeyId"]),
        secret_hash=str(entity["PartitionKey"]),
        name=str(entity.get("Name", "")),
        owner=owner,
        created=created,
        expires=_datetime(entity.get("Expires")),
        last_used=_datetime(entity.get("LastUsed")),
    )


class TableKeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, record: KeyRecord) -> None:
        try:
            await (await self.table.client()).create_entity(_entity(record))
        except AzureError as exc:
            raise self.table.unavailable("store the new personal key", exc) from None

    async def find(self, secret_hash: str) -> KeyRecord | None:
        try:
            entity = await (await self.table.client()).get_entity(secret_hash, ROW)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self.table.unavailable("look up the personal key", exc) from None
        return _record(dict(entity))

    async def owned_by(self, user_id: str) -> list[KeyRecord]:
        try:
            client = await self.table.client()
            return [_record(dict(e)) async for e in client.query_entities("OwnerId eq @owner", parameters={"owner": user_id})]
        except AzureError as exc:
            raise self.table.unavailable("list the personal keys", exc) from None

    async def remove(self, user_id: str, key_id: str) -> bool:
        removed = False
        try:
            client = await self.table.client()
            query = "OwnerId eq @owner and KeyId eq @key"
            async for entity in client.query_entities(query, parameters={"owner": user_id, "key": key_id}):
                await client.delete_entity(entity["PartitionKey"], entity["RowKey"])
                removed = True
        except AzureError as exc:
            raise self.table.unavailable("revoke the personal key", exc) from None
        return removed

    async def touch(self, secret_hash: str, at: datetime) -> None:
        entity = {"PartitionKey": secret_hash, "RowKey": ROW, "LastUsed": at}
        try:
            await (await self.table.client()).update_entity(entity, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            log.warning("could not note when a personal key was last used: %s", exc)

    async def aclose(self) -> None:
        await self.table.aclose()
