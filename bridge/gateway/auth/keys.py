"""Personal keys: a long-lived secret for clients that cannot run a token helper (Cursor), acting as its owner.

A key is `cab_` followed by 43 characters of `secrets.token_urlsafe(32)` (256
random bits).  Only its SHA-256 is stored: a slow password hash (bcrypt,
scrypt, argon2) exists to make guessing low-entropy passwords expensive, and
nobody can guess 256 random bits however fast the hash is, so a plain SHA-256
is as safe here and keeps the lookup a single point read (the hash is the
storage key).  The owner sees the secret once, in the answer to its creation.

Revoking is seen at once by every instance: nothing caches a key, every
request reads it from the store.  A key snapshots the owner's identity when it
is made (object id, name, tenant, app roles, groups), so it must not outlive
their access:

- it lapses after its lifetime (PERSONAL_KEY_DAYS, whose row holds the default;
  `expires_in_days` shortens it);
- it works only while its owner keeps signing in with Entra ID: their last
  sign-in (or the key's creation, itself a sign-in) must be less than
  PERSONAL_KEY_SIGNIN_DAYS old.  A disabled account gets no token, so its keys
  stop within that window, not months later.  Each person's sign-in is written
  to the store at most once per SIGN_IN_NOTE_INTERVAL per instance, and read
  back only when what this instance already knows is too old (a last sign-in
  only ever moves forward, so a recent one known here is proof enough);
- the people with ENTRA_ADMIN_ROLE list and revoke anyone's keys.

One person holds at most MAX_KEYS_PER_USER keys, atomically across instances
(`KeyStore.add`).  "Last used" is written at most once per TOUCH_INTERVAL per
key, so a busy key costs one read per request, not a write.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from bridge.config.kinds import GUID_PATTERN
from bridge.config.table import PERSONAL_KEY_DAYS, PERSONAL_KEY_SIGNIN_DAYS
from bridge.errors import BridgeError, invalid_request
from bridge.gateway.auth.caller import Caller
from bridge.gateway.clock import iso_utc, utc_now

KEY_PREFIX = "cab_"
SECRET_BYTES = 32
KEY_PATTERN = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
MAX_KEYS_PER_USER = 20
MAX_NAME_CHARS = 100
TOUCH_INTERVAL = timedelta(minutes=5)
SIGN_IN_NOTE_INTERVAL = timedelta(hours=1)
MAX_REMEMBERED_PEOPLE = 10_000

log = logging.getLogger(__name__)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """True when `token` has the form of a personal key (so it is looked up, not parsed as a JWT)."""
    return token.startswith(KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    secret_hash: str
    name: str
    owner: Caller
    """The owner as they were signed in with Entra when they made the key."""
    created: datetime
    expires: datetime | None
    last_used: datetime | None = None

    def public(self) -> dict[str, Any]:
        """What the owner may see of it (never the secret, never the hash)."""
        return {
            "id": self.key_id,
            "name": self.name,
            "created_at": iso_utc(self.created),
            "expires_at": iso_utc(self.expires) if self.expires is not None else None,
            "last_used_at": iso_utc(self.last_used) if self.last_used is not None else None,
        }


class KeyStore(Protocol):
    """Where key records live; every method reads or writes the store itself (no caching)."""

    async def add(self, record: KeyRecord, limit: int) -> bool:
        """Store `record`, unless its owner already has `limit` keys (False): atomic, however many instances add."""
        ...

    async def find(self, secret_hash: str) -> KeyRecord | None: ...

    async def owned_by(self, user_id: str) -> list[KeyRecord]: ...

    async def named(self, name: str) -> list[KeyRecord]:
        """The keys of the person whose name (user principal name) is `name`."""
        ...

    async def remove(self, user_id: str | None, key_id: str) -> KeyRecord | None:
        """Delete key `key_id` of `user_id` (None: of anyone); the removed record, None when there is no such key."""
        ...

    async def touch(self, secret_hash: str, at: datetime) -> None:
        """Set last used; a key revoked meanwhile stays revoked."""
        ...

    async def note_sign_in(self, user_id: str, at: datetime) -> None:
        """Record that `user_id` signed in with Entra ID at `at`."""
        ...

    async def last_sign_in(self, user_id: str) -> datetime | None: ...

    async def aclose(self) -> None: ...


class MemoryKeyStore:
    """Keys in this process only (no table configured): gone at restart, unseen by other instances."""

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._sign_ins: dict[str, datetime] = {}

    async def add(self, record: KeyRecord, limit: int) -> bool:
        if len(await self.owned_by(record.owner.user_id)) >= limit:
            return False
        self._records[record.secret_hash] = record
        return True

    async def find(self, secret_hash: str) -> KeyRecord | None:
        return self._records.get(secret_hash)

    async def owned_by(self, user_id: str) -> list[KeyRecord]:
        return [r for r in self._records.values() if r.owner.user_id == user_id]

    async def named(self, name: str) -> list[KeyRecord]:
        return [r for r in self._records.values() if r.owner.name == name]

    async def remove(self, user_id: str | None, key_id: str) -> KeyRecord | None:
        for record in self._records.values():
            if record.key_id == key_id and user_id in (None, record.owner.user_id):
                return self._records.pop(record.secret_hash)
        return None

    async def note_sign_in(self, user_id: str, at: datetime) -> None:
        self._sign_ins[user_id] = max(at, self._sign_ins.get(user_id, at))

    async def last_sign_in(self, user_id: str) -> datetime | None:
        return self._sign_ins.get(user_id)

    async def touch(self, secret_hash: str, at: datetime) -> None:
        record = self._records.get(secret_hash)
        if record is not None:
            self._records[secret_hash] = replace(record, last_used=at)

    async def aclose(self) -> None:
        return None


def _unknown_key() -> BridgeError:
    return BridgeError(
        "authentication_error",
        "Personal key not recognised: it was revoked, or never existed. Sign in with Entra ID and make a new one "
        "with POST /v1/keys",
    )


class PersonalKeys:
    """Making, listing, revoking and resolving personal keys over one `KeyStore`, and their owners' sign-ins."""

    def __init__(
        self,
        store: KeyStore,
        *,
        lifetime_days: int | None = PERSONAL_KEY_DAYS.default_value,
        sign_in_days: int = PERSONAL_KEY_SIGNIN_DAYS.default_value,
        admin_role: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.lifetime_days = lifetime_days
        """Longest lifetime of a key; None: keys never lapse."""
        self.sign_in_days = sign_in_days
        self.admin_role = admin_role
        """ENTRA_ADMIN_ROLE: who may list and revoke anyone's keys and read anyone's usage; None: nobody."""
        self._clock = clock
        self._sign_ins: dict[str, datetime] = {}
        """The latest sign-in this instance knows of, per person (noted here or read from the store)."""
        self._noted: dict[str, datetime] = {}
        """When this instance last wrote each person's sign-in to the store."""

    async def create(self, owner: Caller, name: str, lifetime_days: int | None = None) -> tuple[KeyRecord, str]:
        """A new key for `owner` (signed in with Entra) and its secret, which is never shown again."""
        if owner.method != "entra":
            raise BridgeError(
                "permission_error",
                "Personal keys can only be made by a person signed in with Microsoft Entra ID (not with a personal key, "
                "not by an application)",
            )
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise invalid_request(f"A key's name must be 1 to {MAX_NAME_CHARS} printable characters")
        days = self._lifetime(lifetime_days)
        secret = KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
        now = self._clock()
        record = KeyRecord(
            key_id="key_" + secrets.token_hex(8),
            secret_hash=hash_secret(secret),
            name=name,
            owner=replace(owner, key_id=None),
            created=now,
            expires=now + timedelta(days=days) if days is not None else None,
        )
        if not await self.store.add(record, MAX_KEYS_PER_USER):
            raise invalid_request(
                f"You already have {MAX_KEYS_PER_USER} personal keys, the most one person may have: revoke one first "
                "(DELETE /v1/keys/{id})"
            )
        return record, secret

    def _lifetime(self, asked: int | None) -> int | None:
        if asked is None:
            return self.lifetime_days
        limit = self.lifetime_days
        if asked < 1 or (limit is not None and asked > limit):
            bound = f"1 to {limit}" if limit is not None else "at least 1"
            raise invalid_request(f"expires_in_days must be {bound}, got {asked}")
        return asked

    async def owned(self, owner: Caller) -> list[KeyRecord]:
        return sorted(await self.store.owned_by(owner.user_id), key=lambda r: r.created)

    async def of(self, user: str) -> list[KeyRecord]:
        """The keys of the person `user` names: their object id, or their user principal name (an admin's listing)."""
        records = await (self.store.owned_by(user.lower()) if GUID_PATTERN.fullmatch(user) else self.store.named(user))
        return sorted(records, key=lambda r: r.created)

    def administers(self, caller: Caller) -> bool:
        """Whether `caller` administers the gateway (lists and revokes anyone's keys, reads anyone's usage): a person
        signed in with Entra ID (not through a personal key) with ENTRA_ADMIN_ROLE."""
        return caller.method == "entra" and self.admin_role is not None and self.admin_role in caller.roles

    async def revoke(self, caller: Caller, key_id: str) -> KeyRecord:
        """Revoke `key_id` at once: the caller's own, or anyone's for an administrator (404 when there is no such key)."""
        record = await self.store.remove(None if self.administers(caller) else caller.user_id, key_id)
        if record is None:
            raise BridgeError("not_found_error", f"You have no personal key {key_id[:64]!r} (GET /v1/keys lists yours)")
        if record.owner.user_id != caller.user_id:
            log.warning(
                "personal key %s of %s (%s) revoked by %s (%s, ENTRA_ADMIN_ROLE)",
                record.key_id,
                record.owner.user_id,
                record.owner.name,
                caller.user_id,
                caller.name,
            )
        return record

    async def note_sign_in(self, person: Caller) -> None:
        """`person` just signed in with Entra ID: remembered here, and written to the store at most once per
        SIGN_IN_NOTE_INTERVAL per instance.  Never raises for storage (a failed write is logged)."""
        now = self._clock()
        self._remember(self._sign_ins, person.user_id, now)
        noted = self._noted.get(person.user_id)
        if noted is not None and now - noted < SIGN_IN_NOTE_INTERVAL:
            return
        self._remember(self._noted, person.user_id, now)
        try:
            await self.store.note_sign_in(person.user_id, now)
        except BridgeError as exc:
            log.warning("could not record the sign-in of %s: %s", person.user_id, exc.message)

    @staticmethod
    def _remember(known: dict[str, datetime], user_id: str, moment: datetime) -> None:
        if len(known) >= MAX_REMEMBERED_PEOPLE and user_id not in known:
            known.clear()
        known[user_id] = max(moment, known.get(user_id, moment))

    async def resolve(self, secret: str) -> Caller:
        """The owner `secret` acts as, with the key's id; 401 for an unknown, revoked, lapsed or paused key."""
        if not KEY_PATTERN.fullmatch(secret):
            raise BridgeError(
                "authentication_error",
                f"Malformed personal key: it must be {KEY_PREFIX} followed by 43 characters, as POST /v1/keys made it",
            )
        record = await self.store.find(hash_secret(secret))
        if record is None:
            raise _unknown_key()
        now = self._clock()
        if record.expires is not None and now >= record.expires:
            raise BridgeError(
                "authentication_error",
                f"Personal key {record.key_id} ({record.name}) expired at {iso_utc(record.expires)}: make a new one with "
                "POST /v1/keys",
            )
        await self._require_recent_sign_in(record, now)
        if record.last_used is None or now - record.last_used >= TOUCH_INTERVAL:
            await self.store.touch(record.secret_hash, now)
        return replace(record.owner, method="key", key_id=record.key_id)

    async def _require_recent_sign_in(self, record: KeyRecord, now: datetime) -> None:
        window = timedelta(days=self.sign_in_days)
        owner = record.owner.user_id
        latest = max(record.created, self._sign_ins.get(owner, record.created))
        if now - latest < window:
            return
        stored = await self.store.last_sign_in(owner)
        if stored is not None and stored > latest:
            self._remember(self._sign_ins, owner, stored)
            latest = stored
        if now - latest < window:
            return
        raise BridgeError(
            "authentication_error",
            f"Personal key {record.key_id} ({record.name}) is paused: its owner has not signed in with Microsoft Entra ID "
            f"for {self.sign_in_days} days (PERSONAL_KEY_SIGNIN_DAYS; last at {iso_utc(latest)}). Sign in once, for example "
            "GET /v1/usage with an Entra ID token, and it works again",
        )
