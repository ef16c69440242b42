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
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    description: str
    example: str = ""
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("AZURE_OPENAI_ENDPOINT", "Azure OpenAI resource endpoint", "https://my-resource.openai.azure.com"),
    Setting("AZURE_OPENAI_API_KEY", "API key of the resource; unset means Microsoft Entra ID", "<key or empty>", secret=True),
    Setting(
        "AZURE_OPENAI_API_VERSION",
        "Unset (or `v1`) uses Azure's v1 API; a dated version such as 2024-10-21 uses the deployments API. "
        "`AZURE_API_VERSION` is read too",
        "",
    ),
    Setting("BIG_MODEL", "Deployment that serves opus requests", "gpt-5"),
    Setting("MIDDLE_MODEL", "Deployment that serves sonnet requests (default: BIG_MODEL)", "gpt-5"),
    Setting("SMALL_MODEL", "Deployment that serves haiku requests (default: MIDDLE_MODEL)", "gpt-5-mini"),
    Setting(
        "ANTHROPIC_AUTH_TOKEN",
        "Token clients must present (x-api-key or Authorization: Bearer); unset means no client auth",
        "<long random token>",
        secret=True,
    ),
    Setting("REQUEST_TIMEOUT", "Seconds a request may take end to end, upstream retries included", "600"),
    Setting("MAX_TOKENS_LIMIT", "Upper bound applied to every request's max_tokens (unset: no cap)", ""),
    Setting("MAX_REQUEST_BYTES", "Largest request body accepted, in bytes (default 32 MB)", "33554432"),
    Setting("CUSTOM_HEADER_*", "Extra upstream headers: CUSTOM_HEADER_X_API_KEY=v sends X-API-KEY: v", ""),
)

SETTING_NAMES: frozenset[str] = frozenset(s.name for s in SETTINGS)
CUSTOM_HEADER_PREFIX = "CUSTOM_HEADER_"
DEFAULT_REQUEST_TIMEOUT = 600.0
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
V1_API = "v1"


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str | None
    api_key: str | None
    api_version: str
    big_model: str | None
    middle_model: str | None
    small_model: str | None
    auth_token: str | None
    request_timeout: float
    max_tokens_limit: int | None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def uses_v1_api(self) -> bool:
        return self.api_version == V1_API


def is_placeholder(value: str) -> bool:
    """`<...>` values are the placeholders of local.settings.sample.json: treated as unset."""
    return value.startswith("<") and value.endswith(">")


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value if value and not is_placeholder(value) else None


def _number(env: Mapping[str, str], name: str, problems: list[str], kind: type[int] | type[float]) -> float | None:
    raw = _clean(env, name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        problems.append(f"{name} must be a positive number, got {raw!r}")
        return None
    if value <= 0:
        problems.append(f"{name} must be a positive number, got {raw!r}")
        return None
    return value


def _endpoint(env: Mapping[str, str], problems: list[str]) -> str | None:
    endpoint = _clean(env, "AZURE_OPENAI_ENDPOINT")
    if endpoint is None:
        problems.append("AZURE_OPENAI_ENDPOINT is not set: set it to your resource's endpoint, e.g. https://my-resource.openai.azure.com")
        return None
    if not endpoint.startswith(("https://", "http://")):
        problems.append(f"AZURE_OPENAI_ENDPOINT must start with https://, got {endpoint!r}")
        return None
    endpoint = endpoint.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if endpoint.endswith(suffix):
            endpoint = endpoint[: -len(suffix)]
    return endpoint


def custom_header_name(setting: str) -> str:
    """CUSTOM_HEADER_X_API_KEY -> X-API-KEY."""
    return setting[len(CUSTOM_HEADER_PREFIX):].replace("_", "-")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    big = _clean(env, "BIG_MODEL")
    middle = _clean(env, "MIDDLE_MODEL") or big
    small = _clean(env, "SMALL_MODEL") or middle
    if big is None and middle is None:
        problems.append("BIG_MODEL is not set: set it to the deployment name that serves opus requests")
    max_tokens_limit = _number(env, "MAX_TOKENS_LIMIT", problems, int)
    timeout = _number(env, "REQUEST_TIMEOUT", problems, float)
    max_request_bytes = _number(env, "MAX_REQUEST_BYTES", problems, int)
    return Settings(
        endpoint=_endpoint(env, problems),
        api_key=_clean(env, "AZURE_OPENAI_API_KEY"),
        api_version=_clean(env, "AZURE_OPENAI_API_VERSION") or _clean(env, "AZURE_API_VERSION") or V1_API,
        big_model=big,
        middle_model=middle,
        small_model=small,
        auth_token=_clean(env, "ANTHROPIC_AUTH_TOKEN"),
        request_timeout=float(timeout) if timeout is not None else DEFAULT_REQUEST_TIMEOUT,
        max_tokens_limit=int(max_tokens_limit) if max_tokens_limit is not None else None,
        max_request_bytes=int(max_request_bytes) if max_request_bytes is not None else DEFAULT_MAX_REQUEST_BYTES,
        custom_headers={
            custom_header_name(name): value
            for name, value in env.items()
            if name.startswith(CUSTOM_HEADER_PREFIX) and len(name) > len(CUSTOM_HEADER_PREFIX) and value and not is_placeholder(value)
        },
        problems=tuple(problems),
    )
