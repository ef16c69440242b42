"""How a setting's text becomes its value: the value kinds (`Kind`: a URL, a positive number, an API name, a token
count, ...), each raising `ValueError` that says what the value must be.

Values written as `<...>` (the placeholders of local.settings.sample.json) count as unset, and so does a Key
Vault reference the platform could not resolve (`@Microsoft.KeyVault(...)` passed on as text: a problem,
never a value).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, get_args
from urllib.parse import urlsplit

from bridge.model import Api, ClientAuth

T = TypeVar("T")
C = TypeVar("C", bound=str)


API_CHOICES: tuple[Api, ...] = get_args(Api)
CLIENT_AUTH_CHOICES: tuple[ClientAuth, ...] = get_args(ClientAuth)


AZURE_PATH_SUFFIXES = ("/openai/v1", "/openai")
OPENAI_PATH_SUFFIXES = ("/chat/completions", "/responses")


GUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""Entra ids (tenants, applications, users, groups) are GUIDs."""
UNLIMITED = "unlimited"
_COUNT = re.compile(r"(\d[\d_]*)([kKmMgG]?)")
_COUNT_SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
ANY_ORIGIN = "*"
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#@]+")


KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


def is_placeholder(value: str) -> bool:
    """`<...>` values are the placeholders of local.settings.sample.json: treated as unset."""
    return value.startswith("<") and value.endswith(">")


def unresolved(value: str) -> bool:
    """A Key Vault reference App Service could not resolve reaches the app as its own text."""
    return value.startswith(KEY_VAULT_REFERENCE)


def unresolved_problem(name: str) -> str:
    """The problem of a setting whose Key Vault reference was not resolved (`unresolved`)."""
    return (
        f"{name} is a Key Vault reference the platform could not resolve, so it is treated as unset: give the app's "
        "identity 'Key Vault Secrets User' on the vault (keyVaultReferenceIdentity), check the secret exists and the "
        "vault is reachable, then restart the app"
    )


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """How a setting's text becomes its value: `parse` raises `ValueError` saying what the value must be.

    The message may quote the value; `Setting.value` hides it for a secret setting.
    """

    parse: Callable[[str], T]


def _text(raw: str) -> str:
    return raw


def _float(raw: str) -> float:
    """`raw` as a float; NaN when it is none (every check below refuses NaN)."""
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _positive(raw: str) -> float:
    value = _float(raw)
    if not 0 < value < math.inf:
        raise ValueError(f"must be a positive number, got {raw!r}")
    return value


def _whole(raw: str) -> int:
    value = _positive(raw)
    if value != int(value):
        raise ValueError(f"must be a whole number, got {raw!r}")
    return int(value)


def _number(raw: str) -> float:
    value = _float(raw)
    if not math.isfinite(value):
        raise ValueError(f"must be a number, got {raw!r}")
    return value


def _one_of(choices: tuple[C, ...], unset: str = "") -> Callable[[str], C]:
    """A parser that takes one of `choices` (any case); `unset` says what leaving the setting empty means."""

    def parse(raw: str) -> C:
        lowered = raw.lower()
        for choice in choices:
            if choice == lowered:
                return choice
        named = " or ".join(f"'{choice}'" for choice in choices)
        raise ValueError(f"must be {named}{f' (or empty for {unset})' if unset else ''}, got {raw!r}")

    return parse


def _url(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local server)")
        parts = urlsplit(raw)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not hold a user name or password: put the key in its own setting")
        if not parts.hostname:
            raise ValueError("must name a host")
        url = raw.rstrip("/")
        for suffix in suffixes:
            if url.endswith(suffix):
                url = url[: -len(suffix)]
        return url

    return parse


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.1, ::1): this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(raw: str) -> str:
    """A URL the bridge trusts or sends its own token to (signing keys, the table service): https, or http to this
    machine (a local stand-in)."""
    url = _url(())(raw)
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise ValueError(
            f"must start with https:// (plain http only for a local stand-in on localhost, 127.0.0.1 or ::1), got {raw!r}: "
            "over plain http anyone on the path reads or changes what passes (signing keys, the bridge's own token)"
        )
    return url


