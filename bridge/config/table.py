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
    unresolved_problem,
)


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One setting (or a family of them, named with `*`): its name, kind, description, example and default.

    What it is when unset is written once, here: a `default` (parsed by `kind`), the value of another setting
    (`default_from`), or words (`unset`).  `python -m bridge --help`, local.settings.sample.json and
    docs/configuration.md render it from the row (scripts/sync_docs.py).
    """

    name: str
    kind: Kind[T]
    description: str
    """What it does; the default is not repeated here (it is `default`)."""
    example: str = ""
    secret: bool = False
    deployed: bool = True
    """False for settings that make no sense in the `azd up` deployment (a third-party upstream)."""
    sample_name: str = ""
    """The name local.settings.sample.json shows for a family (`CUSTOM_HEADER_*`); default: the name."""
    alias: str = ""
    """An older name read when this one is unset."""
    default: str = ""
    """The value used when the setting is unset, in the setting's own syntax (`600`), parsed by `kind`."""
    default_from: Setting[T] | None = None
    """Or: the setting whose value it takes when unset (MIDDLE_MODEL takes BIG_MODEL's)."""
    unset: str = ""
    """Or, when no value stands in: what leaving it unset means, in words (`no limit`)."""
    in_azure: str = ""
    """What `azd up` deploys when that is not the default, in the setting's own syntax (tests/test_infra.py checks
    it against infra/main.bicep)."""
    in_azure_note: str = ""
    """Why `azd up` deploys `in_azure`, or what it deploys when that is no single value (the resource's endpoint)."""

    @property
    def sample_key(self) -> str:
        return self.sample_name or self.name

    @property
    def default_value(self) -> T:
        """`default`, parsed (a row without one has no default value: its kind refuses the empty text)."""
        return self.kind.parse(self.default)

    @property
    def shown_default(self) -> str:
        """What the setting is when unset, for people: `600`, `BIG_MODEL's value`, `no limit`; empty when nothing."""
        if self.default:
            return self.default
        if self.default_from is not None:
            return f"{self.default_from.name}'s value"
        return self.unset

    @property
    def described(self) -> str:
        """The description with what the setting is when unset, as --help and local.settings.sample.json show it."""
        if not self.shown_default:
            return self.description
        return f"{self.description}; {'unset' if self.unset else 'default'}: {self.shown_default}"

    def member(self, part: str) -> str:
        """The name of one member of a family: `*_TOP_P`.member("BIG_MODEL") is BIG_MODEL_TOP_P."""
        return self.name.replace("*", part)

    def raw(self, env: Mapping[str, str], name: str = "") -> str | None:
        """The text set for this setting (or the family member `name`), stripped; None when unset or a placeholder."""
        name = name or self.name
        return _clean(env, name) or (_clean(env, self.alias) if self.alias and name == self.name else None)

    def value(self, env: Mapping[str, str], problems: list[str], name: str = "") -> T | None:
        """The parsed value of this setting (or of the family member `name`); None when unset or malformed."""
        name = name or self.name
        raw = self.raw(env, name)
        if raw is None:
            return None
        if unresolved(raw):
            problems.append(unresolved_problem(name))
            return None
        try:
            return self.kind.parse(raw)
        except ValueError as reason:
            said = str(reason)
            if self.secret:
                said = said.replace(repr(raw), "(not shown: it is secret)").replace(raw, "(not shown: it is secret)")
            problems.append(f"{name} {said}")
            return None

    def value_or_default(self, env: Mapping[str, str], problems: list[str]) -> T:
        """The parsed value, or `default` when unset or malformed (a malformed value is a problem, by name)."""
        value = self.value(env, problems)
        return self.default_value if value is None else value


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value if value and not is_placeholder(value) else None


