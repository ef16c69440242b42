"""Serve a test ASGI app with uvicorn on a free 127.0.0.1 port, in a daemon thread (HTTP or HTTPS).

`serving(app, name)` serves any app for a block; `running(stand_in)` serves one of the stand-ins (the fake
Azure, the fake Entra ID, the fake managed identity endpoint: anything with an `app` and a `url` to fill in).
`stop(process)` ends a server the tests started as a process (a bridge, Azurite).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server started in another process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StandIn(Protocol):
    """A stand-in service: its ASGI app, and its base URL while it is served."""

    url: str | None

    @property
    def app(self) -> ASGIApp: ...


@contextmanager
def serving(
    app: ASGIApp,
    name: str,
    certificate: Path | None = None,
    *,
    lifespan: Literal["on", "off"] = "off",
    run: Callable[[uvicorn.Server, socket.socket], None] | None = None,
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port for the block; yields its base URL.

    With `certificate` (a PEM file holding the private key and the certificate chain) it serves HTTPS.
    `run(server, sock)` runs the server in its thread, when something must surround it (default: `server.run`).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    pem = str(certificate) if certificate is not None else None
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        ssl_certfile=pem,
        ssl_keyfile=pem,
    )
    server = uvicorn.Server(config)
    target = (lambda: run(server, sock)) if run is not None else (lambda: server.run(sockets=[sock]))
    thread = threading.Thread(target=target, name=f"{name}-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start on 127.0.0.1:{port}")
            time.sleep(0.01)
        yield f"{'https' if certificate is not None else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextmanager
def running(stand_in: StandIn, name: str | None = None) -> Iterator[str]:
    """Serve `stand_in` for the block, its `url` set meanwhile; yields that base URL, `http://127.0.0.1:PORT`."""
    with serving(stand_in.app, name or type(stand_in).__name__) as url:
        stand_in.url = url
        try:
            yield url
        finally:
            stand_in.url = None


def stop(process: subprocess.Popen[Any]) -> None:
    """End a server process: asked to stop, then killed if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
