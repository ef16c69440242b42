"""Every setting the bridge reads, in one table, each parsed by its kind, and the parsed `Settings` snapshot.

The table `SETTINGS` is the single source of truth: each entry names the
setting once, says what kind of value it holds (`Kind`: a URL, a positive
number, an API name, ...) and describes it.  `local.settings.sample.json`, the
README's configuration table, the Bicep app settings and `GET /health` are all
checked against it by the tests.  Names follow the older proxies
(claude-code-proxy, claude-code-router) so their users can switch by pointing
the same environment at the bridge.

Values written as `<...>` (the placeholders of local.settings.sample.json) count
as unset, and so does a Key Vault reference the platform could not resolve
(`@Microsoft.KeyVault(...)` passed on as text: a problem, never a value).
Missing or malformed values never raise at import or start-up (the Functions
host must still index the app): they are collected in `Settings.problems`,
each naming its setting (never echoing a secret or a URL), and reported by
`GET /health` and by every request that needs them.

`Settings.refusal` says why the bridge must serve no request at all: the client
token is an unresolved Key Vault reference, or the bridge runs in Azure
(`WEBSITE_SITE_NAME` is set) with CLIENT_AUTH=token and no client token of at least
`MIN_TOKEN_LENGTH` characters and without `ALLOW_OPEN_ACCESS=true`.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
C = TypeVar("C", bound=str)
Api = Literal["chat", "responses"]
ClientAuth = Literal["token", "entra"]
API_CHOICES: tuple[Api, ...] = ("chat", "responses")
CLIENT_AUTH_CHOICES: tuple[ClientAuth, ...] = ("token", "entra")
V1_API = "v1"
RESPONSES_SINCE = "2025-03-01-preview"
"""The first dated API version that serves the Responses API (the v1 API always does)."""
AZURE_PATH_SUFFIXES = ("/openai/v1", "/openai")
OPENAI_PATH_SUFFIXES = ("/chat/completions", "/responses")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
GUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""Entra ids (tenants, applications, users, groups) are GUIDs."""
UNLIMITED = "unlimited"
_COUNT = re.compile(r"(\d[\d_]*)([kKmMgG]?)")
_COUNT_SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
ANY_ORIGIN = "*"
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#@]+")


KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
MIN_TOKEN_LENGTH = 32
IN_AZURE = "WEBSITE_SITE_NAME"
"""Set by App Service and Azure Functions on every app."""


def is_placeholder(value: str) -> bool:
    """`<...>` values are the placeholders of local.settings.sample.json: treated as unset."""
    return value.startswith("<") and value.endswith(">")


def unresolved(value: str) -> bool:
    """A Key Vault reference App Service could not resolve reaches the app as its own text."""
    return value.startswith(KEY_VAULT_REFERENCE)


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """How a setting's text becomes its value: `parse` raises `ValueError` saying what the value must be.

    The message may quote the value; `Setting.value` hides it for a secret setting.
    """

    parse: Callable[[str], T]


def _text(raw: str) -> str:
    return raw


