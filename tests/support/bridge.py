"""The bridge as the tests run it: in front of the fake Azure, its settings, its log, and a client's request.

`running_bridge(env, log_path)` starts `python -m bridge` exactly as the README says, in a process of its own.
With `in_process=True` it serves the same app (`bridge.app.create_app`) with uvicorn in a thread of the test
process, with a `Bridge` built from `env` (`bridge.serving.process.use_bridge`): about 0.05 s to start instead of
0.75 s.  Use a process where the process is the point: the command line and what it prints, the process
environment (a managed identity's `IDENTITY_ENDPOINT`, `HOME`), its memory, several instances, a real client
(the CLI).  Either way the bridge's log lines (`LEVEL logger message`) go to `log_path`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn

from bridge.app import create_app
from bridge.config.load import load_settings
from bridge.gateway.settings import load_gateway_settings
from bridge.serving.process import Bridge, use_bridge
from tests.support.fake_azure import FakeAzure
from tests.support.paths import ROOT
from tests.support.serving import free_port, serving, stop

CLIENT_TOKEN = "test-client-token-0123456789"
TIERS = {"BIG_MODEL": "gpt-5", "MIDDLE_MODEL": "gpt-5", "SMALL_MODEL": "gpt-4o"}
CHAT_TIERS = {"BIG_MODEL_API": "chat", "MIDDLE_MODEL_API": "chat", "SMALL_MODEL_API": "chat"}
"""The shared bridge tests chat/completions; Responses tiers are tested with their own bridges."""
HEADERS = {"x-api-key": CLIENT_TOKEN, "content-type": "application/json"}
"""What a client holding the token sends."""
MESSAGE: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
"""A short request to /v1/messages (opus: BIG_MODEL)."""
FORMAT = "%(levelname)s %(name)s %(message)s"
"""The log line of `python -m bridge` (`logging.basicConfig` in `bridge.__main__`)."""
PROCESS_ONLY = frozenset({"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "HOME", "AZURE_CLIENT_ID"})
"""Settings read from the process environment by the libraries the bridge uses (azure-identity), not from `env`."""


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@dataclass
class RunningBridge:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    """The `python -m bridge` process; None for a bridge served in the test process."""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None, "a bridge served in the test process has no process of its own"
        return self.process.pid


@contextmanager
def running_bridge(
    env: Mapping[str, str],
    log_path: Path,
    *,
    in_process: bool = False,
    interpreter_args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[RunningBridge]:
    """A bridge with the settings `env` for the block, logging to `log_path`; stopped afterwards.

    `interpreter_args` go before `-m bridge` (the bench profiles it under `-m cProfile -o FILE`); `port`: a
    restarted bridge's own (its clients keep its URL), else a free one.
    """
    if not in_process:
        with _process(env, log_path, interpreter_args, port or free_port()) as running:
            yield running
        return
    assert not interpreter_args and port is None, "interpreter arguments and a port of its own need a process"
    held = sorted(PROCESS_ONLY & env.keys())
    assert not held, f"{', '.join(held)} reach the bridge only through a process's environment: use a process"
    with _in_thread(env, log_path) as running:
        yield running


@contextmanager
def two_instances(env: Mapping[str, str], logs: Path) -> Iterator[tuple[RunningBridge, RunningBridge]]:
    """Two bridge processes with the same settings (two instances sharing their tables), logging to a.log and b.log."""
    with running_bridge(env, logs / "a.log") as first, running_bridge(env, logs / "b.log") as second:
        yield first, second


@contextmanager
def _process(env: Mapping[str, str], log_path: Path, interpreter_args: Sequence[str], port: int) -> Iterator[RunningBridge]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ANTHROPIC_", "OPENAI_"))}
    with log_path.open("wb") as log_file:  # the child writes through its own descriptor
        process = subprocess.Popen(
            [sys.executable, *interpreter_args, "-m", "bridge", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**inherited, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.head(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the bridge did not start:\n{log_path.read_text(errors='replace')}") from None
                time.sleep(0.05)
        yield RunningBridge(url, log_path, process)
    finally:
        stop(process)


_log_of_this_bridge: contextvars.ContextVar[logging.Handler | None] = contextvars.ContextVar("bridge_log", default=None)


class _BridgeLog(logging.Handler):
    """Writes the records made while serving one in-thread bridge (its thread, its tasks) to its log file."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if _log_of_this_bridge.get() is self:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()


