"""Serve a `FakeAzure` (or any test ASGI app) with uvicorn on a free 127.0.0.1 port, in a daemon thread (HTTP or HTTPS)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from .server import FakeAzure

STARTUP_TIMEOUT = 10.0


@contextmanager
def serving(app: ASGIApp, name: str, certificate: Path | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port for the block; yields its base URL.

    With `certificate` (a PEM file holding the private key and the certificate chain) it serves HTTPS.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tls = {"ssl_certfile": str(certificate), "ssl_keyfile": str(certificate)} if certificate is not None else {}
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1, **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-{port}", daemon=True)
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
def running_fake_azure(fake: FakeAzure) -> Iterator[str]:
    """Run `fake` for the duration of the block; yields its base URL, `http://127.0.0.1:PORT`."""
    with serving(fake.app, "fake-azure") as url:
        fake.url = url
        try:
            yield url
        finally:
            fake.url = None
