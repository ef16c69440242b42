"""Shared fixtures: a fake Azure OpenAI resource, and the bridge served by `python -m bridge` in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anthropic
import pytest

from bridge.gateway.usage.store import MemoryUsageStore, UsageStore
from bridge.gateway.usage.table_store import TableUsageStore
from tests.support.azurite import Azurite, FreshTable, requires_azurite, running_azurite
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, start_bridge, stop_bridge
from tests.support.fake_azure import FakeAzure, running_fake_azure
from tests.support.fake_entra import FakeEntra, running_fake_entra


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


@pytest.fixture(scope="session")
def bridge(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    running = start_bridge(bridge_env(fake_azure), tmp_path_factory.mktemp("bridge") / "bridge.log")
    yield running
    stop_bridge(running)


@pytest.fixture
def bridge_a(bridges: tuple[RunningBridge, RunningBridge]) -> RunningBridge:
    """The first of a module's two instances (its own `bridges` fixture starts them)."""
    return bridges[0]


@pytest.fixture
def bridge_b(bridges: tuple[RunningBridge, RunningBridge]) -> RunningBridge:
    """The second of a module's two instances."""
    return bridges[1]


@pytest.fixture
def client(bridge: RunningBridge) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0)


@pytest.fixture
def async_client(bridge: RunningBridge) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0)
