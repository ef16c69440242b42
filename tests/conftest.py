"""Shared fixtures (a fake Azure OpenAI resource, the bridge in front of it, Azurite, a fake Entra ID) and the markers.

Markers (registered in pyproject.toml, `--strict-markers`):

    process   the test starts a process: `python -m bridge`, Azurite, the Claude Code CLI, the benchmarks, a fresh
              interpreter for the Functions worker's gates.  Set here from the fixtures a test uses
              (`PROCESS_FIXTURES`), else by the module; a test that starts a process without it fails (an audit hook
              watches `subprocess.Popen`), so the fast loop below never needs Node, Azurite or a free CPU.
    http      the test serves HTTP in the test process (the fake Azure, a bridge in a thread, the Entra and identity
              stand-ins, aiohttp's test server).  Set here when the test or one of its fixtures calls a server
              (`SERVERS`); a test that binds a socket marked neither `http` nor `process` fails (the same audit hook).
    slow      takes seconds by nature: the waits Azure names, heartbeats, streams held open or pushed back (test_resilience,
              test_misbehaving_upstreams, test_catalog, the pool's bursts), fuzzing over HTTP, inputs of megabytes,
              azure-identity's own retries, loading Azure's resource models (test_bicep_models).

The fast inner loop, everything that needs no process and serves nothing (translation, settings, recovery, tools,
the gateway's stores and policies, the docs; about 18 s on 2 shared cores, docs/contributing.md has the figures),
in one process (pytest-xdist's start-up, every worker collecting every module, costs more than it saves here):

    HYPOTHESIS_PROFILE=dev .venv/bin/python -m pytest -m "not process and not slow and not http" -q

(`dev` runs a quarter of each property test's examples: `tests.support.strategies.examples`).  The whole suite
with the gates is `scripts/test`, which runs pytest on every core (pytest-xdist).
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import anthropic
import hypothesis
import pytest

from bridge.gateway.usage.store import MemoryUsageStore
from bridge.gateway.usage.table_store import TableUsageStore
from bridge.http import close_session
from tests.support.azurite import Azurite, running_azurite
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import FakeAzure
from tests.support.fake_entra import FakeEntra
from tests.support.serving import running
from tests.support.stores import STORES, UsageStores, shared_stores
from tests.support.strategies import DEV_PROFILE

hypothesis.settings.register_profile(DEV_PROFILE, max_examples=25)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PROCESS_FIXTURES = frozenset({"azurite"})
"""Fixtures that start a process: a test that uses one (directly or through another fixture) is marked `process`."""


class _ProcessGuard:
    """Fails a test that starts a process without the `process` marker (`sys.addaudithook`: every `subprocess.Popen`),
    or binds a socket with neither `http` nor `process` (every `socket.bind`)."""

    unmarked: str | None = None
    """The test being run, while it is not marked `process`."""
    INCIDENTAL = frozenset({"uname"})
    """A library's own one-off probe: `platform.uname()` runs `uname -p` once (azure-core's user agent asks)."""

    unserving: str | None = None
    """The test being run, while it is marked neither `http` nor `process`."""

    @classmethod
    def hook(cls, event: str, args: tuple[object, ...]) -> None:
        if event == "socket.bind" and cls.unserving is not None:
            raise RuntimeError(
                f"{cls.unserving} serves on a socket ({args[1]!r}) but is not marked `http`: mark it, or call the server "
                "from the test or a fixture by a name in SERVERS (tests/conftest.py)"
            )
        if event == "subprocess.Popen" and cls.unmarked is not None and Path(str(args[0])).name not in cls.INCIDENTAL:
            raise RuntimeError(
                f"{cls.unmarked} starts a process ({args[0]!r}) but is not marked `process`: mark it, or add the "
                "fixture that starts it to PROCESS_FIXTURES in tests/conftest.py"
            )


sys.addaudithook(_ProcessGuard.hook)


SERVERS = frozenset({"running", "running_bridge", "serving", "TestServer", "start_server"})
"""What serves HTTP in the test process (`tests.support.serving`, aiohttp's test server, asyncio's): a test whose
function or fixtures (directly or through another fixture) call one is marked `http`."""


def _serves_http(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    functions = [getattr(item, "function", None), *(definition.func for chain in definitions for definition in chain)]
    return any(SERVERS.intersection(function.__code__.co_names) for function in functions if hasattr(function, "__code__"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.process)
        if _serves_http(item):
            item.add_marker(pytest.mark.http)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    _ProcessGuard.unmarked = None if item.get_closest_marker("process") is not None else item.nodeid
    marked = item.get_closest_marker("process") is not None or item.get_closest_marker("http") is not None
    _ProcessGuard.unserving = None if marked else item.nodeid
    try:
        return (yield)
    finally:
        _ProcessGuard.unmarked = _ProcessGuard.unserving = None


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _no_http_session_left_open() -> Iterator[None]:
    """At the end, no aiohttp session may be left open: `bridge.http` keeps one per event loop, closed when its server
    shuts down or by `closed_http_session`; one left open lives on with its loop, and aiohttp says "Unclosed client
    session" after the summary, blaming no test.  (Every loop has ended by now.)"""
    yield
    gc.collect()
    # type(), not isinstance(): isinstance asks each object's __class__, which lazy proxies answer slowly (2 s over all)
    left = [found for found in gc.get_objects() if issubclass(type(found), aiohttp.ClientSession) and not found.closed]
    assert not left, f"{len(left)} aiohttp sessions were left open: close each where its event loop ends"