@contextmanager
def _in_thread(env: Mapping[str, str], log_path: Path) -> Iterator[RunningBridge]:
    bridge = Bridge(load_settings(env), load_gateway_settings(env))
    with log_path.open("w") as log_file, _bridge_lines_at_info():
        handler = _BridgeLog(log_file)

        def run(server: uvicorn.Server, sock: socket.socket) -> None:
            _log_of_this_bridge.set(handler)
            with use_bridge(bridge):
                server.run(sockets=[sock])

        logging.getLogger().addHandler(handler)
        try:
            with serving(create_app(), "bridge", lifespan="on", run=run) as url:
                yield RunningBridge(url, log_path)
        finally:
            logging.getLogger().removeHandler(handler)


class _InfoLevel:
    """The `bridge` logger at INFO while any in-thread bridge runs (as `python -m bridge` logs; warnings come from
    anything): their lives overlap without nesting (a session's bridge starts during a module's)."""

    lock = threading.Lock()
    running = 0
    before = logging.NOTSET


@contextmanager
def _bridge_lines_at_info() -> Iterator[None]:
    own = logging.getLogger("bridge")
    with _InfoLevel.lock:
        if _InfoLevel.running == 0:
            _InfoLevel.before = own.level
            own.setLevel(logging.INFO)
        _InfoLevel.running += 1
    try:
        yield
    finally:
        with _InfoLevel.lock:
            _InfoLevel.running -= 1
            if _InfoLevel.running == 0:
                own.setLevel(_InfoLevel.before)


QUICK_RETRIES = {"RETRY_BACKOFF_SECONDS": "0.01"}
"""Retries without a wait named by the upstream come at once: what the tests check is that they happen, and how
many (a wait Azure names is still waited out, in full)."""


def bridge_env(fake: FakeAzure, **overrides: str) -> dict[str, str]:
    """The settings of a bridge in front of `fake`: its URL and key, the client token, the tiers (chat/completions),
    quick retries; `overrides` over those."""
    return {
        "AZURE_OPENAI_ENDPOINT": str(fake.url),
        "AZURE_OPENAI_API_KEY": fake.api_key,
        "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN,
        "REQUEST_TIMEOUT": "60",
        **TIERS,
        **CHAT_TIERS,
        **QUICK_RETRIES,
        **overrides,
    }


def post(
    bridge: RunningBridge,
    body: bytes | Mapping[str, Any] = MESSAGE,
    *,
    path: str = "/v1/messages",
    stream: bool | None = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = CLIENT_TOKEN,
    timeout: float = 60,
) -> httpx.Response:
    """POST to the bridge as a client: `body` as JSON (with `stream` when given) or bytes as they are, the client
    token as `x-api-key` (none when `token` is None), `headers` over those."""
    sent = {name: value for name, value in HEADERS.items() if token is not None or name != "x-api-key"}
    if token is not None:
        sent["x-api-key"] = token
    sent.update(headers or {})
    url = bridge.url + path
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers=sent, timeout=timeout)
    return httpx.post(url, json=body if stream is None else {**body, "stream": stream}, headers=sent, timeout=timeout)


LOGGER = "bridge.telemetry.request_log "


def request_lines(log: RunningBridge | str) -> list[dict[str, Any]]:
    """Every line the `bridge.telemetry.request_log` logger wrote to a bridge's log (or to a part of it: text), each
    parsed as JSON (a line that is not JSON fails)."""
    lines = []
    for line in (log if isinstance(log, str) else log.log()).splitlines():
        _, marker, rest = line.partition(LOGGER)
        if marker:
            lines.append(json.loads(rest))
    return lines


def line_of(bridge: RunningBridge, request_id: str, wait: float = 5.0) -> dict[str, Any]:
    """The one request log line of `request_id`, waiting for it: a line is written when the request ends (a
    stream's when its body ends), and a process's first request to a deployment writes its line only once that
    deployment's price is read (`RequestLog.costing`)."""
    deadline = time.monotonic() + wait
    while True:
        found = [line for line in request_lines(bridge) if line["request_id"] == request_id]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"expected one log line for {request_id}, got {found}\n{bridge.log()[-2000:]}"
            return found[0]
        time.sleep(0.05)
