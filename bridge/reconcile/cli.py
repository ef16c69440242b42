"""`python -m bridge reconcile [--day YYYY-MM-DD]`: the daily reconciliation, run by hand (the timer's code).

Prints the day's comparison as JSON (`bridge.reconcile.comparison`) and exits 0, or says why the day could not
be reconciled and exits 1.  The settings are the Function App's (RECONCILE_RESOURCE_IDS, USAGE_TABLE_ENDPOINT or
USAGE_CONNECTION_STRING, APPLICATIONINSIGHTS_CONNECTION_STRING, ...); signing in is `az login`'s locally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date

from bridge.gateway.clock import utc_now
from bridge.reconcile.job import SETTLED_DAYS, ReconcileError, run, settled_day
from bridge.telemetry.request_log import quiet_azure_sdk_logs
from bridge.telemetry.setup import configure


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: write YYYY-MM-DD (UTC)") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge reconcile",
        description="Compare the cost the bridge charged on a UTC day with what Azure Cost Management billed for the "
        "Azure OpenAI resources (RECONCILE_RESOURCE_IDS); keep the result in the usage table and send it to telemetry.",
    )
    parser.add_argument(
        "--day", type=_day, help=f"the UTC day, YYYY-MM-DD (default: {SETTLED_DAYS} days ago, the last one Azure has settled)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    quiet_azure_sdk_logs()
    configure()
    try:
        result = asyncio.run(run(args.day or settled_day(utc_now())))
    except ReconcileError as reason:
        print(f"python -m bridge reconcile: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(result.fields(), indent=2))
    return 0
