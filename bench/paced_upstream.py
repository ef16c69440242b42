"""An Azure chat/completions upstream that streams like a model: `python -m bench.paced_upstream CHUNKS INTERVAL`.

Every POST is answered with a text stream of CHUNKS deltas in the recorded Azure chunk shapes
(`bench.azure_stream.text_events`), one chunked-transfer chunk per event, INTERVAL seconds apart,
so hundreds of streams stay open at once as they do in front of a real deployment.  Plain asyncio
(no framework), in its own process: hundreds of paced streams cost it little CPU and never share
a GIL with the bench client.  Prints its base URL on the first line of stdout; serves until stdin
closes.  Connections are kept alive (the bridge pools them); TCP_NODELAY is on (asyncio sets it on
accepted IPPROTO_TCP sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.azure_stream import text_events

HEADERS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\napim-request-id: bench\r\n\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, events: list[bytes], interval: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
            await reader.readexactly(length)
            if not lines[0].startswith("POST "):
                writer.write(NOT_FOUND)
                continue
            writer.write(HEADERS)
            for event in events:
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.sleep(interval)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(chunks: int, interval: float) -> None:
    events = text_events(chunks)
    server = await asyncio.start_server(lambda r, w: _answer(r, w, events, interval), "127.0.0.1", 0, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.paced_upstream")
    parser.add_argument("chunks", type=int, help="text deltas per answer")
    parser.add_argument("interval", type=float, help="seconds between events")
    args = parser.parse_args()
    asyncio.run(_serve(args.chunks, args.interval))


if __name__ == "__main__":
    main()
