"""Personal keys in an Azure Table, seen by every instance of the bridge.

One entity per key, found by a point read on the hash of the secret:

    PartitionKey  SHA-256 of the secret (hex)     a request's lookup is one point read
    RowKey        "key"
    KeyId         key_<16 hex>                    what the owner sees and revokes by
    Name          the owner's label
    OwnerId       Entra object id                 listing and revoking filter on it (rare: a scan is fine)
    OwnerName, TenantId
    Roles, Groups JSON lists of strings           the owner's app roles and groups when the key was made
    GroupsOverage true when the owner's token listed none of their groups (too many)
    Created, Expires (absent: never), LastUsed    UTC datetimes

and two per owner, in a partition of their own (their object id: a GUID, never a 64-digit hash):

    RowKey "keys"    Keys: JSON {key id: [secret hash, when claimed]}   the owner's places, at most the limit
    RowKey "signin"  At: their last Entra ID sign-in

The limit on keys is atomic across instances: a key claims its place in the
owner's "keys" entity first, with a conditional write (`If-Match` its ETag; an
insert for the first), and only then is written itself; the loser of a race
reads again.  Revoking deletes the key, then frees its place.  A place whose key
does not exist (an instance that died between the two writes) is reclaimed once
it is CLAIM_GRACE old, when the places are full.  Keys made before the places
existed are counted in when an owner's "keys" entity is first made.

Deleting the key entity revokes the key for every instance at once; "last
used" is a MERGE with `If-Match: *`, so it never brings a revoked key back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import caller_fields, caller_of
from bridge.gateway.auth.keys import KeyRecord
from bridge.gateway.tables import Table

KEYS_TABLE = "bridgekeys"
ROW = "key"
PLACES_ROW = "keys"
SIGN_IN_ROW = "signin"
CLAIM_GRACE = timedelta(minutes=1)
"""A place younger than this is kept even if its key is not there yet: it may be being written."""
MAX_ATTEMPTS = 40
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5
Places = dict[str, tuple[str, datetime]]
"""An owner's places: key id → (the key's secret hash, when the place was claimed)."""

log = logging.getLogger(__name__)


def _entity(record: KeyRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.secret_hash,
        "RowKey": ROW,
        "KeyId": record.key_id,
        "Name": record.name,
        **caller_fields(record.owner),
        "Created": record.created,
    }
    if record.expires is not None:
        entity["Expires"] = record.expires
    if record.last_used is not None:
        entity["LastUsed"] = record.last_used
    return entity


def _datetime(raw: object) -> datetime | None:
    return raw if isinstance(raw, datetime) else None


def _record(entity: dict[str, Any]) -> KeyRecord:
    owner = caller_of(entity, "entra")
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


def _places(entity: dict[str, Any]) -> Places:
    raw = json.loads(str(entity.get("Keys") or "{}"))
    return {key_id: (str(hash_), datetime.fromisoformat(str(at))) for key_id, (hash_, at) in raw.items()}


def _places_entity(owner: str, places: Places) -> dict[str, Any]:
    keys = {key_id: [hash_, at.isoformat()] for key_id, (hash_, at) in places.items()}
    return {"PartitionKey": owner, "RowKey": PLACES_ROW, "Keys": json.dumps(keys, separators=(",", ":"))}


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)))


class TableKeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, record: KeyRecord, limit: int) -> bool:
        owner = record.owner.user_id
        try:
            client = await self.table.client()
            if not await self._claim(client, record, limit):
                return False
            try:
                await client.create_entity(_entity(record))
            except AzureError:
                await self._release(client, owner, record.key_id)
                raise
        except AzureError as exc:
            raise self.table.unavailable("store the new personal key", exc) from None
        return True

    async def _claim(self, client: TableClient, record: KeyRecord, limit: int) -> bool:
        """Take one of the owner's `limit` places for `record` (False when all are taken): a conditional write."""
        owner = record.owner.user_id
        for attempt in range(MAX_ATTEMPTS):
            etag, places = await self._read_places(client, owner)
            if len(places) >= limit:
                places = await self._reclaimed(places, record.created)
                if len(places) >= limit:
                    return False
            places[record.key_id] = (record.secret_hash, record.created)
            try:
                await self._write_places(client, owner, places, etag)
                return True
            except (ResourceModifiedError, ResourceExistsError):
                await _backoff(attempt)
        raise BridgeError("api_error", f"Could not store the new personal key: {MAX_ATTEMPTS} attempts lost races")

    async def _read_places(self, client: TableClient, owner: str) -> tuple[str | None, Places]:
        """The owner's places and their ETag; an owner without a "keys" entity yet: the keys they have (no ETag)."""
        try:
            entity = await client.get_entity(owner, PLACES_ROW)
        except ResourceNotFoundError:
            return None, {r.key_id: (r.secret_hash, r.created) for r in await self.owned_by(owner)}
        return str(entity.metadata["etag"]), _places(dict(entity))

    @staticmethod
    async def _write_places(client: TableClient, owner: str, places: Places, etag: str | None) -> None:
        entity = _places_entity(owner, places)
        if etag is None:
            await client.create_entity(entity)
        else:
            await client.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified)

    async def _reclaimed(self, places: Places, now: datetime) -> Places:
        """`places` without those whose key does not exist and that are older than CLAIM_GRACE."""
        kept: Places = {}
        for key_id, (secret_hash, claimed) in places.items():
            if now - claimed < CLAIM_GRACE or await self.find(secret_hash) is not None:
                kept[key_id] = (secret_hash, claimed)
        return kept

    async def _release(self, client: TableClient, owner: str, key_id: str) -> None:
        """Free the place of `key_id` (a place left behind is reclaimed later: this never raises for storage)."""
        try:
            for attempt in range(MAX_ATTEMPTS):
                etag, places = await self._read_places(client, owner)
                if etag is None or places.pop(key_id, None) is None:
                    return
                try:
                    await self._write_places(client, owner, places, etag)
                    return
                except ResourceModifiedError:
                    await _backoff(attempt)
        except AzureError as exc:
            log.warning("could not free the place of personal key %s: %s", key_id, exc)

    async def find(self, secret_hash: str) -> KeyRecord | None:
        entity = await self._point_read(secret_hash, ROW, "look up the personal key")
        return _record(entity) if entity is not None else None

    async def _point_read(self, partition: str, row: str, action: str) -> dict[str, Any] | None:
        try:
            return dict(await (await self.table.client()).get_entity(partition, row))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self.table.unavailable(action, exc) from None

    async def owned_by(self, user_id: str) -> list[KeyRecord]:
        return await self._query("OwnerId eq @owner", {"owner": user_id})

    async def named(self, name: str) -> list[KeyRecord]:
        return await self._query("OwnerName eq @name", {"name": name})

    async def _query(self, query: str, parameters: dict[str, Any]) -> list[KeyRecord]:
        try:
            entities = (await self.table.client()).query_entities(f"RowKey eq '{ROW}' and {query}", parameters=parameters)
            return [_record(dict(e)) async for e in entities]
        except AzureError as exc:
            raise self.table.unavailable("list the personal keys", exc) from None

    async def remove(self, user_id: str | None, key_id: str) -> KeyRecord | None:
        query, parameters = "KeyId eq @key", {"key": key_id}
        if user_id is not None:
            query, parameters = query + " and OwnerId eq @owner", {**parameters, "owner": user_id}
        removed: KeyRecord | None = None
        try:
            client = await self.table.client()
            for record in await self._query(query, parameters):
                await client.delete_entity(record.secret_hash, ROW)
                await self._release(client, record.owner.user_id, record.key_id)
                removed = record
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

    async def note_sign_in(self, user_id: str, at: datetime) -> None:
        entity = {"PartitionKey": user_id, "RowKey": SIGN_IN_ROW, "At": at}
        try:
            await (await self.table.client()).upsert_entity(entity, mode=UpdateMode.MERGE)
        except AzureError as exc:
            raise self.table.unavailable("record the sign-in", exc) from None

    async def last_sign_in(self, user_id: str) -> datetime | None:
        entity = await self._point_read(user_id, SIGN_IN_ROW, "read the key owner's last sign-in")
        at = entity.get("At") if entity is not None else None
        return at.astimezone(UTC) if isinstance(at, datetime) else None

    async def aclose(self) -> None:
        await self.table.aclose()
