"""Every setting the bridge reads, in one table: its name, kind, description, example and default.

`SETTINGS` is the single source of truth: `local.settings.sample.json`, the configuration page of docs/, the
Bicep app settings and `GET /health` are all checked against it by the tests.  Names follow the older proxies
(claude-code-proxy, claude-code-router) so their users can switch by pointing the same environment at the
bridge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic

from bridge.config.kinds import (
    API,
    AZURE_URL,
    CLIENT_AUTH_MODE,
    DOLLARS,
    GUID,
    HEADER_VALUE,
    HTTPS_URL,
    NUMBER,
    OPENAI_URL,
    ORIGINS,
    PERCENT,
    POSITIVE,
    TEXT,
    TOKEN_COUNT,
    URL,
    WHOLE,
    Kind,
    T,
    is_placeholder,
    unresolved,
)


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
FAMILY_TIERS = {"opus": BIG_MODEL.name, "sonnet": MIDDLE_MODEL.name, "haiku": SMALL_MODEL.name}
"""The tier that serves each Claude model family (a request whose model name contains the family's)."""
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
    "DELETE /v1/keys/{id}), read anyone's usage (GET /v1/usage?user=...) and export a month of everyone's "
    "(GET /v1/usage/export?month=YYYY-MM); unset: nobody",
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
    "Budgets per app role or group, the most generous match wins: role:<app role>=daily:<n>,monthly:<n> (tokens), "
    "daily_usd:<usd>,monthly_usd:<usd> (dollars); group:<group object id>=daily:unlimited (entries separated by ;)",
    "role:Bridge.Lead=daily:10M,monthly:200M,daily_usd:50,monthly_usd:800",
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
BUDGET_DAILY_USD = Setting(
    "BUDGET_DAILY_USD",
    DOLLARS,
    "US dollars each user may spend per UTC day, at each deployment's price (PRICES); unset: no limit",
    "20",
)
BUDGET_MONTHLY_USD = Setting(
    "BUDGET_MONTHLY_USD", DOLLARS, "US dollars each user may spend per calendar month (UTC); unset: no limit", "400"
)
BUDGET_WARN_PERCENT = Setting(
    "BUDGET_WARN_PERCENT",
    PERCENT,
    "Past this percentage of a budget, answers carry x-bridge-budget-warning and the log says so once (default 80)",
    "80",
)
PRICES = Setting(
    "PRICES",
    TEXT,
    "Prices per deployment in USD per million tokens, over the kept price table (genai-prices, Azure Global prices): "
    "<deployment>=input:<usd>,cached:<usd>,output:<usd>, or <deployment>=model:<model>[*<factor>] for a deployment "
    "named otherwise or a Data Zone uplift (*1.1), or <deployment>=free (entries separated by ;)",
    "gpt-5=model:gpt-5*1.1;my-ft=input:3,output:12",
)
RATE_LIMIT_REQUESTS_PER_MINUTE = Setting(
    "RATE_LIMIT_REQUESTS_PER_MINUTE",
    WHOLE,
    "Requests each user may make per minute, every instance together (429 with retry-after); unset: no limit",
    "60",
)
RATE_LIMIT_TOKENS_PER_MINUTE = Setting(
    "RATE_LIMIT_TOKENS_PER_MINUTE",
    TOKEN_COUNT,
    "Tokens (input, cached included, plus output) each user may use per minute, every instance together; unset: no limit",
    "400k",
)
MODEL_POLICY = Setting(
    "MODEL_POLICY",
    TEXT,
    "Model tiers (opus, sonnet, haiku) per app role or group: role:<app role>=opus,sonnet,haiku;default=sonnet,haiku. "
    "A request for another tier is served by the most capable one the person may use; unset: every tier for everyone",
    "role:Bridge.Lead=opus,sonnet,haiku;default=sonnet,haiku",
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
    BUDGET_DAILY_USD,
    BUDGET_MONTHLY_USD,
    BUDGET_WARN_PERCENT,
    PRICES,
    RATE_LIMIT_REQUESTS_PER_MINUTE,
    RATE_LIMIT_TOKENS_PER_MINUTE,
    MODEL_POLICY,
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
