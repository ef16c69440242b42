"""`python -m bridge`: serve the bridge with uvicorn, on the same routes and port (7071) as `func start`;
`python -m bridge reconcile`: the daily reconciliation with Azure's bill (`bridge.reconcile.cli`)."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap

import uvicorn

from bridge import VERSION
from bridge.app import create_app
from bridge.config.table import SETTINGS
from bridge.serving.process import current_bridge
from bridge.serving.startup import startup_lines
from bridge.telemetry.request_log import quiet_azure_sdk_logs
from bridge.telemetry.setup import configure

LOCAL_HOST = "127.0.0.1"
FUNCTIONS_PORT = 7071


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def _settings_help() -> str:
    lines = ["settings (environment variables; docs/configuration.md says more):"]
    for setting in SETTINGS:
        lines += textwrap.wrap(setting.described, 100, initial_indent=f"  {setting.name:<26}", subsequent_indent=" " * 28)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["reconcile"]:
        from bridge.reconcile.cli import main as reconcile

        sys.exit(reconcile(argv[1:]))
    parser = argparse.ArgumentParser(
        prog="python -m bridge",
        description="Serve claude-azure-bridge locally: Claude Code and OpenAI-format clients on Azure OpenAI.",
        epilog="python -m bridge reconcile --help: the daily reconciliation with Azure's bill.\n\n" + _settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=LOCAL_HOST, help=f"interface to listen on (default {LOCAL_HOST})")
    parser.add_argument("--port", type=_port, default=FUNCTIONS_PORT, help=f"port (default {FUNCTIONS_PORT}, as func start)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"claude-azure-bridge {VERSION}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    quiet_azure_sdk_logs()
    configure()
    print("\n".join(startup_lines(current_bridge(), args.host, args.port)), flush=True)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level, access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