def _header_value(raw: str) -> str:
    if any(char in raw for char in "\r\n\0"):
        raise ValueError("must be one line: a header value cannot hold line breaks")
    return raw


def _guid(raw: str) -> str:
    if not GUID_PATTERN.fullmatch(raw):
        raise ValueError(f"must be a GUID (8-4-4-4-12 hexadecimal digits, as Entra ID shows it), got {raw!r}")
    return raw.lower()


def _origins(raw: str) -> frozenset[str]:
    """`https://a.example, http://localhost:3000` → those origins (scheme://host[:port], lower case); `*` alone: any."""
    entries = [entry.strip().rstrip("/").lower() for entry in raw.split(",") if entry.strip()]
    if ANY_ORIGIN in entries:
        if len(entries) > 1:
            raise ValueError(f"must be {ANY_ORIGIN!r} alone (any page) or a list of origins, not both")
        return frozenset(entries)
    for entry in entries:
        if not _ORIGIN.fullmatch(entry):
            raise ValueError(
                f"must list origins such as https://chat.example.com or http://localhost:3000 (scheme, host and "
                f"port only: no path, no 'null'), got {entry!r}"
            )
    return frozenset(entries)


def parse_token_count(raw: str) -> int | None:
    """`2000000`, `2M`, `500k`, `1_000_000` → a count; `unlimited` → None (no limit); anything else: ValueError."""
    text = raw.strip()
    if text.lower() == UNLIMITED:
        return None
    match = _COUNT.fullmatch(text)
    if match is None:
        raise ValueError(f"must be a token count (a whole number such as 2000000 or 2M, or {UNLIMITED!r}), got {raw!r}")
    return int(match[1]) * _COUNT_SUFFIXES[match[2].lower()]


_DOLLARS = re.compile(r"\$?(\d[\d_]*(?:\.\d{1,6})?)")
MICRO_DOLLARS = 1_000_000


def parse_dollars(raw: str) -> int | None:
    """`20`, `$20`, `12.50`, `0.10` → micro-dollars (whole millionths of a dollar); `unlimited` → None (no limit)."""
    text = raw.strip()
    if text.lower() == UNLIMITED:
        return None
    match = _DOLLARS.fullmatch(text)
    if match is None:
        raise ValueError(f"must be an amount of US dollars (such as 20 or 12.50), or {UNLIMITED!r}, got {raw!r}")
    whole, _, cents = match[1].replace("_", "").partition(".")
    return int(whole) * MICRO_DOLLARS + int(cents.ljust(6, "0") or 0)


def _percent(raw: str) -> int:
    value = _whole(raw)
    if value > 100:
        raise ValueError(f"must be a percentage from 1 to 100, got {raw!r}")
    return value


TEXT: Kind[str] = Kind(_text)
POSITIVE: Kind[float] = Kind(_positive)
WHOLE: Kind[int] = Kind(_whole)
NUMBER: Kind[float] = Kind(_number)
API: Kind[Api] = Kind(_one_of(API_CHOICES, "automatic"))
AZURE_URL: Kind[str] = Kind(_url(AZURE_PATH_SUFFIXES))
OPENAI_URL: Kind[str] = Kind(_url(OPENAI_PATH_SUFFIXES))
HEADER_VALUE: Kind[str] = Kind(_header_value)
URL: Kind[str] = Kind(_url(()))
HTTPS_URL: Kind[str] = Kind(_https_url)
CLIENT_AUTH_MODE: Kind[ClientAuth] = Kind(_one_of(CLIENT_AUTH_CHOICES))
GUID: Kind[str] = Kind(_guid)
TOKEN_COUNT: Kind[int | None] = Kind(parse_token_count)
DOLLARS: Kind[int | None] = Kind(parse_dollars)
PERCENT: Kind[int] = Kind(_percent)
ORIGINS: Kind[frozenset[str]] = Kind(_origins)
