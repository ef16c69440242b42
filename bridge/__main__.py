"""`python -m bridge`: serve the bridge with uvicorn, on the same routes and port (7071) as `func start`."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from bridge.app import create_app
from bridge.pipeline import current_bridge


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bridge", description="Serve claude-azure-bridge locally.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on (default 7071, as func start)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    current_bridge()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level, access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