ENDPOINT = Setting(
    "AZURE_OPENAI_ENDPOINT",
    AZURE_URL,
    "Azure OpenAI resource endpoint",
    "https://my-resource.openai.azure.com",
    in_azure_note="the endpoint of the resource `azd up` creates, or of AZURE_OPENAI_RESOURCE_ID",
)
API_KEY = Setting(
    "AZURE_OPENAI_API_KEY",
    TEXT,
    "API key of the resource",
    "<key or empty>",
    True,
    unset="Microsoft Entra ID, with the managed identity in Azure and `az login` on a laptop",
    in_azure_note="with AZURE_OPENAI_AUTH=key only: the resource's key, through Key Vault",
)
API_VERSION = Setting(
    "AZURE_OPENAI_API_VERSION",
    TEXT,
    "`v1`, or a dated version such as 2024-10-21, which uses the deployments API. `AZURE_API_VERSION` is read too",
    alias="AZURE_API_VERSION",
    unset="Azure's v1 API",
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
BIG_MODEL = Setting(
    "BIG_MODEL",
    TEXT,
    "Deployment that serves opus requests",
    "gpt-5",
    in_azure="gpt-5",
    in_azure_note="the deployment `azd up` makes on a new resource (BIG_MODEL_NAME)",
)
MIDDLE_MODEL = Setting("MIDDLE_MODEL", TEXT, "Deployment that serves sonnet requests", "gpt-5", default_from=BIG_MODEL)
SMALL_MODEL = Setting(
    "SMALL_MODEL",
    TEXT,
    "Deployment that serves haiku requests",
    "gpt-5-mini",
    default_from=MIDDLE_MODEL,
    in_azure="gpt-5-mini",
    in_azure_note="the second deployment `azd up` makes on a new resource (SMALL_MODEL_NAME)",
)
THINK_MODEL = Setting(
    "THINK_MODEL",
    TEXT,
    "Deployment for requests that ask for thinking (opus and sonnet requests)",
    unset="the tier's own deployment serves them",
)
LONG_CONTEXT_MODEL = Setting(
    "LONG_CONTEXT_MODEL",
    TEXT,
    "Deployment for requests longer than LONG_CONTEXT_THRESHOLD tokens",
    "gpt-4.1",
    unset="the tier's own deployment serves them",
)
LONG_CONTEXT_THRESHOLD = Setting(
    "LONG_CONTEXT_THRESHOLD",
    WHOLE,
    "Input tokens (counted as count_tokens does) above which LONG_CONTEXT_MODEL serves",
    "60000",
    default="60000",
)
TIER_SETTINGS = (BIG_MODEL, MIDDLE_MODEL, SMALL_MODEL, THINK_MODEL, LONG_CONTEXT_MODEL)
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
        f"`chat` or `responses` for {tier.name}" if tier is BIG_MODEL else f"The same for {tier.name}",
        unset="automatic (Responses on Azure, chat elsewhere)",
    )
    for tier in TIER_SETTINGS
)
TEMPERATURES = Setting(
    "*_TEMPERATURE",
    NUMBER,
    "Per-tier override of the client's temperature: BIG_MODEL_TEMPERATURE, SMALL_MODEL_TEMPERATURE, ...",
    sample_name="BIG_MODEL_TEMPERATURE",
    unset="the client's value",
)
TOP_PS = Setting(
    "*_TOP_P",
    NUMBER,
    "Per-tier override of top_p: BIG_MODEL_TOP_P, ...",
    sample_name="BIG_MODEL_TOP_P",
    unset="the client's value",
)
MAX_TOKENS = Setting(
    "*_MAX_TOKENS",
    WHOLE,
    "Per-tier override of max_tokens: BIG_MODEL_MAX_TOKENS, ...",
    sample_name="BIG_MODEL_MAX_TOKENS",
    unset="the client's value",
)
AUTH_TOKEN = Setting(
    "ANTHROPIC_AUTH_TOKEN",
    TEXT,
    "Token clients must present (x-api-key or Authorization: Bearer) with CLIENT_AUTH=token; in Azure it must have "
    "32 characters or more",
    "<long random token>",
    True,
    unset="no client auth (in Azure, every request is refused unless ALLOW_OPEN_ACCESS is true)",
    in_azure_note="a random token made once and kept in Key Vault, or yours (`azd env set ANTHROPIC_AUTH_TOKEN`)",
)
ALLOW_OPEN_ACCESS = Setting(
    "ALLOW_OPEN_ACCESS",
    TEXT,
    "`true` lets a bridge in Azure serve without a client token (only behind something else that authenticates)",
    deployed=False,
    unset="a bridge in Azure without a client token serves nothing",
)
REQUEST_TIMEOUT = Setting(
    "REQUEST_TIMEOUT",
    POSITIVE,
    "Seconds a request may take end to end, upstream retries included",
    default="600",
    in_azure="225",
    in_azure_note="Azure's front end ends every HTTP response about 230 s after the request arrived, so in Azure the "
    "bridge's own clear error must come first; 600 s suits `python -m bridge` and `func start`, where nothing cuts a "
    "response (host.json's functionTimeout, 10.5 minutes, sits just above it)",
)
HEARTBEAT_SECONDS = Setting(
    "HEARTBEAT_SECONDS", POSITIVE, "Seconds of upstream silence after which a stream gets a ping", default="10"
)
RETRY_BACKOFF_SECONDS = Setting(
    "RETRY_BACKOFF_SECONDS",
    POSITIVE,
    "Seconds before the first retry when the upstream names no wait; each retry doubles it (full jitter, at most 8 s), "
    "and a stream that fails before its first event rests its endpoint for two of them",
    default="0.5",
    deployed=False,
)
MAX_STREAM_SECONDS = Setting(
    "MAX_STREAM_SECONDS",
    POSITIVE,
    "A stream still running after this many seconds ends with a clear error event",
    default_from=REQUEST_TIMEOUT,
    in_azure="220",
    in_azure_note="a long stream ends with the bridge's error event before Azure's front end cuts it at about 230 s",
)
MAX_TOKENS_LIMIT = Setting("MAX_TOKENS_LIMIT", WHOLE, "Upper bound applied to every request's max_tokens", unset="no cap")
MAX_REQUEST_BYTES = Setting(
    "MAX_REQUEST_BYTES", WHOLE, "Largest request body accepted, in bytes (33554432 is 32 MiB)", default="33554432"
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
    "Web pages whose scripts may call the bridge from a browser (CORS): their origins, comma-separated, or `*` for any page",
    "https://chat.example.com,http://localhost:3000",
    unset="no page",
)

