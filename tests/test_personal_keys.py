"""Personal keys on both stores: made once, listed without secrets, revoked at once everywhere, resolved to their owner."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller, shared_token_caller
from bridge.gateway.auth.key_table import TableKeyStore
from bridge.gateway.auth.keys import (
    KEY_PATTERN,
    MAX_KEYS_PER_USER,
    SIGN_IN_NOTE_INTERVAL,
    TOUCH_INTERVAL,
    KeyStore,
    MemoryKeyStore,
    PersonalKeys,
)
from bridge.gateway.tables import TableService
from tests.support.azurite import Azurite, FreshTable, requires_azurite
from tests.support.stores import STORES, shared_stores

pytestmark = pytest.mark.anyio

ALICE = Caller(
    "0c5e4f3a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "alice@contoso.example",
    "entra",
    "72f988bf-86f1-41af-91ab-2d7cd011db47",
    frozenset({"Bridge.Lead"}),
    frozenset({"6d1f0c9e-2222-4bbb-9ccc-0123456789ab"}),
)
BOB = Caller("7a8b9c0d-1e2f-4a5b-9c6d-7e8f9a0b1c2d", "bob@contoso.example", "entra", ALICE.tenant_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


StoreMaker = Callable[[], KeyStore]


@pytest.fixture(params=STORES)
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreMaker]:
    """Makes stores that share one place: the same dict in memory, or the same table (as two instances would)."""
    async with shared_stores(request, MemoryKeyStore, TableKeyStore, "keys") as make:
        yield make


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(make_store: StoreMaker, clock: Clock) -> PersonalKeys:
    return PersonalKeys(make_store(), clock=clock)


async def refused(keys: PersonalKeys, secret: str) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await keys.resolve(secret)
    assert caught.value.kind == "authentication_error" and caught.value.headers == {"x-should-retry": "false"}
    assert secret == "cab_" or secret not in caught.value.message
    return caught.value


async def test_a_key_acts_as_its_owner(keys: PersonalKeys, clock: Clock) -> None:
    record, secret = await keys.create(ALICE, "cursor on my laptop")
    assert KEY_PATTERN.fullmatch(secret) and secret.startswith("cab_")
    caller = await keys.resolve(secret)
    assert caller == replace(ALICE, method="key", key_id=record.key_id)
    assert caller.log_fields() == {
        "user_id": ALICE.user_id,
        "user_name": ALICE.name,
        "auth": "key",
        "key_id": record.key_id,
        "roles": "Bridge.Lead",
        "groups": "6d1f0c9e-2222-4bbb-9ccc-0123456789ab",
    }
    assert record.expires == clock.now + timedelta(days=30), "a month, not a season"


async def test_the_listing_shows_no_secret(keys: PersonalKeys, clock: Clock) -> None:
    first, first_secret = await keys.create(ALICE, "cursor")
    clock.now += timedelta(minutes=1)
    second, second_secret = await keys.create(ALICE, "ci", lifetime_days=7)
    await keys.create(BOB, "bob's")
    listed = [record.public() for record in await keys.owned(ALICE)]
    assert listed == [
        {
            "id": first.key_id,
            "name": "cursor",
            "created_at": "2025-03-14T09:30:00Z",
            "expires_at": "2025-04-13T09:30:00Z",
            "last_used_at": None,
        },
        {
            "id": second.key_id,
            "name": "ci",
            "created_at": "2025-03-14T09:31:00Z",
            "expires_at": "2025-03-21T09:31:00Z",
            "last_used_at": None,
        },
    ]
    assert first_secret not in repr(listed) and second_secret not in repr(listed)
    assert first.secret_hash not in repr(listed)


async def test_revoking_is_seen_at_once_by_another_instance(make_store: StoreMaker, clock: Clock) -> None:
    here, there = PersonalKeys(make_store(), clock=clock), PersonalKeys(make_store(), clock=clock)
    record, secret = await here.create(ALICE, "cursor")
    kept, kept_secret = await here.create(ALICE, "other")
    assert (await there.resolve(secret)).key_id == record.key_id
    await here.revoke(ALICE, record.key_id)
    assert "revoked" in (await refused(there, secret)).message
    assert "revoked" in (await refused(here, secret)).message
    assert (await there.resolve(kept_secret)).key_id == kept.key_id
    assert [r.key_id for r in await there.owned(ALICE)] == [kept.key_id]


async def test_nobody_revokes_another_persons_key(keys: PersonalKeys) -> None:
    record, secret = await keys.create(ALICE, "cursor")
    with pytest.raises(BridgeError) as caught:
        await keys.revoke(BOB, record.key_id)
    assert caught.value.kind == "not_found_error" and record.key_id in caught.value.message
    assert (await keys.resolve(secret)).user_id == ALICE.user_id


async def test_an_unknown_key_is_refused(keys: PersonalKeys) -> None:
    error = await refused(keys, "cab_" + "A" * 43)
    assert "POST /v1/keys" in error.message


@pytest.mark.parametrize("secret", ["cab_", "cab_short", "cab_" + "A" * 44, "cab_" + "!" * 43])
async def test_a_malformed_key_is_refused_without_a_lookup(keys: PersonalKeys, secret: str) -> None:
    assert "Malformed personal key" in (await refused(keys, secret)).message


async def test_a_lapsed_key_is_refused(keys: PersonalKeys, clock: Clock) -> None:
    record, secret = await keys.create(ALICE, "short-lived", lifetime_days=1)
    clock.now += timedelta(days=1) - timedelta(seconds=1)
    assert await keys.resolve(secret)
    clock.now += timedelta(seconds=1)
    error = await refused(keys, secret)
    assert f"{record.key_id} (short-lived) expired at 2025-03-15T09:30:00Z" in error.message


async def test_last_used_is_written_at_most_every_few_minutes(keys: PersonalKeys, clock: Clock) -> None:
    record, secret = await keys.create(ALICE, "cursor")
    await keys.resolve(secret)
    first_use = clock.now
    clock.now += TOUCH_INTERVAL - timedelta(seconds=1)
    await keys.resolve(secret)
    assert (await keys.owned(ALICE))[0].last_used == first_use
    clock.now += timedelta(seconds=1)
    await keys.resolve(secret)
    assert (await keys.owned(ALICE))[0].last_used == clock.now
    assert (await keys.owned(ALICE))[0].public()["last_used_at"] == "2025-03-14T09:35:00Z"
    assert record.last_used is None


async def test_noting_last_use_never_brings_a_revoked_key_back(keys: PersonalKeys, clock: Clock) -> None:
    record, secret = await keys.create(ALICE, "cursor")
    await keys.revoke(ALICE, record.key_id)
    await keys.store.touch(record.secret_hash, clock.now)
    assert await keys.store.find(record.secret_hash) is None
    await refused(keys, secret)


async def test_only_a_person_signed_in_with_entra_makes_keys(keys: PersonalKeys) -> None:
    _, secret = await keys.create(ALICE, "cursor")
    for caller in (await keys.resolve(secret), shared_token_caller()):
        with pytest.raises(BridgeError) as caught:
            await keys.create(caller, "another")
        assert caught.value.kind == "permission_error"
    assert len(await keys.owned(ALICE)) == 1


@pytest.mark.parametrize(
    ("name", "days"), [("", None), ("   ", None), ("x" * 101, None), ("tab\there", None), ("ok", 0), ("ok", 91)]
)
async def test_bad_requests(keys: PersonalKeys, name: str, days: int | None) -> None:
    with pytest.raises(BridgeError) as caught:
        await keys.create(ALICE, name, days)
    assert caught.value.kind == "invalid_request_error"


async def test_one_person_has_a_bounded_number_of_keys(keys: PersonalKeys) -> None:
    for n in range(MAX_KEYS_PER_USER):
        await keys.create(ALICE, f"key {n}")
    with pytest.raises(BridgeError) as caught:
        await keys.create(ALICE, "one too many")
    assert "revoke one first" in caught.value.message
    assert await keys.create(BOB, "bob still can")


async def test_keys_without_a_lifetime_never_lapse(make_store: StoreMaker, clock: Clock) -> None:
    keys = PersonalKeys(make_store(), lifetime_days=None, clock=clock)
    record, secret = await keys.create(ALICE, "forever")
    clock.now += timedelta(days=3650)
    await keys.note_sign_in(ALICE)
    assert record.expires is None and (await keys.resolve(secret)).key_id == record.key_id


@requires_azurite
async def test_the_table_holds_only_the_hash(azurite: Azurite) -> None:
    async with FreshTable(azurite, "keys") as table:
        record, secret = await PersonalKeys(TableKeyStore(table.open())).create(ALICE, "cursor")
        entities = [dict(e) async for e in (await table.open().client()).list_entities()]
    assert all(secret not in str(entity) and secret[4:] not in str(entity) for entity in entities)
    [places] = [e for e in entities if e["RowKey"] == "keys"]
    assert places["PartitionKey"] == ALICE.user_id and record.key_id in places["Keys"], "the owner's places"
    [entity] = [e for e in entities if e["RowKey"] == "key"]
    assert entity["PartitionKey"] == hashlib.sha256(secret.encode()).hexdigest() == record.secret_hash
    assert all(secret not in str(value) and secret[4:] not in str(value) for value in entity.values())
    assert entity["KeyId"] == record.key_id and entity["OwnerId"] == ALICE.user_id
    assert entity["Roles"] == '["Bridge.Lead"]'


async def test_a_store_that_cannot_be_reached_is_a_retryable_error() -> None:
    unreachable = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    store = TableKeyStore(TableService(connection_string=unreachable).table("keys"))
    try:
        with pytest.raises(BridgeError) as caught:
            await PersonalKeys(store).resolve("cab_" + "A" * 43)
    finally:
        await store.aclose()
    assert caught.value.kind == "api_error" and "x-should-retry" not in caught.value.headers
    assert "look up the personal key (Azure Table 'keys', USAGE_CONNECTION_STRING)" in caught.value.message


# ----- issue 18: the 20-key limit under concurrency, keys that outlive their owner's access ------------------------


async def test_forty_concurrent_creations_on_two_instances_make_twenty_keys(make_store: StoreMaker, clock: Clock) -> None:
    here, there = PersonalKeys(make_store(), clock=clock), PersonalKeys(make_store(), clock=clock)
    outcomes = await asyncio.gather(
        *(keys.create(ALICE, f"key {n}") for n, keys in enumerate([here, there] * 20)), return_exceptions=True
    )
    made = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, BridgeError)]
    assert len(made) == MAX_KEYS_PER_USER, f"{len(made)} keys made"
    assert len(refusals) == 20 and all("revoke one first" in error.message for error in refusals)
    assert len(await there.owned(ALICE)) == MAX_KEYS_PER_USER
    await there.revoke(ALICE, made[0][0].key_id)
    assert await here.create(ALICE, "a freed place"), "revoking frees a place on every instance"


async def test_a_key_works_only_while_its_owner_keeps_signing_in(keys: PersonalKeys, clock: Clock) -> None:
    """Made while signed in; a week without an Entra sign-in (a disabled account gets no token) and it stops."""
    record, secret = await keys.create(ALICE, "cursor")
    clock.now += timedelta(days=7) - timedelta(seconds=1)
    assert (await keys.resolve(secret)).key_id == record.key_id
    clock.now += timedelta(seconds=1)
    error = await refused(keys, secret)
    assert f"{record.key_id} (cursor)" in error.message and "not signed in with Microsoft Entra ID for 7 days" in error.message
    await keys.note_sign_in(ALICE)
    assert (await keys.resolve(secret)).key_id == record.key_id, "signing in again brings it back"


class CountingSignIns(MemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.sign_in_writes = 0

    async def note_sign_in(self, user_id: str, at: datetime) -> None:
        self.sign_in_writes += 1
        await super().note_sign_in(user_id, at)


async def test_a_sign_in_is_written_at_most_once_an_hour(clock: Clock) -> None:
    store = CountingSignIns()
    keys = PersonalKeys(store, clock=clock)
    for _ in range(50):
        await keys.note_sign_in(ALICE)
        clock.now += timedelta(minutes=1)
    assert store.sign_in_writes == 1, "50 requests in 50 minutes: one write"
    clock.now += SIGN_IN_NOTE_INTERVAL
    await keys.note_sign_in(ALICE)
    await keys.note_sign_in(BOB)
    assert store.sign_in_writes == 3


async def test_another_instance_sees_the_owners_sign_in(make_store: StoreMaker, clock: Clock) -> None:
    signed_in_here, keys_used_there = PersonalKeys(make_store(), clock=clock), PersonalKeys(make_store(), clock=clock)
    record, secret = await signed_in_here.create(ALICE, "cursor")
    clock.now += timedelta(days=6)
    await signed_in_here.note_sign_in(ALICE)
    clock.now += timedelta(days=6)
    assert (await keys_used_there.resolve(secret)).key_id == record.key_id, "12 days after the key, 6 after a sign-in"
    clock.now += timedelta(days=1)
    assert "not signed in" in (await refused(keys_used_there, secret)).message


async def test_an_administrator_lists_and_revokes_anyones_keys(make_store: StoreMaker, clock: Clock) -> None:
    keys = PersonalKeys(make_store(), admin_role="Bridge.Admin", clock=clock)
    admin = replace(BOB, roles=frozenset({"Bridge.Admin"}))
    record, secret = await keys.create(ALICE, "cursor")
    assert keys.administers(admin) and not keys.administers(BOB) and not keys.administers(replace(admin, method="key"))
    for user in (ALICE.user_id, ALICE.user_id.upper(), ALICE.name):
        assert [r.key_id for r in await keys.of(user)] == [record.key_id]
    with pytest.raises(BridgeError):
        await keys.revoke(BOB, record.key_id)
    assert (await keys.revoke(admin, record.key_id)).owner.user_id == ALICE.user_id
    await refused(keys, secret)


@requires_azurite
async def test_a_place_left_by_a_dead_instance_is_reclaimed(azurite: Azurite, clock: Clock) -> None:
    """An instance died between claiming a key's place and writing the key: the place is freed once it is old."""
    from bridge.gateway.auth.key_table import CLAIM_GRACE

    async with FreshTable(azurite, "keys") as table:
        keys = PersonalKeys(TableKeyStore(table.open()), clock=clock)
        for n in range(MAX_KEYS_PER_USER):
            await keys.create(ALICE, f"key {n}")
        client = await table.open().client()
        first = (await keys.owned(ALICE))[0]
        await client.delete_entity(first.secret_hash, "key")  # its place claimed, the key never written
        clock.now += CLAIM_GRACE / 2
        with pytest.raises(BridgeError):
            await keys.create(ALICE, "too soon: the place may be being written")
        clock.now += CLAIM_GRACE
        assert await keys.create(ALICE, "the place is free again")
