"""The parsed `Settings` snapshot, read from the environment by `load_settings`.

Missing or malformed values never raise at import or start-up (the Functions host must still index the
app): they are collected in `Settings.problems`, each naming its setting (never echoing a secret or a URL),
and reported by `GET /health` and by every request that needs them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from bridge.config.safety import lockout_reason
from bridge.config.table import (
    ALLOWED_ORIGINS,
    API_KEY,
    API_VERSION,
    AUTH_TOKEN,
    BIG_MODEL,
    CUSTOM_HEADERS,
    ENDPOINT,
    HEARTBEAT_SECONDS,
    LONG_CONTEXT_THRESHOLD,
    MAX_REQUEST_BYTES,
    MAX_STREAM_SECONDS,
    MAX_TOKENS,
    MAX_TOKENS_LIMIT,
    MORE_ENDPOINTS,
    OPENAI_API_KEY,
    OPENAI_BASE_URL,
    REQUEST_TIMEOUT,
    RETRY_BACKOFF_SECONDS,
    TEMPERATURES,
    TIER_APIS,
    TIER_FALLBACKS,
    TIER_SETTINGS,
    TOP_PS,
    Setting,
)
from bridge.model import Api

V1_API = "v1"
RESPONSES_SINCE = "2025-03-01-preview"
"""The first dated API version that serves the Responses API (the v1 API always does)."""


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
UpstreamAuth = Literal["api-key", "entra-id", "none"]


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

    @property
    def auth(self) -> UpstreamAuth:
        """How the bridge signs in to it: its key; else Microsoft Entra ID on Azure, nothing elsewhere."""
        if self.api_key:
            return "api-key"
        return "entra-id" if self.flavor == "azure" else "none"


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
    retry_backoff_seconds: float
    """The first retry delay when the upstream names no wait (the pool's backoff doubles it)."""
    max_tokens_limit: int | None
    max_request_bytes: int
    long_context_threshold: int
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    allowed_origins: frozenset[str] = frozenset()
    """Origins (or `*`) whose browser scripts may call: bridge.serving.cors."""
    problems: tuple[str, ...] = ()
    lockout: str | None = None
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    upstreams = _azure_upstreams(env, problems)
    openai_url = OPENAI_BASE_URL.value(env, problems)
    if openai_url is not None:
        upstreams.append(UpstreamSetting(OPENAI_BASE_URL.name, openai_url, "openai", OPENAI_API_KEY.value(env, problems)))
    if not upstreams and not (ENDPOINT.raw(env) or OPENAI_BASE_URL.raw(env)):
        problems.append(
            f"{ENDPOINT.name} is not set: set it to your resource's endpoint, e.g. {ENDPOINT.example} "
            f"(or set {OPENAI_BASE_URL.name} for an OpenAI-compatible server)"
        )
    tiers = {
        tier.setting: tier
        for setting, api in zip(TIER_SETTINGS, TIER_APIS, strict=True)
        if (tier := _tier(env, setting, api, problems)) is not None
    }
    dated = [upstream for upstream in upstreams if upstream.flavor == "azure" and not upstream.offers_responses]
    for api_setting, tier_setting in zip(TIER_APIS, TIER_SETTINGS, strict=True):
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
    timeout = REQUEST_TIMEOUT.value_or_default(env, problems)
    auth_token = AUTH_TOKEN.value(env, problems)
    lockout = lockout_reason(env, auth_token)
    if lockout is not None and lockout not in problems:
        problems.append(lockout)
    return Settings(
        upstreams=tuple(upstreams),
        tiers=tiers,
        auth_token=auth_token,
        lockout=lockout,
        request_timeout=timeout,
        max_stream_seconds=min(MAX_STREAM_SECONDS.value(env, problems) or timeout, timeout),
        heartbeat_seconds=HEARTBEAT_SECONDS.value_or_default(env, problems),
        retry_backoff_seconds=RETRY_BACKOFF_SECONDS.value_or_default(env, problems),
        max_tokens_limit=MAX_TOKENS_LIMIT.value(env, problems),
        max_request_bytes=MAX_REQUEST_BYTES.value_or_default(env, problems),
        long_context_threshold=LONG_CONTEXT_THRESHOLD.value_or_default(env, problems),
        custom_headers=_custom_headers(env, problems),
        allowed_origins=ALLOWED_ORIGINS.value(env, problems) or frozenset(),
        problems=tuple(problems),
    )