# ----- the organization gateway: who may call, their keys, their budgets (bridge/gateway) -----
CLIENT_AUTH = Setting(
    "CLIENT_AUTH",
    CLIENT_AUTH_MODE,
    "How clients sign in: `token` (the shared ANTHROPIC_AUTH_TOKEN) or `entra` (Microsoft Entra ID access tokens, "
    "and personal keys made with them)",
    default="token",
)
ENTRA_TENANT_ID = Setting(
    "ENTRA_TENANT_ID",
    GUID,
    "With CLIENT_AUTH=entra: the directory (tenant) id whose users may call",
    "<tenant id>",
    in_azure_note="the tenant of the subscription",
)
ENTRA_CLIENT_ID = Setting(
    "ENTRA_CLIENT_ID",
    GUID,
    "With CLIENT_AUTH=entra: the application (client) id of the bridge's app registration, the tokens' audience "
    "(api://<client id> is accepted too)",
    "<client id>",
    in_azure_note="with CLIENT_AUTH=entra: the app registration `azd up` makes",
)
ENTRA_AUTHORITY = Setting(
    "ENTRA_AUTHORITY",
    HTTPS_URL,
    "Entra ID sign-in host, https only: another cloud's host, or a local stand-in on this machine, which may use http",
    default="https://login.microsoftonline.com",
    in_azure_note="the sign-in host of the cloud it is deployed in",
)
ENTRA_REQUIRED_ROLE = Setting(
    "ENTRA_REQUIRED_ROLE",
    TEXT,
    "An app role of the bridge's app registration every person must have (403 otherwise)",
    "Bridge.User",
    unset="any person of the tenant",
    in_azure_note="`Bridge.User` with ENTRA_APP_ROLE_REQUIRED=true",
)
ENTRA_AUTOMATION_ROLE = Setting(
    "ENTRA_AUTOMATION_ROLE",
    TEXT,
    "The app role that lets an application (service principal, managed identity) call with its own token. An "
    "application never gets personal keys",
    "Bridge.Automation",
    unset="only people (tokens with the delegated scope user_impersonation)",
    in_azure_note="`Bridge.Automation` with CLIENT_AUTH=entra",
)
ENTRA_ADMIN_ROLE = Setting(
    "ENTRA_ADMIN_ROLE",
    TEXT,
    "The app role of the people who may list and revoke anyone's personal keys (GET /v1/keys?user=..., "
    "DELETE /v1/keys/{id}), read anyone's usage (GET /v1/usage?user=...) and export a month of everyone's for "
    "chargeback (GET /v1/usage/export?month=YYYY-MM)",
    "Bridge.Admin",
    unset="nobody",
    in_azure_note="`Bridge.Admin` with CLIENT_AUTH=entra",
)
PERSONAL_KEY_DAYS = Setting("PERSONAL_KEY_DAYS", WHOLE, "Days a personal key works before it lapses", default="30")
PERSONAL_KEY_SIGNIN_DAYS = Setting(
    "PERSONAL_KEY_SIGNIN_DAYS",
    WHOLE,
    "A personal key works only while its owner has signed in with Entra ID within this many days: a disabled "
    "account's keys stop within that time",
    default="7",
)
BUDGET_DAILY_TOKENS = Setting(
    "BUDGET_DAILY_TOKENS",
    TOKEN_COUNT,
    "Tokens (input, cached included, plus output) each user may use per UTC day",
    "2M",
    unset="no limit",
)
BUDGET_MONTHLY_TOKENS = Setting(
    "BUDGET_MONTHLY_TOKENS", TOKEN_COUNT, "Tokens each user may use per calendar month (UTC)", "40M", unset="no limit"
)
BUDGET_OVERRIDES = Setting(
    "BUDGET_OVERRIDES",
    TEXT,
    "Budgets per app role or group, the most generous match wins: role:<app role>=daily:<n>,monthly:<n> (tokens), "
    "daily_usd:<usd>,monthly_usd:<usd> (dollars); group:<group object id>=daily:unlimited (entries separated by ;)",
    "role:Bridge.Lead=daily:10M,monthly:200M,daily_usd:50,monthly_usd:800",
    unset="everyone has the daily and monthly budgets",
)
USAGE_TABLE_ENDPOINT = Setting(
    "USAGE_TABLE_ENDPOINT",
    HTTPS_URL,
    "Table service of the storage account that keeps personal keys and usage counters for every instance, reached "
    "with the managed identity (https only; http for Azurite on this machine)",
    "https://mystorage.table.core.windows.net",
    unset="without USAGE_CONNECTION_STRING, each instance keeps them in memory",
    in_azure_note="the table service of the Function App's own storage account",
)
USAGE_CONNECTION_STRING = Setting(
    "USAGE_CONNECTION_STRING",
    TEXT,
    "Instead of USAGE_TABLE_ENDPOINT: a storage connection string (Azurite, local runs)",
    "<connection string>",
    secret=True,
    deployed=False,
    unset="USAGE_TABLE_ENDPOINT decides",
)
BUDGET_DAILY_USD = Setting(
    "BUDGET_DAILY_USD",
    DOLLARS,
    "US dollars each user may spend per UTC day, at each deployment's price (PRICES)",
    "20",
    unset="no limit",
)
BUDGET_MONTHLY_USD = Setting(
    "BUDGET_MONTHLY_USD", DOLLARS, "US dollars each user may spend per calendar month (UTC)", "400", unset="no limit"
)
BUDGET_WARN_PERCENT = Setting(
    "BUDGET_WARN_PERCENT",
    PERCENT,
    "Past this percentage of a budget, answers carry x-bridge-budget-warning and the log says so once per person and period",
    default="80",
)
PRICES = Setting(
    "PRICES",
    TEXT,
    "Prices per deployment in USD per million tokens, over the kept price table (genai-prices, Azure Global prices): "
    "<deployment>=input:<usd>,cached:<usd>,output:<usd>, or <deployment>=model:<model>[*<factor>] for a deployment "
    "named otherwise or a Data Zone uplift (*1.1), or <deployment>=free (entries separated by ;)",
    "gpt-5=model:gpt-5*1.1;my-ft=input:3,output:12",
    unset="the table's price of the model each deployment is named after",
)
RATE_LIMIT_REQUESTS_PER_MINUTE = Setting(
    "RATE_LIMIT_REQUESTS_PER_MINUTE",
    WHOLE,
    "Requests each user may make per minute, every instance together (429 with retry-after)",
    "60",
    unset="no limit",
)
RATE_LIMIT_TOKENS_PER_MINUTE = Setting(
    "RATE_LIMIT_TOKENS_PER_MINUTE",
    TOKEN_COUNT,
    "Tokens (input, cached included, plus output) each user may use per minute, every instance together",
    "400k",
    unset="no limit",
)
MODEL_POLICY = Setting(
    "MODEL_POLICY",
    TEXT,
    "Model tiers (opus, sonnet, haiku) per app role or group: role:<app role>=opus,sonnet,haiku;default=sonnet,haiku. "
    "A request for another tier is served by the most capable one the person may use",
    "role:Bridge.Lead=opus,sonnet,haiku;default=sonnet,haiku",
    unset="every tier for everyone",
)
ENTRA_CLIENT_SECRET = Setting(
    "ENTRA_CLIENT_SECRET",
    TEXT,
    "A client secret of the bridge's app registration, with which Claude Code's /login redeems a person's sign-in at "
    "Entra ID (local runs, a stand-in)",
    "<client secret>",
    secret=True,
    deployed=False,
    unset="the managed identity's token, through the federated credential `azd up` adds to the registration",
)
LOGIN_SIGNING_KEY = Setting(
    "LOGIN_SIGNING_KEY",
    TEXT,
    "Key (32 characters or more) that signs the access tokens of Claude Code's /login (HS256)",
    "<long random key>",
    secret=True,
    unset="a random key per process; where instances share tables, /login is then off",
    in_azure_note="a random key made once and kept in Key Vault (`login-signing-key`)",
)
LOGIN_SIGNING_KEY_PREVIOUS = Setting(
    "LOGIN_SIGNING_KEY_PREVIOUS",
    TEXT,
    "During a rotation of LOGIN_SIGNING_KEY: the key before, still accepted (never used to sign) until the tokens it "
    "signed have expired (LOGIN_TOKEN_MINUTES)",
    "<the previous key>",
    secret=True,
    deployed=False,
)
LOGIN_TOKEN_MINUTES = Setting(
    "LOGIN_TOKEN_MINUTES",
    WHOLE,
    "Minutes a /login access token works; then Claude Code refreshes it through Entra ID, so a disabled account or a "
    "removed app role stops within this time",
    default="60",
)
LOGIN_BASE_URL = Setting(
    "LOGIN_BASE_URL",
    URL,
    "The bridge's URL as Claude Code and browsers reach it (its custom domain): /login's endpoints, verification page "
    "and Entra ID redirect URI are built on it",
    "https://claude-gateway.corp.example.com",
    unset="the scheme and host each request came to",
    in_azure_note="https://LOGIN_HOST_NAME when that is set",
)
MANAGED_SETTINGS = Setting(
    "MANAGED_SETTINGS",
    TEXT,
    "Claude Code settings pushed to people signed in with /login, per app role and group (GET /managed/settings): a "
    'JSON list of {"for": "everyone" | "role:<app role>" | "group:<group object id>", "settings": {...}}, merged in '
    "order (docs/gateway.md)",
    '[{"for": "role:Bridge.User", "settings": {"permissions": {"deny": ["Bash(rm -rf:*)"]}}}]',
    unset="no managed settings (404)",
    in_azure_note="the contents of infra/managed-settings.json",
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
    ENTRA_CLIENT_SECRET,
    LOGIN_SIGNING_KEY,
    LOGIN_SIGNING_KEY_PREVIOUS,
    LOGIN_TOKEN_MINUTES,
    LOGIN_BASE_URL,
    MANAGED_SETTINGS,
)

