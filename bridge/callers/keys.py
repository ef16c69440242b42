"""Personal keys: a long-lived secret for clients that cannot run a token helper (Cursor), acting as its owner.

A key is `cab_` followed by 43 characters of `secrets.token_urlsafe(32)` (256
random bits).  Only its SHA-256 is stored: a slow password hash (bcrypt,
scrypt, argon2) exists to make guessing low-entropy passwords expensive, and
nobody can guess 256 random bits however fast the hash is, so a plain SHA-256
is as safe here and keeps the lookup a single point read (the hash is the
storage key).  The owner sees the secret once, in the answer to its creation.

Revoking is seen at once by every instance: nothing caches a key, every
request reads it from the store.  A key snapshot the owner's identity when it
is made (object id, name, tenant, app roles, groups); it lapses after its
lifetime (DEFAULT_LIFETIME_DAYS unless the settings say otherwise) so the key
of someone who left stops working even if nobody revokes it.  "Last used" is
written at most once per TOUCH_INTERVAL per key, so a busy key costs one read
per request, not a write.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bridge.callers.caller import Caller
from bridge.errors import BridgeError, invalid_request

KEY_PREFIX = "cab_"
SECRET_BYTES = 32
KEY_PATTERN = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
MAX_KEYS_PER_USER = 20
MAX_NAME_CHARS = 100
DEFAULT_LIFETIME_DAYS = 90
TOUCH_INTERVAL = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """True when `token` has the form of a personal key (so it is looked up, not parsed as a JWT)."""
    return token.startswith(KEY_PREFIX)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


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
            "created_at": _iso(self.created),
            "expires_at": _iso(self.expires),
            "last_used_at": _iso(self.last_used),
        }


class KeyStore(Protocol):
    """Where key records live; every method reads or writes the store itself (no caching)."""

    async def add(self, record: KeyRecord) -> None: ...

    async def find(self, secret_hash: str) -> KeyRecord | None: ...

    async def owned_by(self, user_id: str) -> list[KeyRecord]: ...

    async def remove(self, user_id: str, key_id: str) -> bool:
        """Delete `user_id`'s key `key_id`; False when they have no such key."""
        ...

    async def touch(self, secret_hash: str, at: datetime) -> None:
        """Set last used; a key revoked meanwhile stays revoked."""
        ...

    async def aclose(self) -> None: ...


class MemoryKeyStore:
    """Keys in this process only (no table configured): gone at restart, unseen by other instances."""

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}

    async def add(self, record: KeyRecord) -> None:
        self._records[record.secret_hash] = record

    async def find(self, secret_hash: str) -> KeyRecord | None:
        return self._records.get(secret_hash)

    async def owned_by(self, user_id: str) -> list[KeyRecord]:
        return [r for r in self._records.values() if r.owner.user_id == user_id]

    async def remove(self, user_id: str, key_id: str) -> bool:
        for record in await self.owned_by(user_id):
            if record.key_id == key_id:
                del self._records[record.secret_hash]
                return True
        return False

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
    """Making, listing, revoking and resolving personal keys over one `KeyStore`."""

    def __init__(
        self,
        store: KeyStore,
        *,
        lifetime_days: int | None = DEFAULT_LIFETIME_DAYS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.lifetime_days = lifetime_days
        """Longest lifetime of a key; None: keys never lapse."""
        self._clock = clock

    async def create(self, owner: Caller, name: str, lifetime_days: int | None = None) -> tuple[KeyRecord, str]:
        """A new key for `owner` (signed in with Entra) and its secret, which is never shown again."""
        if owner.method != "entra":
            raise BridgeError(
                "permission_error",
                "Personal keys can only be made while signed in with Microsoft Entra ID (not with a personal key)",
            )
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise invalid_request(f"A key's name must be 1 to {MAX_NAME_CHARS} printable characters")
        days = self._lifetime(lifetime_days)
        if len(await self.store.owned_by(owner.user_id)) >= MAX_KEYS_PER_USER:
            raise invalid_request(
                f"You already have {MAX_KEYS_PER_USER} personal keys, the most one person may have: revoke one first "
                "(DELETE /v1/keys/{id})"
            )
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
        await self.store.add(record)
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

    async def revoke(self, owner: Caller, key_id: str) -> None:
        """Revoke `owner`'s key `key_id` at once (404 when they have no such key)."""
        if not await self.store.remove(owner.user_id, key_id):
            raise BridgeError("not_found_error", f"You have no personal key {key_id[:64]!r} (GET /v1/keys lists yours)")

    async def resolve(self, secret: str) -> Caller:
        """The owner `secret` acts as, with the key's id; 401 for an unknown, revoked or lapsed key."""
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
                f"Personal key {record.key_id} ({record.name}) expired at {_iso(record.expires)}: make a new one with "
                "POST /v1/keys",
            )
        if record.last_used is None or now - record.last_used >= TOUCH_INTERVAL:
            await self.store.touch(record.secret_hash, now)
        return replace(record.owner, method="key", key_id=record.key_id)
