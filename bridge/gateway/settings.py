"""The gateway's settings (sign-in, personal keys, budgets, prices, rate limits, model policy, where counters live,
managed settings) as one parsed snapshot.

The rows are `bridge.config.table.GATEWAY_SETTINGS` (part of the one `SETTINGS`
table); `load_gateway_settings` reads them from an environment like
`load_settings` does (`<...>` placeholders count as unset) and collects what
is wrong in `problems`, each naming its setting.  Sign-in that cannot work (a
CLIENT_AUTH that is neither `token` nor `entra`, or `entra` without a valid
tenant and client id) is a problem that refuses every request (`lockout`): a
typo must not open the bridge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.config.table import (
    BUDGET_DAILY_TOKENS,
    BUDGET_DAILY_USD,
    BUDGET_MONTHLY_TOKENS,
    BUDGET_MONTHLY_USD,
    BUDGET_OVERRIDES,
    BUDGET_WARN_PERCENT,
    CLIENT_AUTH,
    ENTRA_ADMIN_ROLE,
    ENTRA_AUTHORITY,
    ENTRA_AUTOMATION_ROLE,
    ENTRA_CLIENT_ID,
    ENTRA_CLIENT_SECRET,
    ENTRA_REQUIRED_ROLE,
    ENTRA_TENANT_ID,
    LOGIN_BASE_URL,
    LOGIN_SIGNING_KEY,
    LOGIN_SIGNING_KEY_PREVIOUS,
    LOGIN_TOKEN_MINUTES,
    MANAGED_SETTINGS,
    MODEL_POLICY,
    PERSONAL_KEY_DAYS,
    PERSONAL_KEY_SIGNIN_DAYS,
    PRICES,
    RATE_LIMIT_REQUESTS_PER_MINUTE,
    RATE_LIMIT_TOKENS_PER_MINUTE,
    USAGE_CONNECTION_STRING,
    USAGE_TABLE_ENDPOINT,
    Setting,
)
from bridge.gateway.auth.entra_config import EntraConfig
from bridge.gateway.managed_settings import NO_MANAGED_SETTINGS, ManagedSettings, parse_managed_settings
from bridge.gateway.policy import ModelPolicy, parse_policy
from bridge.gateway.pricing.rules import PriceRule, parse_prices
from bridge.gateway.usage.limits import BudgetConfig, parse_overrides
from bridge.model import ClientAuth

MIN_KEY_CHARS = 32
"""The shortest LOGIN_SIGNING_KEY (and _PREVIOUS) accepted: the HS256 key of /login's tokens (`login.tokens`)."""


@dataclass(frozen=True, slots=True)
class LoginSettings:
    """Claude Code's /login (with CLIENT_AUTH=entra): how its tokens are signed, how long they last, where it is."""

    signing_key: str | None = None
    """LOGIN_SIGNING_KEY; None: a random key per process, and no /login where instances share tables (one
    instance would refuse the tokens of another)."""
    previous_keys: tuple[str, ...] = ()
    token_minutes: int = LOGIN_TOKEN_MINUTES.default_value
    base_url: str | None = None
    client_secret: str | None = None
    """ENTRA_CLIENT_SECRET; None: the managed identity's federated credential."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    client_auth: ClientAuth = "token"
    entra: EntraConfig | None = None
    key_lifetime_days: int = PERSONAL_KEY_DAYS.default_value
    key_sign_in_days: int = PERSONAL_KEY_SIGNIN_DAYS.default_value
    admin_role: str | None = None
    """ENTRA_ADMIN_ROLE: the app role of those who may list and revoke anyone's personal keys."""
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    prices: Mapping[str, PriceRule] = field(default_factory=dict)
    """PRICES, by deployment (the table prices the others)."""
    policy: ModelPolicy = field(default_factory=ModelPolicy)
    table_endpoint: str | None = None
    connection_string: str | None = None
    login: LoginSettings = field(default_factory=LoginSettings)
    managed: ManagedSettings = NO_MANAGED_SETTINGS
    """MANAGED_SETTINGS: what GET /managed/settings serves each person."""
    problems: tuple[str, ...] = ()
    lockout: str | None = None
    """Set when sign-in is misconfigured: every request is refused with it (500, not retried)."""

    @property
    def shared(self) -> bool:
        """Keys, counters and sign-ins are in tables every instance sees."""
        return self.table_endpoint is not None or self.connection_string is not None

    @property
    def login_offered(self) -> bool:
        """Claude Code's /login: with CLIENT_AUTH=entra, and LOGIN_SIGNING_KEY where instances share tables (one
        instance would refuse another's tokens signed with a key of its own)."""
        return self.entra is not None and (self.login.signing_key is not None or not self.shared)


