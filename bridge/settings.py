"""Every setting the bridge reads, in one table, and the parsed `Settings` snapshot.

The table `SETTINGS` is the single source of truth: `local.settings.sample.json`,
the README's configuration table, the Bicep app settings and `GET /health` are
all checked against it by the tests.  Names follow the older proxies
(claude-code-proxy, claude-code-router) so their users can switch by pointing
the same environment at the bridge.

Values written as `<...>` (the placeholders of local.settings.sample.json) count
as unset.  Missing or malformed values never raise at import or start-up (the Functions
host must still index the app): they are collected in `Settings.problems` and
reported by `GET /health` and by every request that needs them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    description: str
    example: str = ""
    secret: bool = False
    deployed: bool = True
    """False for settings that make no sense in the `azd up` deployment (a third-party upstream)."""
    sample_name: str = ""
    """The name local.settings.sample.json shows for a family (`CUSTOM_HEADER_*`); default: the name."""

    @property
    def sample_key(self) -> str:
        return self.sample_name or self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("AZURE_OPENAI_ENDPOINT", "Azure OpenAI resource endpoint", "https://my-resource.openai.azure.com"),
    Setting("AZURE_OPENAI_API_KEY", "API key of the resource; unset means Microsoft Entra ID", "<key or empty>", secret=True),
    Setting(
        "AZURE_OPENAI_API_VERSION",
        "Unset (or `v1`) uses Azure's v1 API; a dated version such as 2024-10-21 uses the deployments API. "
        "`AZURE_API_VERSION` is read too",
        "",
    ),
    Setting(
        "AZURE_OPENAI_ENDPOINT_*",
        "More resources serving the same deployment names, pooled with the first for load spreading and failover: "
        "AZURE_OPENAI_ENDPOINT_2, with AZURE_OPENAI_API_KEY_2 and AZURE_OPENAI_API_VERSION_2 when they differ",
        "https://my-resource-westus.openai.azure.com",
        sample_name="AZURE_OPENAI_ENDPOINT_2",
    ),
    Setting(
        "OPENAI_BASE_URL",
        "An OpenAI-compatible server instead of (or pooled with) Azure: OpenAI, Ollama, vLLM, llama.cpp",
        "http://localhost:11434/v1",
        deployed=False,
    ),
    Setting(
        "OPENAI_API_KEY", "Key for OPENAI_BASE_URL (sent as Authorization: Bearer)", "<key or empty>", secret=True, deployed=False
    ),
    Setting("BIG_MODEL", "Deployment that serves opus requests", "gpt-5"),
    Setting("MIDDLE_MODEL", "Deployment that serves sonnet requests (default: BIG_MODEL)", "gpt-5"),
    Setting("SMALL_MODEL", "Deployment that serves haiku requests (default: MIDDLE_MODEL)", "gpt-5-mini"),
    Setting("THINK_MODEL", "Optional: deployment for requests that ask for thinking (opus and sonnet requests)", ""),
    Setting("LONG_CONTEXT_MODEL", "Optional: deployment for requests longer than LONG_CONTEXT_THRESHOLD tokens", "gpt-4.1"),
    Setting(
        "LONG_CONTEXT_THRESHOLD", "Input tokens (counted as count_tokens does) above which LONG_CONTEXT_MODEL serves", "60000"
    ),
    Setting("BIG_MODEL_API", "`chat` or `responses` for BIG_MODEL; empty: automatic (Responses on Azure, chat elsewhere)", ""),
    Setting("MIDDLE_MODEL_API", "The same for MIDDLE_MODEL", ""),
    Setting("SMALL_MODEL_API", "The same for SMALL_MODEL", ""),
    Setting("THINK_MODEL_API", "The same for THINK_MODEL", ""),
    Setting("LONG_CONTEXT_MODEL_API", "The same for LONG_CONTEXT_MODEL", ""),
    Setting(
        "*_TEMPERATURE",
        "Per-tier override of the client's temperature: BIG_MODEL_TEMPERATURE, SMALL_MODEL_TEMPERATURE, ...",
        "",
        sample_name="BIG_MODEL_TEMPERATURE",
    ),
    Setting("*_TOP_P", "Per-tier override of top_p: BIG_MODEL_TOP_P, ...", "", sample_name="BIG_MODEL_TOP_P"),
    Setting("*_MAX_TOKENS", "Per-tier override of max_tokens: BIG_MODEL_MAX_TOKENS, ...", "", sample_name="BIG_MODEL_MAX_TOKENS"),
    Setting(
        "ANTHROPIC_AUTH_TOKEN",
        "Token clients must present (x-api-key or Authorization: Bearer); unset means no client auth",
        "<long random token>",
        secret=True,
    ),
    Setting("REQUEST_TIMEOUT", "Seconds a request may take end to end, upstream retries included", "600"),
    Setting("HEARTBEAT_SECONDS", "Seconds of upstream silence after which a stream gets a ping (default 10)", "10"),
    Setting(
        "MAX_STREAM_SECONDS",
        "A stream still running after this many seconds ends with a clear error event (default: REQUEST_TIMEOUT; 220 in Azure)",
        "220",
    ),
    Setting("MAX_TOKENS_LIMIT", "Upper bound applied to every request's max_tokens (unset: no cap)", ""),
    Setting("MAX_REQUEST_BYTES", "Largest request body accepted, in bytes (default 32 MB)", "33554432"),
    Setting(
        "CUSTOM_HEADER_*",
        "Extra upstream headers: CUSTOM_HEADER_X_API_KEY=v sends X-API-KEY: v",
        "",
        sample_name="CUSTOM_HEADER_X_EXAMPLE",
    ),
)

SETTING_NAMES: frozenset[str] = frozenset(s.name for s in SETTINGS)
CUSTOM_HEADER_PREFIX = "CUSTOM_HEADER_"
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_LONG_CONTEXT_THRESHOLD = 60000
TIER_SETTINGS = ("BIG_MODEL", "MIDDLE_MODEL", "SMALL_MODEL", "THINK_MODEL", "LONG_CONTEXT_MODEL")
TIER_FALLBACKS = {
    "MIDDLE_MODEL": ("MIDDLE_MODEL", "BIG_MODEL"),
    "SMALL_MODEL": ("SMALL_MODEL", "MIDDLE_MODEL", "BIG_MODEL"),
}
APIS = ("chat", "responses")
Api = Literal["chat", "responses"]
V1_API = "v1"
AZURE_PATH_SUFFIXES = ("/openai/v1", "/openai")


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
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_stream_seconds: float = DEFAULT_REQUEST_TIMEOUT
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    max_tokens_limit: int | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    long_context_threshold: int = DEFAULT_LONG_CONTEXT_THRESHOLD
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def tier(self, setting: str) -> Tier | None:
        """The tier for `setting`, with the fallbacks: MIDDLE → BIG, SMALL → MIDDLE → BIG."""
        for name in TIER_FALLBACKS.get(setting, (setting,)):
            if name in self.tiers:
                return self.tiers[name]
        return None


def is_placeholder(value: str) -> bool:
    """`<...>` values are the placeholders of local.settings.sample.json: treated as unset."""
    return value.startswith("<") and value.endswith(">")


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value if value and not is_placeholder(value) else None


def _number(env: Mapping[str, str], name: str, problems: list[str]) -> float | None:
    raw = _clean(env, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        problems.append(f"{name} must be a positive number, got {raw!r}")
        return None
    return value


def _float(env: Mapping[str, str], name: str, problems: list[str]) -> float | None:
    raw = _clean(env, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        problems.append(f"{name} must be a number, got {raw!r}")
        return None


def _url(env: Mapping[str, str], name: str, problems: list[str], suffixes: tuple[str, ...]) -> str | None:
    url = _clean(env, name)
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        problems.append(f"{name} must start with https:// (or http:// for a local server), got {url!r}")
        return None
    url = url.rstrip("/")
    for suffix in suffixes:
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def _azure_upstreams(env: Mapping[str, str], problems: list[str]) -> list[UpstreamSetting]:
    """AZURE_OPENAI_ENDPOINT, then AZURE_OPENAI_ENDPOINT_2, _3, ... in order."""
    primary_version = _clean(env, "AZURE_OPENAI_API_VERSION") or _clean(env, "AZURE_API_VERSION") or V1_API
    numbered = sorted(int(name.rsplit("_", 1)[1]) for name in env if re.fullmatch(r"AZURE_OPENAI_ENDPOINT_\d+", name))
    upstreams: list[UpstreamSetting] = []
    for suffix in ["", *(f"_{n}" for n in numbered)]:
        source = f"AZURE_OPENAI_ENDPOINT{suffix}"
        url = _url(env, source, problems, AZURE_PATH_SUFFIXES)
        if url is not None:
            version = (_clean(env, f"AZURE_OPENAI_API_VERSION{suffix}") if suffix else None) or primary_version
            upstreams.append(UpstreamSetting(source, url, "azure", _clean(env, f"AZURE_OPENAI_API_KEY{suffix}"), version))
    return upstreams


def _tier(env: Mapping[str, str], setting: str, problems: list[str]) -> Tier | None:
    deployment = _clean(env, setting)
    if deployment is None:
        return None
    api = _clean(env, f"{setting}_API")
    if api is not None and api.lower() not in APIS:
        problems.append(f"{setting}_API must be 'chat' or 'responses' (or empty for automatic), got {api!r}")
        api = None
    max_tokens = _number(env, f"{setting}_MAX_TOKENS", problems)
    return Tier(
        setting,
        deployment,
        api.lower() if api is not None else None,  # type: ignore[arg-type]
        _float(env, f"{setting}_TEMPERATURE", problems),
        _float(env, f"{setting}_TOP_P", problems),
        int(max_tokens) if max_tokens is not None else None,
    )


def custom_header_name(setting: str) -> str:
    """CUSTOM_HEADER_X_API_KEY -> X-API-KEY."""
    return setting[len(CUSTOM_HEADER_PREFIX) :].replace("_", "-")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    upstreams = _azure_upstreams(env, problems)
    openai_url = _url(env, "OPENAI_BASE_URL", problems, ("/chat/completions", "/responses"))
    if openai_url is not None:
        upstreams.append(UpstreamSetting("OPENAI_BASE_URL", openai_url, "openai", _clean(env, "OPENAI_API_KEY")))
    if not upstreams and not any("must start with" in p for p in problems):
        problems.append(
            "AZURE_OPENAI_ENDPOINT is not set: set it to your resource's endpoint, e.g. https://my-resource.openai.azure.com "
            "(or set OPENAI_BASE_URL for an OpenAI-compatible server)"
        )
    tiers = {tier.setting: tier for name in TIER_SETTINGS if (tier := _tier(env, name, problems)) is not None}
    if "BIG_MODEL" not in tiers and "MIDDLE_MODEL" not in tiers:
        problems.append("BIG_MODEL is not set: set it to the deployment name that serves opus requests")
    threshold = _number(env, "LONG_CONTEXT_THRESHOLD", problems)
    timeout = _number(env, "REQUEST_TIMEOUT", problems) or DEFAULT_REQUEST_TIMEOUT
    max_tokens_limit = _number(env, "MAX_TOKENS_LIMIT", problems)
    max_request_bytes = _number(env, "MAX_REQUEST_BYTES", problems)
    return Settings(
        upstreams=tuple(upstreams),
        tiers=tiers,
        auth_token=_clean(env, "ANTHROPIC_AUTH_TOKEN"),
        request_timeout=timeout,
        max_stream_seconds=min(_number(env, "MAX_STREAM_SECONDS", problems) or timeout, timeout),
        heartbeat_seconds=_number(env, "HEARTBEAT_SECONDS", problems) or DEFAULT_HEARTBEAT_SECONDS,
        max_tokens_limit=int(max_tokens_limit) if max_tokens_limit is not None else None,
        max_request_bytes=int(max_request_bytes) if max_request_bytes is not None else DEFAULT_MAX_REQUEST_BYTES,
        long_context_threshold=int(threshold) if threshold is not None else DEFAULT_LONG_CONTEXT_THRESHOLD,
        custom_headers={
            custom_header_name(name): value
            for name, value in env.items()
            if name.startswith(CUSTOM_HEADER_PREFIX)
            and len(name) > len(CUSTOM_HEADER_PREFIX)
            and value
            and not is_placeholder(value)
        },
        problems=tuple(problems),
    )