@pytest.fixture
async def closed_http_session() -> AsyncIterator[None]:
    """An async test's event loop ends with its outgoing HTTP session closed (`bridge.http` keeps one per loop, and
    closes it when a server shuts down: a test is no server)."""
    yield
    await close_session()


@pytest.fixture(autouse=True)
def _close_http_sessions(request: pytest.FixtureRequest) -> None:
    """Every async test gets `closed_http_session` (first in, so last out: after the test's own fixtures)."""
    if request.node.get_closest_marker("anyio") is not None and inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("closed_http_session")


@pytest.fixture(scope="module")
def entra() -> Iterator[FakeEntra]:
    """A local OpenID provider standing in for Microsoft Entra ID (one per test module)."""
    served = FakeEntra()
    with running(served):
        yield served


@pytest.fixture(scope="session")
def fake_azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    with running(fake):
        yield fake


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's Table service for the whole run (tests that need it are marked `requires_azurite`); each test
    uses tables or users of its own."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as served:
        yield served


@pytest.fixture(params=STORES)
async def make_usage_store(request: pytest.FixtureRequest) -> AsyncIterator[UsageStores]:
    """Makes usage stores that count in one place, as instances do (`tests.support.stores`)."""
    async with shared_stores(request, MemoryUsageStore, TableUsageStore, "usage") as make:
        yield make


@pytest.fixture(autouse=True)
def _fresh_fake(request: pytest.FixtureRequest) -> None:
    """Every test starts with an empty script and request log (only when it uses the fake)."""
    if "fake_azure" in request.fixturenames:
        request.getfixturevalue("fake_azure").reset()


@pytest.fixture(scope="session")
def bridge(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """The bridge most tests share, in front of the session's fake Azure (served in the test process)."""
    log_path = tmp_path_factory.mktemp("bridge") / "bridge.log"
    with running_bridge(bridge_env(fake_azure), log_path, in_process=True) as running_one:
        yield running_one


@pytest.fixture
def bridge_a(bridges: tuple[RunningBridge, RunningBridge]) -> RunningBridge:
    """The first of a module's two instances (its own `bridges` fixture starts them)."""
    return bridges[0]


@pytest.fixture
def bridge_b(bridges: tuple[RunningBridge, RunningBridge]) -> RunningBridge:
    """The second of a module's two instances."""
    return bridges[1]


@pytest.fixture
def client(bridge: RunningBridge) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(bridge: RunningBridge) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk
