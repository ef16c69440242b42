"""Shared fixtures: a fake Azure OpenAI resource, and the bridge served by `python -m bridge` in front of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import pytest

from bridge.usage.store import MemoryUsageStore, UsageStore
from bridge.usage.table_store import TableUsageStore
from tests.azurite import Azurite, FreshTable, requires_azurite, running_azurite
from tests.fake_azure import FakeAzure, running_fake_azure
from tests.fake_entra import FakeEntra, running_fake_entra

ROOT = Path(__file__).resolve().parents[1]
CLIENT_TOKEN = "test-client-token-0123456789"
TIERS = {"BIG_MODEL": "gpt-5", "MIDDLE_MODEL": "gpt-5", "SMALL_MODEL": "gpt-4o"}
CHAT_TIERS = {"BIG_MODEL_API": "chat", "MIDDLE_MODEL_API": "chat", "SMALL_MODEL_API": "chat"}
"""The shared bridge tests chat/completions; Responses tiers are tested with their own bridges."""


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningBridge:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_bridge(env: dict[str, str], log_path: Path, interpreter_args: Sequence[str] = ()) -> RunningBridge:
    """Start `python -m bridge` exactly as the README says, and wait until `HEAD /` answers.

    `interpreter_args` go before `-m bridge` (the bench profiles it under `-m cProfile -o FILE`).
    """
    port = free_port()
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *interpreter_args, "-m", "bridge", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ANTHROPIC_", "OPENAI_"))}, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.head(url + "/", timeout=1)
            return RunningBridge(url, process, log_path)
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bridge did not start:\n{log_path.read_text(errors='replace')}") from None
            time.sleep(0.05)


def stop_bridge(bridge: RunningBridge) -> None:
    bridge.process.terminate()
    try:
        bridge.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bridge.process.kill()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def entra() -> Iterator[FakeEntra]:
    """A local OpenID provider standing in for Microsoft Entra ID (one per test module)."""
    served = FakeEntra()
    with running_fake_entra(served):
        yield served


@pytest.fixture(scope="session")
def fake_azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    with running_fake_azure(fake):
        yield fake


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's Table service for the whole run (tests that need it are marked `requires_azurite`); each test
    uses tables or users of its own."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as running:
        yield running


UsageStores = Callable[[], UsageStore]


@pytest.fixture(params=["memory", pytest.param("table", marks=requires_azurite)])
async def make_usage_store(request: pytest.FixtureRequest) -> AsyncIterator[UsageStores]:
    """Makes usage stores that count in one place, as instances do: one in memory, or one table of its own seen
    through separate clients."""
    if request.param == "memory":
        shared = MemoryUsageStore()
        yield lambda: shared
        return
    async with FreshTable(request.getfixturevalue("azurite"), "usage") as table:
        yield lambda: TableUsageStore(table.open())


@pytest.fixture(autouse=True)
def _fresh_fake(request: pytest.FixtureRequest) -> None:
    """Every test starts with an empty script and request log (only when it uses the fake)."""
    if "fake_azure" in request.fixturenames:
        request.getfixturevalue("fake_azure").reset()


def bridge_env(fake: FakeAzure, **overrides: str) -> dict[str, str]:
    return {
        "AZURE_OPENAI_ENDPOINT": str(fake.url),
        "AZURE_OPENAI_API_KEY": fake.api_key,
        "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN,
        "REQUEST_TIMEOUT": "60",
        **TIERS,
        **CHAT_TIERS,
        **overrides,
    }


@pytest.fixture(scope="session")
def bridge(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    running = start_bridge(bridge_env(fake_azure), tmp_path_factory.mktemp("bridge") / "bridge.log")
    yield running
    stop_bridge(running)


@pytest.fixture
def client(bridge: RunningBridge) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0)


@pytest.fixture
def async_client(bridge: RunningBridge) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0)
