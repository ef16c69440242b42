"""The bridge as the tests run it: `python -m bridge` in front of the fake Azure, its settings, its log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.fake_azure import FakeAzure
from tests.support.paths import ROOT

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


def start_bridge(
    env: dict[str, str], log_path: Path, interpreter_args: Sequence[str] = (), port: int | None = None
) -> RunningBridge:
    """Start `python -m bridge` exactly as the README says, and wait until `HEAD /` answers.

    `interpreter_args` go before `-m bridge` (the bench profiles it under `-m cProfile -o FILE`); `port`: a
    restarted bridge's own (its clients keep its URL), else a free one.
    """
    port = port or free_port()
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


LOGGER = "bridge.telemetry.request_log "


def request_lines(bridge: RunningBridge) -> list[dict[str, Any]]:
    """Every line the `bridge.telemetry.request_log` logger wrote, each parsed as JSON (a line that is not JSON fails)."""
    lines = []
    for line in bridge.log().splitlines():
        _, marker, rest = line.partition(LOGGER)
        if marker:
            lines.append(json.loads(rest))
    return lines
