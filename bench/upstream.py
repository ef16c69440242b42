"""The fake Azure upstream in its own process, so it never shares a GIL with the bench client.

    python -m bench.upstream --text "Hello!"          every chat request answers with this short text
    python -m bench.upstream --stream-chunks 20000    every request replays a long Azure SSE stream

Prints the base URL on the first line of stdout, then serves until stdin closes
(or the process is terminated).  Each line written to its stdin changes the
reply from then on (`reply_from`), and is acknowledged with a line `ok`:

    {"text": "...", "pieces": 200}    a `Text` streamed in about 200 chunks (one `chat.completion`
                                      or Responses object for a request that does not stream)
    {"stream_chunks": 2000}           the recorded-style chat SSE stream of `bench.azure_stream`

It serves `tests.support.fake_azure.FakeAzure` like `tests.support.serving.running` does, with one
difference: the listening socket is created with `proto=IPPROTO_TCP`.
asyncio only sets TCP_NODELAY on accepted connections whose socket says
`proto == IPPROTO_TCP`; a `socket.socket(AF_INET, SOCK_STREAM)` says 0, so
behind a plain socket every keep-alive response after the first waits
~40 ms on Nagle + delayed ACK (headers and body go out as two writes).  A real
Azure front door does not do that, and it would swamp the figures.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from bench.azure_stream import build_stream
from tests.support.fake_azure import DEFAULT_DEPLOYMENTS, FakeAzure, RawSSE, Reply, Text, like

LONG_WINDOW_DEPLOYMENT = "gpt-4.1"


def serve(fake: FakeAzure) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-azure", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake Azure did not start")
        time.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    return fake.url, server, thread


def _forget(fake: FakeAzure) -> None:
    """Drop the request log now and then: the bench sends hundreds of 76 KB bodies."""
    while True:
        time.sleep(0.5)
        fake.reset()


def reply_from(spec: dict[str, Any]) -> Reply:
    """The reply a control line asks for: `{"text": ..., "pieces": N}` or `{"stream_chunks": N}`."""
    if "stream_chunks" in spec:
        return RawSSE(build_stream(int(spec["stream_chunks"])).body)
    return Text(str(spec["text"]), pieces=int(spec.get("pieces", 4)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--text", help="default reply: a short text (Text reply, streamed in 4 pieces when asked to stream)")
    group.add_argument("--stream-chunks", type=int, help="default reply: a recorded-style SSE stream of N chunks")
    args = parser.parse_args(argv)
    spec: dict[str, Any] = {"text": args.text} if args.text is not None else {"stream_chunks": args.stream_chunks}
    fake = FakeAzure([*DEFAULT_DEPLOYMENTS, like(LONG_WINDOW_DEPLOYMENT)], default_reply=reply_from(spec))
    url, server, thread = serve(fake)
    threading.Thread(target=_forget, args=(fake,), daemon=True).start()
    print(url, flush=True)
    for line in sys.stdin:  # serve until the parent closes our stdin
        fake.default_reply = reply_from(json.loads(line))
        print("ok", flush=True)
    server.should_exit = True
    thread.join(timeout=5)


if __name__ == "__main__":
    main()