APPLICATIONINSIGHTS_CONNECTION_STRING = Setting(
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    TEXT,
    "Application Insights to send the bridge's telemetry to (GenAI spans, metrics, one bridge.request event per "
    "request: docs/admin.md), through Azure Monitor's OpenTelemetry exporter; the Functions host uses it too",
    "InstrumentationKey=...;IngestionEndpoint=https://...",
    unset="no telemetry leaves the process (the SDK is not even imported), unless OTEL_EXPORTER_OTLP_ENDPOINT is set",
    in_azure_note="the connection string of the deployment's Application Insights",
)
APPLICATIONINSIGHTS_AUTHENTICATION_STRING = Setting(
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    TEXT,
    "How telemetry signs in to Application Insights: Authorization=AAD;ClientId=<client id> for a user-assigned "
    "managed identity (read by Azure Monitor's exporter and the Functions host)",
    "Authorization=AAD;ClientId=<client id>",
    unset="the connection string's instrumentation key (refused when the component disables local auth)",
    in_azure_note="the app's managed identity (the component disables local auth)",
)
OTEL_EXPORTER_OTLP_ENDPOINT = Setting(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    URL,
    "An OpenTelemetry collector of your own, over OTLP/HTTP (the other OTEL_EXPORTER_OTLP_* settings apply; "
    "OTEL_SDK_DISABLED=true turns all telemetry off)",
    "http://localhost:4318",
    deployed=False,
    unset="no export over OTLP",
)
RECONCILE_RESOURCE_IDS = Setting(
    "RECONCILE_RESOURCE_IDS",
    TEXT,
    "Resource ids of the Azure OpenAI resources the bridge uses, comma-separated: the daily reconciliation "
    "(python -m bridge reconcile, and a timer in Azure) compares their actual cost in Azure Cost Management with "
    "what the bridge charged (the identity needs Cost Management Reader on their resource groups)",
    "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>",
    unset="no reconciliation",
    in_azure_note="the Azure OpenAI resource of the deployment",
)
RECONCILE_GAP_PERCENT = Setting(
    "RECONCILE_GAP_PERCENT",
    POSITIVE,
    "How far apart (percent of Azure's cost) the bridge's daily cost and Azure's bill may be before the "
    "reconciliation says so (a warning in the log; over_threshold on its bridge.reconcile event)",
    "2.5",
    default="5",
    in_azure_note="ALERT_RECONCILE_GAP_PERCENT, which the alert on the gap uses too",
)
AZURE_MANAGEMENT_URL = Setting(
    "AZURE_MANAGEMENT_URL",
    URL,
    "Azure Resource Manager of your cloud, where Cost Management answers",
    "https://management.usgovcloudapi.net",
    default="https://management.azure.com",
    in_azure_note="the Resource Manager of the cloud it is deployed in",
)
TELEMETRY_SETTINGS = (
    APPLICATIONINSIGHTS_CONNECTION_STRING,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    RECONCILE_RESOURCE_IDS,
    RECONCILE_GAP_PERCENT,
    AZURE_MANAGEMENT_URL,
)

SETTINGS: tuple[Setting[Any], ...] = (
    ENDPOINT,
    API_KEY,
    API_VERSION,
    MORE_ENDPOINTS,
    OPENAI_BASE_URL,
    OPENAI_API_KEY,
    *TIER_SETTINGS,
    LONG_CONTEXT_THRESHOLD,
    *TIER_APIS,
    TEMPERATURES,
    TOP_PS,
    MAX_TOKENS,
    AUTH_TOKEN,
    ALLOW_OPEN_ACCESS,
    REQUEST_TIMEOUT,
    HEARTBEAT_SECONDS,
    RETRY_BACKOFF_SECONDS,
    MAX_STREAM_SECONDS,
    MAX_TOKENS_LIMIT,
    MAX_REQUEST_BYTES,
    CUSTOM_HEADERS,
    ALLOWED_ORIGINS,
    *GATEWAY_SETTINGS,
    *TELEMETRY_SETTINGS,
)
