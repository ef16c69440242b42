"""The gateway's parts, made once per process from its settings: who calls, their keys, their budget.

    part           with a table service (USAGE_*)      without
    key store      TableKeyStore  (table bridgekeys)   MemoryKeyStore
    usage store    TableUsageStore (table bridgeusage) MemoryUsageStore
    verifier       EntraVerifier when CLIENT_AUTH=entra
    login          LoginService (table bridgelogin,     LoginService (MemoryRows)
                   TableRows) when CLIENT_AUTH=entra

Nothing here does I/O: tables are created and Entra's keys fetched on first use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.gateway.auth.authenticate import Authenticator
from bridge.gateway.auth.keys import KeyStore, MemoryKeyStore, PersonalKeys
from bridge.gateway.settings import GatewaySettings
from bridge.gateway.usage.budget import Budget
from bridge.gateway.usage.store import MemoryUsageStore, UsageStore

if TYPE_CHECKING:
    from bridge.gateway.auth.entra import EntraVerifier
    from bridge.gateway.login.service import LoginService
    from bridge.gateway.tables import TableService


@dataclass
class Gateway:
    settings: GatewaySettings
    authenticator: Authenticator
    keys: PersonalKeys
    budget: Budget
    tables: TableService | None
    verifier: EntraVerifier | None
    login: LoginService | None = None

    @property
    def shared(self) -> bool:
        """True when keys and counters are in a table every instance sees."""
        return self.tables is not None

    async def aclose(self) -> None:
        """Write the counts still pending, then close the stores."""
        await self.budget.settle()
        await self.keys.store.aclose()
        await self.budget.store.aclose()
        if self.login is not None:
            await self.login.rows.aclose()
            await self.login.entra.aclose()
        if self.tables is not None:
            await self.tables.aclose()


def build_gateway(
    settings: GatewaySettings,
    shared_token: str | None,
    *,
    credential: Any = None,
) -> Gateway:
    """`shared_token`: ANTHROPIC_AUTH_TOKEN (CLIENT_AUTH=token); `credential`: the table service's (default: managed identity)."""
    tables, key_store, usage_store = _stores(settings, credential)
    keys = PersonalKeys(
        key_store,
        lifetime_days=settings.key_lifetime_days,
        sign_in_days=settings.key_sign_in_days,
        admin_role=settings.admin_role,
    )
    verifier = _verifier(settings)
    login = _login(settings, verifier, keys, tables)
    authenticator = Authenticator(
        settings.client_auth, shared_token=shared_token, verifier=verifier, keys=keys, lockout=settings.lockout, login=login
    )
    return Gateway(settings, authenticator, keys, Budget(settings.budget, usage_store), tables, verifier, login)


def _stores(settings: GatewaySettings, credential: Any) -> tuple[TableService | None, KeyStore, UsageStore]:
    """The table service (USAGE_TABLE_ENDPOINT or USAGE_CONNECTION_STRING) and the stores in it; else memory."""
    if settings.table_endpoint is None and settings.connection_string is None:
        return None, MemoryKeyStore(), MemoryUsageStore()
    # imported here, not at the top: Azure Tables' SDK costs every start-up ~35 ms, and only these stores need it
    from bridge.gateway.auth.key_table import KEYS_TABLE, TableKeyStore
    from bridge.gateway.tables import TableService
    from bridge.gateway.usage.table_store import USAGE_TABLE, TableUsageStore

    if settings.table_endpoint is not None:
        tables = TableService(endpoint=settings.table_endpoint, credential=credential)
    else:
        tables = TableService(connection_string=settings.connection_string)
    return tables, TableKeyStore(tables.table(KEYS_TABLE)), TableUsageStore(tables.table(USAGE_TABLE))


def _verifier(settings: GatewaySettings) -> EntraVerifier | None:
    if settings.entra is None:
        return None
    # imported here, not at the top: PyJWT and cryptography cost every start-up ~29 ms, and only Entra sign-in needs them
    from bridge.gateway.auth.entra import EntraVerifier

    return EntraVerifier(settings.entra)


def _login(
    settings: GatewaySettings, verifier: EntraVerifier | None, keys: PersonalKeys, tables: TableService | None
) -> LoginService | None:
    """Claude Code's /login, with CLIENT_AUTH=entra; where instances share tables, only with LOGIN_SIGNING_KEY."""
    login = settings.login
    if verifier is None or settings.entra is None or not settings.login_offered:
        return None
    # imported here, not at the top: the service and its tokens and rows load PyJWT and Azure Tables' SDK
    from bridge.gateway.login.entra_client import EntraClient
    from bridge.gateway.login.rows import LOGIN_TABLE, MemoryRows, Rows, TableRows
    from bridge.gateway.login.service import LoginService
    from bridge.gateway.login.tokens import LoginTokens

    tokens = LoginTokens(
        login.signing_key or secrets.token_urlsafe(32),
        audience=settings.entra.client_id,
        tenant_id=settings.entra.tenant_id,
        lifetime_seconds=login.token_minutes * 60,
        previous_keys=login.previous_keys,
    )
    rows: Rows = TableRows(tables.table(LOGIN_TABLE)) if tables is not None else MemoryRows()
    entra = EntraClient(settings.entra, client_secret=login.client_secret)
    return LoginService(rows, tokens, entra, verifier, keys.note_sign_in)