def _positive(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ValueError(f"must be a positive number, got {raw!r}")
    return value


def _whole(raw: str) -> int:
    value = _positive(raw)
    if value != int(value):
        raise ValueError(f"must be a whole number, got {raw!r}")
    return int(value)


def _number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(raw: str) -> str:
    """A URL the bridge trusts what it reads from (signing keys): https, or http to this machine (a local stand-in)."""
    url = _url(())(raw)
    parts = urlsplit(url)
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise ValueError(
            f"must start with https:// (plain http only for a local stand-in on localhost, 127.0.0.1 or ::1), got {raw!r}: "
            "signing keys fetched over plain http let anyone on the path forge every token"
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
ORIGINS: Kind[frozenset[str]] = Kind(_origins)


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One setting (or a family of them, named with `*`): its name, kind, description and example."""

    name: str
    kind: Kind[T]
    description: str
    example: str = ""
    secret: bool = False
    deployed: bool = True
    """False for settings that make no sense in the `azd up` deployment (a third-party upstream)."""
    sample_name: str = ""
    """The name local.settings.sample.json shows for a family (`CUSTOM_HEADER_*`); default: the name."""
    alias: str = ""
    """An older name read when this one is unset."""

    @property
    def sample_key(self) -> str:
        return self.sample_name or self.name

    def member(self, part: str) -> str:
        """The name of one member of a family: `*_TOP_P`.member("BIG_MODEL") is BIG_MODEL_TOP_P."""
        return self.name.replace("*", part)

    def value(self, env: Mapping[str, str], problems: list[str], name: str = "") -> T | None:
        """The parsed value of this setting (or of the family member `name`); None when unset or malformed."""
        name = name or self.name
        raw = _clean(env, name) or (_clean(env, self.alias) if self.alias and name == self.name else None)
        if raw is None:
            return None
        if unresolved(raw):
            problems.append(_unresolved_problem(name))
            return None
        try:
            return self.kind.parse(raw)
        except ValueError as reason:
            said = str(reason)
            if self.secret:
                said = said.replace(repr(raw), "(not shown: it is secret)").replace(raw, "(not shown: it is secret)")
            problems.append(f"{name} {said}")
            return None


def _unresolved_problem(name: str) -> str:
    return (
        f"{name} is a Key Vault reference the platform could not resolve, so it is treated as unset: give the app's "
        "identity 'Key Vault Secrets User' on the vault (keyVaultReferenceIdentity), check the secret exists and the "
        "vault is reachable, then restart the app"
    )


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value if value and not is_placeholder(value) else None


ENDPOINT = Setting("AZURE_OPENAI_ENDPOINT", AZURE_URL, "Azure OpenAI resource endpoint", "https://my-resource.openai.azure.com")
API_KEY = Setting("AZURE_OPENAI_API_KEY", TEXT, "API key of the resource; unset means Microsoft Entra ID", "<key or empty>", True)
API_VERSION = Setting(
    "AZURE_OPENAI_API_VERSION",
    TEXT,
    "Unset (or `v1`) uses Azure's v1 API; a dated version such as 2024-10-21 uses the deployments API. "
    "`AZURE_API_VERSION` is read too",
    alias="AZURE_API_VERSION",
)
MORE_ENDPOINTS = Setting(
    "AZURE_OPENAI_ENDPOINT_*",
    AZURE_URL,
    "More resources serving the same deployment names, pooled with the first for load spreading and failover: "
    "AZURE_OPENAI_ENDPOINT_2, with AZURE_OPENAI_API_KEY_2 and AZURE_OPENAI_API_VERSION_2 when they differ",
    "https://my-resource-westus.openai.azure.com",
    sample_name="AZURE_OPENAI_ENDPOINT_2",
)
OPENAI_BASE_URL = Setting(
    "OPENAI_BASE_URL",
    OPENAI_URL,
    "An OpenAI-compatible server instead of (or pooled with) Azure: OpenAI, Ollama, vLLM, llama.cpp",
    "http://localhost:11434/v1",
    deployed=False,
)
OPENAI_API_KEY = Setting(
    "OPENAI_API_KEY", TEXT, "Key for OPENAI_BASE_URL (sent as Authorization: Bearer)", "<key or empty>", True, False
)
BIG_MODEL = Setting("BIG_MODEL", TEXT, "Deployment that serves opus requests", "gpt-5")
MIDDLE_MODEL = Setting("MIDDLE_MODEL", TEXT, "Deployment that serves sonnet requests (default: BIG_MODEL)", "gpt-5")
SMALL_MODEL = Setting("SMALL_MODEL", TEXT, "Deployment that serves haiku requests (default: MIDDLE_MODEL)", "gpt-5-mini")
THINK_MODEL = Setting("THINK_MODEL", TEXT, "Optional: deployment for requests that ask for thinking (opus and sonnet requests)")
LONG_CONTEXT_MODEL = Setting(
    "LONG_CONTEXT_MODEL", TEXT, "Optional: deployment for requests longer than LONG_CONTEXT_THRESHOLD tokens", "gpt-4.1"
)
LONG_CONTEXT_THRESHOLD = Setting(
    "LONG_CONTEXT_THRESHOLD",
    WHOLE,
    "Input tokens (counted as count_tokens does) above which LONG_CONTEXT_MODEL serves (default 60000)",
    "60000",
)
TIERS = (BIG_MODEL, MIDDLE_MODEL, SMALL_MODEL, THINK_MODEL, LONG_CONTEXT_MODEL)
TIER_FALLBACKS = {
    MIDDLE_MODEL.name: (MIDDLE_MODEL.name, BIG_MODEL.name),
    SMALL_MODEL.name: (SMALL_MODEL.name, MIDDLE_MODEL.name, BIG_MODEL.name),
}
TIER_APIS = tuple(
    Setting(
        f"{tier.name}_API",
        API,
        f"`chat` or `responses` for {tier.name}; empty: automatic (Responses on Azure, chat elsewhere)"
        if tier is BIG_MODEL
        else f"The same for {tier.name}",
    )
    for tier in TIERS
)
TEMPERATURES = Setting(
    "*_TEMPERATURE",
    NUMBER,
    "Per-tier override of the client's temperature: BIG_MODEL_TEMPERATURE, SMALL_MODEL_TEMPERATURE, ...",
    sample_name="BIG_MODEL_TEMPERATURE",
)
TOP_PS = Setting("*_TOP_P", NUMBER, "Per-tier override of top_p: BIG_MODEL_TOP_P, ...", sample_name="BIG_MODEL_TOP_P")
MAX_TOKENS = Setting(
    "*_MAX_TOKENS", WHOLE, "Per-tier override of max_tokens: BIG_MODEL_MAX_TOKENS, ...", sample_name="BIG_MODEL_MAX_TOKENS"
)
AUTH_TOKEN = Setting(
    "ANTHROPIC_AUTH_TOKEN",
    TEXT,
    "Token clients must present (x-api-key or Authorization: Bearer) with CLIENT_AUTH=token; unset means no client "
    "auth (refused in Azure, where it must have 32 characters or more, unless ALLOW_OPEN_ACCESS is true)",
    "<long random token>",
    True,
)
ALLOW_OPEN_ACCESS = Setting(
    "ALLOW_OPEN_ACCESS",
    TEXT,
    "`true` lets a bridge in Azure serve without a client token (only behind something else that authenticates)",
    deployed=False,
)
REQUEST_TIMEOUT = Setting(
    "REQUEST_TIMEOUT", POSITIVE, "Seconds a request may take end to end, upstream retries included (default 600)", "600"
)
HEARTBEAT_SECONDS = Setting(
    "HEARTBEAT_SECONDS", POSITIVE, "Seconds of upstream silence after which a stream gets a ping (default 10)", "10"
)
MAX_STREAM_SECONDS = Setting(
    "MAX_STREAM_SECONDS",
    POSITIVE,
    "A stream still running after this many seconds ends with a clear error event (default: REQUEST_TIMEOUT; 220 in Azure)",
    "220",
)
MAX_TOKENS_LIMIT = Setting("MAX_TOKENS_LIMIT", WHOLE, "Upper bound applied to every request's max_tokens (unset: no cap)")
MAX_REQUEST_BYTES = Setting(
    "MAX_REQUEST_BYTES", WHOLE, "Largest request body accepted, in bytes (default 33554432: 32 MiB)", "33554432"
)
CUSTOM_HEADERS = Setting(
    "CUSTOM_HEADER_*",
    HEADER_VALUE,
    "Extra upstream headers: CUSTOM_HEADER_X_API_KEY=v sends X-API-KEY: v",
    sample_name="CUSTOM_HEADER_X_EXAMPLE",
)
ALLOWED_ORIGINS = Setting(
    "ALLOWED_ORIGINS",
    ORIGINS,
    "Web pages whose scripts may call the bridge from a browser (CORS): their origins, comma-separated, or `*` for "
    "any page; unset: none",
    "https://chat.example.com,http://localhost:3000",
)

# ----- the organization gateway: who may call, their keys, their budgets (bridge/gateway) -----
CLIENT_AUTH = Setting(
    "CLIENT_AUTH",
    CLIENT_AUTH_MODE,
    "How clients sign in: `token` (the shared ANTHROPIC_AUTH_TOKEN, the default) or `entra` (Microsoft Entra ID "
    "access tokens, and personal keys made with them)",
    "token",
)
ENTRA_TENANT_ID = Setting(
    "ENTRA_TENANT_ID", GUID, "With CLIENT_AUTH=entra: the directory (tenant) id whose users may call", "<tenant id>"
)
ENTRA_CLIENT_ID = Setting(
    "ENTRA_CLIENT_ID",
    GUID,
    "With CLIENT_AUTH=entra: the application (client) id of the bridge's app registration, the tokens' audience "
    "(api://<client id> is accepted too)",
    "<client id>",
)
ENTRA_AUTHORITY = Setting(
    "ENTRA_AUTHORITY",
    HTTPS_URL,
    "Entra ID sign-in host, https only (default https://login.microsoftonline.com; another cloud's host, or a local "
    "stand-in on this machine, which may use http)",
    "https://login.microsoftonline.com",
)
ENTRA_REQUIRED_ROLE = Setting(
    "ENTRA_REQUIRED_ROLE",
    TEXT,
    "Optional: an app role of the bridge's app registration every person must have (403 otherwise)",
    "Bridge.User",
)
ENTRA_AUTOMATION_ROLE = Setting(
    "ENTRA_AUTOMATION_ROLE",
    TEXT,
    "Optional: the app role that lets an application (service principal, managed identity) call with its own token; "
    "unset: only people (tokens with the delegated scope user_impersonation). An application never gets personal keys",
    "Bridge.Automation",
)
ENTRA_ADMIN_ROLE = Setting(
    "ENTRA_ADMIN_ROLE",
    TEXT,
    "Optional: the app role of the people who may list and revoke anyone's personal keys (GET /v1/keys?user=..., "
    "DELETE /v1/keys/{id}); unset: nobody",
    "Bridge.Admin",
)
PERSONAL_KEY_DAYS = Setting("PERSONAL_KEY_DAYS", WHOLE, "Days a personal key works before it lapses (default 30)", "30")
PERSONAL_KEY_SIGNIN_DAYS = Setting(
    "PERSONAL_KEY_SIGNIN_DAYS",
    WHOLE,
    "A personal key works only while its owner has signed in with Entra ID within this many days (default 7): a "
    "disabled account's keys stop within that time",
    "7",
)
BUDGET_DAILY_TOKENS = Setting(
    "BUDGET_DAILY_TOKENS",
    TOKEN_COUNT,
    "Tokens (input, cached included, plus output) each user may use per UTC day; unset: no limit",
    "2M",
)
BUDGET_MONTHLY_TOKENS = Setting(
    "BUDGET_MONTHLY_TOKENS", TOKEN_COUNT, "Tokens each user may use per calendar month (UTC); unset: no limit", "40M"
)
BUDGET_OVERRIDES = Setting(
    "BUDGET_OVERRIDES",
    TEXT,
    "Budgets per app role or group, the most generous match wins: role:<app role>=daily:<n>,monthly:<n>; "
    "group:<group object id>=daily:unlimited (entries separated by ;)",
    "role:Bridge.Lead=daily:10M,monthly:200M",
)
USAGE_TABLE_ENDPOINT = Setting(
    "USAGE_TABLE_ENDPOINT",
    URL,
    "Table service of the storage account that keeps personal keys and usage counters for every instance, reached "
    "with the managed identity (unset, and no USAGE_CONNECTION_STRING: each instance keeps them in memory)",
    "https://mystorage.table.core.windows.net",
)
USAGE_CONNECTION_STRING = Setting(
    "USAGE_CONNECTION_STRING",
    TEXT,
    "Instead of USAGE_TABLE_ENDPOINT: a storage connection string (Azurite, local runs)",
    "<connection string>",
    secret=True,
    deployed=False,
)
GATEWAY_SETTINGS = (
    CLIENT_AUTH,
    ENTRA_TENANT_ID,
    ENTRA_CLIENT_ID,
    ENTRA_AUTHORITY,
    ENTRA_REQUIRED_ROLE,
    ENTRA_AUTOMATION_ROLE,
    ENTRA_ADMIN_ROLE,
    PERSONAL_KEY_DAYS,
    PERSONAL_KEY_SIGNIN_DAYS,
    BUDGET_DAILY_TOKENS,
    BUDGET_MONTHLY_TOKENS,
    BUDGET_OVERRIDES,
    USAGE_TABLE_ENDPOINT,
    USAGE_CONNECTION_STRING,
)

SETTINGS: tuple[Setting[Any], ...] = (
    ENDPOINT,
    API_KEY,
    API_VERSION,
    MORE_ENDPOINTS,
    OPENAI_BASE_URL,
    OPENAI_API_KEY,
    *TIERS,
    LONG_CONTEXT_THRESHOLD,
    *TIER_APIS,
    TEMPERATURES,
    TOP_PS,
    MAX_TOKENS,
    AUTH_TOKEN,
    ALLOW_OPEN_ACCESS,
    REQUEST_TIMEOUT,
    HEARTBEAT_SECONDS,
    MAX_STREAM_SECONDS,
    MAX_TOKENS_LIMIT,
    MAX_REQUEST_BYTES,
    CUSTOM_HEADERS,
    ALLOWED_ORIGINS,
    *GATEWAY_SETTINGS,
)
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_LONG_CONTEXT_THRESHOLD = 60000
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamSetting:
    """One upstream server: an Azure OpenAI resource or an OpenAI-compatible server."""

    source: str
    """The setting that names it (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_ENDPOINT_2, OPENAI_BASE_URL)."""
    base_url: str
    flavor: Literal["azure", "openai"]
    api_key: str | None
    api_version: str = V1_API

    @property
    def uses_v1_api(self) -> bool:
        return self.api_version == V1_API

    @property
    def offers_responses(self) -> bool:
        return self.flavor == "azure" and (self.uses_v1_api or self.api_version >= RESPONSES_SINCE)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


@dataclass(frozen=True, slots=True)
class Tier:
    """A deployment named by a tier setting, with that tier's API and parameter overrides."""

    setting: str
    deployment: str
    api: Api | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    upstreams: tuple[UpstreamSetting, ...]
    tiers: Mapping[str, Tier]
    """Configured tiers by setting name; MIDDLE_MODEL and SMALL_MODEL fall back as documented."""
    auth_token: str | None
    request_timeout: float
    max_stream_seconds: float
    heartbeat_seconds: float
    max_tokens_limit: int | None
    max_request_bytes: int
    long_context_threshold: int
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    allowed_origins: frozenset[str] = frozenset()
    """Origins (or `*`) whose browser scripts may call: bridge.cors."""
    problems: tuple[str, ...] = ()
    refusal: str | None = None
    """Why the bridge serves no request at all (a problem that makes serving unsafe), if it must not."""

    def tier(self, setting: str) -> Tier | None:
        """The tier for `setting`, with the fallbacks: MIDDLE → BIG, SMALL → MIDDLE → BIG."""
        for name in TIER_FALLBACKS.get(setting, (setting,)):
            if name in self.tiers:
                return self.tiers[name]
        return None


def _azure_upstreams(env: Mapping[str, str], problems: list[str]) -> list[UpstreamSetting]:
    """AZURE_OPENAI_ENDPOINT, then AZURE_OPENAI_ENDPOINT_2, _3, ... in order."""
    primary_version = API_VERSION.value(env, problems) or V1_API
    family = re.compile(re.escape(MORE_ENDPOINTS.name).replace(r"\*", r"(\d+)") + "$")
    numbered = sorted(int(match.group(1)) for name in env if (match := family.match(name)))
    upstreams: list[UpstreamSetting] = []
    for suffix in ["", *(f"_{n}" for n in numbered)]:
        source = ENDPOINT.name + suffix
        url = ENDPOINT.value(env, problems, source)
        if url is not None:
            version = (API_VERSION.value(env, problems, API_VERSION.name + suffix) if suffix else None) or primary_version
            key = API_KEY.value(env, problems, API_KEY.name + suffix)
            upstreams.append(UpstreamSetting(source, url, "azure", key, version))
    return upstreams


def _tier(env: Mapping[str, str], setting: Setting[str], api: Setting[Api], problems: list[str]) -> Tier | None:
    deployment = setting.value(env, problems)
    if deployment is None:
        return None
    return Tier(
        setting.name,
        deployment,
        api.value(env, problems),
        TEMPERATURES.value(env, problems, TEMPERATURES.member(setting.name)),
        TOP_PS.value(env, problems, TOP_PS.member(setting.name)),
        MAX_TOKENS.value(env, problems, MAX_TOKENS.member(setting.name)),
    )


def _custom_headers(env: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """CUSTOM_HEADER_X_API_KEY=v → {"X-API-KEY": v}, each name and value checked."""
    prefix = CUSTOM_HEADERS.member("")
    headers: dict[str, str] = {}
    for name in env:
        if not name.startswith(prefix) or len(name) == len(prefix):
            continue
        header = name[len(prefix) :].replace("_", "-")
        if not _HEADER_NAME.match(header):
            problems.append(f"{name} does not make a valid header name")
            continue
        value = CUSTOM_HEADERS.value(env, problems, name)
        if value is not None:
            headers[header] = value
    return headers


def _refusal(env: Mapping[str, str], token: str | None) -> str | None:
    """Why serving would be unsafe: an unresolved client token, or an open (or guessable) bridge in Azure.

    With CLIENT_AUTH=entra the client token is not used: every caller signs in with Entra ID or a personal key.
    """
    if CLIENT_AUTH.value(env, []) == "entra":
        return None
    raw = env.get(AUTH_TOKEN.name, "").strip()
    if unresolved(raw):
        return _unresolved_problem(AUTH_TOKEN.name)
    in_azure = bool(env.get(IN_AZURE, "").strip())
    if not in_azure or (token is not None and len(token) >= MIN_TOKEN_LENGTH):
        return None
    if token is None and (ALLOW_OPEN_ACCESS.value(env, []) or "").lower() == "true":
        return None
    if token is None:
        return (
            f"{AUTH_TOKEN.name} is not set, and a bridge in Azure does not serve without a client token: set it (azd up "
            f"does), or set {ALLOW_OPEN_ACCESS.name}=true if something in front of the bridge authenticates its callers"
        )
    return f"{AUTH_TOKEN.name} is shorter than {MIN_TOKEN_LENGTH} characters: a bridge in Azure needs a token hard to guess"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    upstreams = _azure_upstreams(env, problems)
    openai_url = OPENAI_BASE_URL.value(env, problems)
    if openai_url is not None:
        upstreams.append(UpstreamSetting(OPENAI_BASE_URL.name, openai_url, "openai", OPENAI_API_KEY.value(env, problems)))
    if not upstreams and not (_clean(env, ENDPOINT.name) or _clean(env, OPENAI_BASE_URL.name)):
        problems.append(
            f"{ENDPOINT.name} is not set: set it to your resource's endpoint, e.g. {ENDPOINT.example} "
            f"(or set {OPENAI_BASE_URL.name} for an OpenAI-compatible server)"
        )
    tiers = {
        tier.setting: tier
        for setting, api in zip(TIERS, TIER_APIS, strict=True)
        if (tier := _tier(env, setting, api, problems)) is not None
    }
    dated = [upstream for upstream in upstreams if upstream.flavor == "azure" and not upstream.offers_responses]
    for api_setting, tier_setting in zip(TIER_APIS, TIERS, strict=True):
        tier = tiers.get(tier_setting.name)
        if tier is not None and tier.api == "responses" and dated:
            problems.append(
                f"{api_setting.name} is responses, but {dated[0].source} uses API version {dated[0].api_version}, which "
                f"has no Responses API (it came with {RESPONSES_SINCE}): unset {API_VERSION.name} for the v1 API, set a "
                f"newer version, or use chat (the bridge falls back to chat/completions when Azure refuses)"
            )
    if BIG_MODEL.name not in tiers:
        problems.append(
            f"{BIG_MODEL.name} is not set, so opus requests (Claude Code's default model) fail: set it to the deployment "
            "that serves them"
        )
    timeout = REQUEST_TIMEOUT.value(env, problems) or DEFAULT_REQUEST_TIMEOUT
    auth_token = AUTH_TOKEN.value(env, problems)
    refusal = _refusal(env, auth_token)
    if refusal is not None and refusal not in problems:
        problems.append(refusal)
    return Settings(
        upstreams=tuple(upstreams),
        tiers=tiers,
        auth_token=auth_token,
        refusal=refusal,
        request_timeout=timeout,
        max_stream_seconds=min(MAX_STREAM_SECONDS.value(env, problems) or timeout, timeout),
        heartbeat_seconds=HEARTBEAT_SECONDS.value(env, problems) or DEFAULT_HEARTBEAT_SECONDS,
        max_tokens_limit=MAX_TOKENS_LIMIT.value(env, problems),
        max_request_bytes=MAX_REQUEST_BYTES.value(env, problems) or DEFAULT_MAX_REQUEST_BYTES,
        long_context_threshold=LONG_CONTEXT_THRESHOLD.value(env, problems) or DEFAULT_LONG_CONTEXT_THRESHOLD,
        custom_headers=_custom_headers(env, problems),
        allowed_origins=ALLOWED_ORIGINS.value(env, problems) or frozenset(),
        problems=tuple(problems),
    )
