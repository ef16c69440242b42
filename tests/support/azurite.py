"""Azurite's Table service (the Azure Storage emulator, npm `azurite`), started by the tests that need it.

`scripts/test` installs the pinned Azurite into tests/azurite/node_modules with
`npm ci`.  `running_azurite` starts `azurite-table` on a free 127.0.0.1 port,
in memory (nothing on disk), without telemetry, in loose mode and accepting
any API version (the SDK may be newer than the emulator), and stops it after
the block.  Clients reach it with the emulator's well-known development
account, the one every Azure Storage SDK documents for Azurite.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.gateway.tables import Table, TableService
from tests.support.paths import ROOT
from tests.support.serving import free_port, stop

AZURITE_TABLE = ROOT / "tests" / "azurite" / "node_modules" / ".bin" / "azurite-table"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_TIMEOUT = 30.0

requires_azurite = pytest.mark.skipif(
    not AZURITE_TABLE.exists(),
    reason=f"Azurite not installed at {AZURITE_TABLE.relative_to(ROOT)}: run `npm ci --prefix tests/azurite` (scripts/test does)",
)


@dataclass(frozen=True, slots=True)
class Azurite:
    port: int
    log_path: Path
    pid: int
    """The emulator's process (node), for the benchmark's CPU readings."""

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};TableEndpoint={self.table_endpoint};"
        )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_azurite(workspace: Path) -> Iterator[Azurite]:
    """Azurite's Table service for the block, run in `workspace` (it holds the log; data stays in memory)."""
    port = free_port()
    log_path = workspace / "azurite.log"
    command = [
        str(AZURITE_TABLE),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--silent",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=workspace, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Azurite did not start on 127.0.0.1:{port}:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Azurite(port, log_path, process.pid)
    finally:
        stop(process)


class FreshTable:
    """A table of its own for one test, opened through as many separate clients as it asks for (as instances would)."""

    def __init__(self, azurite: Azurite, prefix: str) -> None:
        self.azurite = azurite
        self.name = prefix + secrets.token_hex(6)
        self._opened: list[Table] = []

    def open(self) -> Table:
        table = TableService(connection_string=self.azurite.connection_string).table(self.name)
        self._opened.append(table)
        return table

    async def __aenter__(self) -> FreshTable:
        return self

    async def __aexit__(self, *_: object) -> None:
        for table in self._opened:
            await table.aclose()
