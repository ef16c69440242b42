"""Another proxy measured beside the bridge: started from a command line given at run time (`--peer-command`).

The bench installs nothing and knows nothing of the peer: the command (run with
`sh -c`, in its own session so the whole group can be stopped) must start an
Anthropic Messages proxy listening on 127.0.0.1:$BENCH_PORT, in front of the
fake Azure upstream described by these variables:

    BENCH_UPSTREAM_URL      the fake's base URL, http://127.0.0.1:PORT (an Azure resource endpoint)
    BENCH_UPSTREAM_V1_URL   the same + /openai/v1 (OpenAI-compatible base URL: POST …/chat/completions)
    BENCH_UPSTREAM_KEY      the fake's API key (`api-key` header; a bearer token is refused)
    BENCH_API_VERSION       a dated api-version the fake accepts (deployments API)
    BENCH_DEPLOYMENT        the deployment every Claude model must map to (the bridge's tiers use it too)
    BENCH_PORT              the port to listen on
    BENCH_CLIENT_TOKEN      the key the bench sends as `x-api-key`

The environment is the bench's, less AZURE_*, ANTHROPIC_* and OPENAI_* variables (as for
the bridge).  The CPU measured is that of the started process and all its descendants.
Its output goes to a log file, shown if it does not start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import Upstream
from tests.support.bridge import CLIENT_TOKEN
from tests.support.serving import free_port

API_VERSION = "2024-10-21"
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class RunningPeer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def peer_env(upstream: Upstream, deployment: str, port: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ANTHROPIC_", "OPENAI_"))}
    return {
        **inherited,
        "BENCH_UPSTREAM_URL": upstream.url,
        "BENCH_UPSTREAM_V1_URL": upstream.url + "/openai/v1",
        "BENCH_UPSTREAM_KEY": upstream.api_key,
        "BENCH_API_VERSION": API_VERSION,
        "BENCH_DEPLOYMENT": deployment,
        "BENCH_PORT": str(port),
        "BENCH_CLIENT_TOKEN": CLIENT_TOKEN,
    }


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_peer(command: str, upstream: Upstream, deployment: str) -> Iterator[RunningPeer]:
    """Start `command` (see the module docstring) and wait until its port accepts connections."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as folder:
        log_path = Path(folder) / "peer.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["sh", "-c", command],
                env=peer_env(upstream, deployment, port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the peer did not listen on 127.0.0.1:{port} (exit code {process.poll()}):\n{output}")
                time.sleep(0.1)
            yield RunningPeer(f"http://127.0.0.1:{port}", process, log_path)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the peer's process group (the shell and what it started), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue
