"""The gateway's settings (sign-in, personal keys, budgets, where counters live), parsed without ever raising.

`GATEWAY_SETTINGS` are rows for `bridge.settings.SETTINGS`; `load_gateway_settings`
reads them from an environment like `load_settings` does (`<...>` placeholders
count as unset) and collects what is wrong in `problems`, each naming its
setting.  A CLIENT_AUTH that is neither `token` nor `entra` is a problem that
refuses every request (`refusal`): a typo must not open the bridge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.callers.authenticate import ClientAuth
from bridge.callers.entra import DEFAULT_AUTHORITY, GUID, EntraConfig
from bridge.callers.keys import DEFAULT_LIFETIME_DAYS
from bridge.settings import Setting, is_placeholder
from bridge.usage.budget import BudgetConfig, parse_overrides, parse_token_count

GATEWAY_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CLIENT_AUTH",
        "How clients sign in: `token` (the shared ANTHROPIC_AUTH_TOKEN, the default) or `entra` (Microsoft Entra ID "
        "tokens and personal keys)",
        "token",
    ),
    Setting("ENTRA_TENANT_ID", "With CLIENT_AUTH=entra: the directory (tenant) id whose users may call", "<tenant id>"),
    Setting(
        "ENTRA_CLIENT_ID",
        "With CLIENT_AUTH=entra: the application (client) id of the bridge's app registration, the tokens' audience "
        "(api://<client id> is accepted too)",
        "<client id>",
    ),
    Setting("ENTRA_AUTHORITY", f"Entra ID sign-in host (default {DEFAULT_AUTHORITY}; another cloud's host)", ""),
    Setting("ENTRA_REQUIRED_ROLE", "Optional: an app role every caller must have (403 otherwise)", "Bridge.User"),
    Setting("PERSONAL_KEY_DAYS", f"Days a personal key works before it lapses (default {DEFAULT_LIFETIME_DAYS})", "90"),
    Setting("BUDGET_DAILY_TOKENS", "Tokens (input, cached included, plus output) per user per UTC day; unset: no limit", "2M"),
    Setting("BUDGET_MONTHLY_TOKENS", "Tokens per user per calendar month (UTC); unset: no limit", "40M"),
    Setting(
        "BUDGET_OVERRIDES",
        "Budgets per app role or group, most generous match wins: role:<app role>=daily:<n>,monthly:<n>;"
        "group:<group object id>=daily:unlimited",
        "role:Bridge.Lead=daily:10M,monthly:200M",
    ),
    Setting(
        "USAGE_TABLE_ENDPOINT",
        "Table service of the storage account that keeps personal keys and usage counters for every instance, reached "
        "with the managed identity (unset, and no USAGE_CONNECTION_STRING: kept in each instance's memory)",
        "https://mystorage.table.core.windows.net",
    ),
    Setting(
        "USAGE_CONNECTION_STRING",
        "Instead of USAGE_TABLE_ENDPOINT: a storage connection string (Azurite, local runs)",
        "<connection string>",
        secret=True,
        deployed=False,
    ),
)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    client_auth: ClientAuth = "token"
    entra: EntraConfig | None = None
    key_lifetime_days: int = DEFAULT_LIFETIME_DAYS
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    table_endpoint: str | None = None
    connection_string: str | None = None
    problems: tuple[str, ...] = ()
    refusal: str | None = None
    """Set when sign-in is misconfigured: every request is refused with it (500, not retried)."""


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value if value and not is_placeholder(value) else None


def _guid(env: Mapping[str, str], name: str, what: str, problems: list[str]) -> str | None:
    value = _clean(env, name)
    if value is None:
        problems.append(f"CLIENT_AUTH=entra needs {name}: {what}")
        return None
    if not GUID.fullmatch(value):
        problems.append(f"{name} must be a GUID ({what}), got {value!r}")
        return None
    return value


def _url(env: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    value = _clean(env, name)
    if value is not None and not value.startswith(("https://", "http://")):
        problems.append(f"{name} must start with https:// (http:// only for a local emulator), got {value!r}")
        return None
    return value.rstrip("/") if value is not None else None


def _count(env: Mapping[str, str], name: str, problems: list[str]) -> int | None:
    raw = _clean(env, name)
    if raw is None:
        return None
    try:
        return parse_token_count(raw)
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return None


def _entra(env: Mapping[str, str], problems: list[str]) -> EntraConfig | None:
    before = len(problems)
    tenant = _guid(env, "ENTRA_TENANT_ID", "the directory (tenant) id of your Entra ID", problems)
    client = _guid(env, "ENTRA_CLIENT_ID", "the application (client) id of the bridge's app registration", problems)
    authority = _url(env, "ENTRA_AUTHORITY", problems) or DEFAULT_AUTHORITY
    if tenant is None or client is None or len(problems) > before:
        return None
    return EntraConfig(tenant, client, authority, _clean(env, "ENTRA_REQUIRED_ROLE"))


def _key_days(env: Mapping[str, str], problems: list[str]) -> int:
    raw = _clean(env, "PERSONAL_KEY_DAYS")
    if raw is None:
        return DEFAULT_LIFETIME_DAYS
    if not raw.isdigit() or int(raw) < 1:
        problems.append(f"PERSONAL_KEY_DAYS must be a whole number of days, at least 1, got {raw!r}")
        return DEFAULT_LIFETIME_DAYS
    return int(raw)


def load_gateway_settings(env: Mapping[str, str] | None = None) -> GatewaySettings:
    env = os.environ if env is None else env
    problems: list[str] = []
    mode_text = (_clean(env, "CLIENT_AUTH") or "token").lower()
    client_auth: ClientAuth = "entra" if mode_text == "entra" else "token"
    if mode_text not in ("token", "entra"):
        problems.append(f"CLIENT_AUTH must be 'token' or 'entra', got {mode_text!r}")
    entra = _entra(env, problems) if client_auth == "entra" else None
    refusal = None
    if mode_text not in ("token", "entra") or (client_auth == "entra" and entra is None):
        refusal = "The bridge's sign-in is misconfigured, so it refuses every request: " + "; ".join(problems)
    overrides, override_problems = parse_overrides(_clean(env, "BUDGET_OVERRIDES") or "")
    problems += override_problems
    budget = BudgetConfig(_count(env, "BUDGET_DAILY_TOKENS", problems), _count(env, "BUDGET_MONTHLY_TOKENS", problems), overrides)
    endpoint = _url(env, "USAGE_TABLE_ENDPOINT", problems)
    connection_string = _clean(env, "USAGE_CONNECTION_STRING")
    if endpoint is not None and connection_string is not None:
        problems.append("Set USAGE_TABLE_ENDPOINT or USAGE_CONNECTION_STRING, not both: USAGE_TABLE_ENDPOINT is used")
        connection_string = None
    return GatewaySettings(
        client_auth=client_auth,
        entra=entra,
        key_lifetime_days=_key_days(env, problems),
        budget=budget,
        table_endpoint=endpoint,
        connection_string=connection_string,
        problems=tuple(problems),
        refusal=refusal,
    )
