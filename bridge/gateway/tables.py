"""Azure Table Storage, where the gateway keeps what every instance must see: personal keys and usage counters.

One `TableService` per process: the Function App's storage account reached
with its managed identity (`USAGE_TABLE_ENDPOINT`; azure-identity's
`DefaultAzureCredential`, `AZURE_CLIENT_ID` for a user-assigned identity, the
role "Storage Table Data Contributor"), or a connection string
(`USAGE_CONNECTION_STRING`: Azurite, local runs).  The official
`azure-data-tables` async client does all the talking; each `Table` creates
itself on first use (an existing table is fine), never at import.
"""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables.aio import TableClient

from bridge.errors import BridgeError

CONNECTION_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
RETRIES = 2
RETRY_BACKOFF_SECONDS = 0.2
"""Storage sits on the request path: retry briefly (0.2 s, then 0.4 s), then say so."""
_CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
    "read_timeout": READ_TIMEOUT_SECONDS,
    "retry_total": RETRIES,
    "retry_backoff_factor": RETRY_BACKOFF_SECONDS,
}


class TableService:
    """The storage account's table service; makes `Table`s and owns the one credential they share."""

    def __init__(self, *, endpoint: str | None = None, connection_string: str | None = None, credential: Any = None) -> None:
        if (endpoint is None) == (connection_string is None):
            raise ValueError("give the table service either an endpoint or a connection string")
        self.endpoint = endpoint
        self._connection_string = connection_string
        self._credential = credential
        self._owns_credential = credential is None and endpoint is not None

    @property
    def setting(self) -> str:
        """The setting that configured it, for messages."""
        return "USAGE_TABLE_ENDPOINT" if self.endpoint is not None else "USAGE_CONNECTION_STRING"

    def table(self, name: str) -> Table:
        return Table(self, name)

    def open_client(self, name: str) -> TableClient:
        if self._connection_string is not None:
            return TableClient.from_connection_string(self._connection_string, name, **_CLIENT_OPTIONS)
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return TableClient(str(self.endpoint), name, credential=self._credential, **_CLIENT_OPTIONS)

    async def aclose(self) -> None:
        if self._owns_credential and self._credential is not None:
            await self._credential.close()
            self._credential = None


class Table:
    """One table of the service, created if missing the first time it is used."""

    def __init__(self, service: TableService, name: str) -> None:
        self.service = service
        self.name = name
        self._client: TableClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> TableClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    client = self.service.open_client(self.name)
                    try:
                        await client.create_table()
                    except ResourceExistsError:
                        pass
                    except AzureError:
                        await client.close()
                        raise
                    self._client = client
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def unavailable(self, action: str, exc: AzureError) -> BridgeError:
        """A retryable 503 (a passing outage) naming the table, the setting and what storage said (first line only)."""
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return BridgeError(
            "api_error",
            f"Could not {action} (Azure Table {self.name!r}, {self.service.setting}): {said[:300]}",
            http_status=503,
        )