def _entra(env: Mapping[str, str], problems: list[str]) -> EntraConfig | None:
    before = len(problems)
    tenant = ENTRA_TENANT_ID.value(env, problems)
    client = ENTRA_CLIENT_ID.value(env, problems)
    authority = ENTRA_AUTHORITY.value_or_default(env, problems)
    needed = (
        (ENTRA_TENANT_ID, tenant, "the directory (tenant) id of your Entra ID (az account show --query tenantId -o tsv)"),
        (ENTRA_CLIENT_ID, client, "the application (client) id of the bridge's app registration"),
    )
    for setting, value, what in needed:
        if value is None and setting.name not in " ".join(problems[before:]):
            problems.append(f"{CLIENT_AUTH.name}=entra needs {setting.name}: {what}")
    if tenant is None or client is None or len(problems) > before:
        return None
    return EntraConfig(
        tenant, client, authority, ENTRA_REQUIRED_ROLE.value(env, problems), ENTRA_AUTOMATION_ROLE.value(env, problems)
    )


def _signing_key(env: Mapping[str, str], setting: Setting[str], problems: list[str]) -> str | None:
    key = setting.value(env, problems)
    if key is not None and len(key) < MIN_KEY_CHARS:
        problems.append(f"{setting.name} must have {MIN_KEY_CHARS} characters or more (it is not shown: it is secret)")
        return None
    return key


def _login(env: Mapping[str, str], problems: list[str]) -> LoginSettings:
    key = _signing_key(env, LOGIN_SIGNING_KEY, problems)
    previous = _signing_key(env, LOGIN_SIGNING_KEY_PREVIOUS, problems)
    return LoginSettings(
        signing_key=key,
        previous_keys=(previous,) if previous is not None else (),
        token_minutes=LOGIN_TOKEN_MINUTES.value_or_default(env, problems),
        base_url=LOGIN_BASE_URL.value(env, problems),
        client_secret=ENTRA_CLIENT_SECRET.value(env, problems),
    )


def load_gateway_settings(env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Read the gateway's settings from `env` (default: the process environment); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    client_auth = CLIENT_AUTH.value(env, problems)
    unknown_mode = bool(problems)
    entra = _entra(env, problems) if client_auth == "entra" else None
    lockout = None
    if unknown_mode or (client_auth == "entra" and entra is None):
        lockout = "its sign-in cannot work: " + "; ".join(problems)
    overrides, override_problems = parse_overrides(BUDGET_OVERRIDES.value(env, problems) or "", BUDGET_OVERRIDES.name)
    problems += override_problems
    budget = BudgetConfig(
        BUDGET_DAILY_TOKENS.value(env, problems),
        BUDGET_MONTHLY_TOKENS.value(env, problems),
        overrides,
        BUDGET_DAILY_USD.value(env, problems),
        BUDGET_MONTHLY_USD.value(env, problems),
        RATE_LIMIT_REQUESTS_PER_MINUTE.value(env, problems),
        RATE_LIMIT_TOKENS_PER_MINUTE.value(env, problems),
        BUDGET_WARN_PERCENT.value_or_default(env, problems),
    )
    prices, price_problems = parse_prices(PRICES.value(env, problems) or "", PRICES.name)
    policy, policy_problems = parse_policy(MODEL_POLICY.value(env, problems) or "", MODEL_POLICY.name)
    problems += price_problems + policy_problems
    endpoint = USAGE_TABLE_ENDPOINT.value(env, problems)
    connection_string = USAGE_CONNECTION_STRING.value(env, problems)
    if endpoint is not None and connection_string is not None:
        problems.append(
            f"Set {USAGE_TABLE_ENDPOINT.name} or {USAGE_CONNECTION_STRING.name}, not both: {USAGE_TABLE_ENDPOINT.name} is used"
        )
        connection_string = None
    login = _login(env, problems) if entra is not None else LoginSettings()
    managed_raw = MANAGED_SETTINGS.value(env, problems)
    managed, managed_problems = (
        parse_managed_settings(managed_raw, MANAGED_SETTINGS.name) if managed_raw is not None else (NO_MANAGED_SETTINGS, [])
    )
    problems += managed_problems
    return GatewaySettings(
        client_auth=client_auth or CLIENT_AUTH.default_value,
        entra=entra,
        key_lifetime_days=PERSONAL_KEY_DAYS.value_or_default(env, problems),
        key_sign_in_days=PERSONAL_KEY_SIGNIN_DAYS.value_or_default(env, problems),
        admin_role=ENTRA_ADMIN_ROLE.value(env, problems),
        budget=budget,
        prices=prices,
        policy=policy,
        table_endpoint=endpoint,
        connection_string=connection_string,
        login=login,
        managed=managed,
        problems=tuple(problems),
        lockout=lockout,
    )
