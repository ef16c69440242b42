"""The kept price table: Pydantic's genai-prices (pinned in requirements.in), read for Azure OpenAI.

    name asked for         what answers                                                  e.g.
    a model name           the table's Azure provider, with its fallbacks to OpenAI's     gpt-5 → gpt-5: 1.25 / 0.125 / 10
    (or a deployment       rows (dated names, `-chat` / `-codex` variants and case are
    named after one)       matched as the table matches them)
    anything else          nothing: the deployment needs PRICES                          my-deploy, model-router

The table's Azure prices are Azure's *Global* deployment prices; a Data Zone or
regional deployment costs more (+10 % for Data Zone on the rows checked): PRICES
says so (`gpt-5=model:gpt-5*1.1`).  A model without a cached-input price has its
cached tokens billed at the input rate, as genai-prices does.  The table is the
snapshot bundled with the package: its network updater is never started.
Importing it costs about 40 ms and 6 MB, so it is imported on first use
(`bridge.gateway.pricing.book` does that in a worker thread), never at start-up.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from typing import Any

from bridge.gateway.clock import utc_now
from bridge.gateway.pricing.price import Price, Rate

PROVIDER = "azure"
PACKAGE = "genai-prices"


def _rate(value: Any) -> Rate | None:
    """genai-prices' Decimal or TieredPrices as a `Rate`."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return Rate(value)
    return Rate(value.base, tuple((tier.start, tier.price) for tier in value.tiers))


@cache
def table_version() -> str:
    """The package's version, for messages."""
    return f"{PACKAGE} {version(PACKAGE)}"


def table_price(model: str, at: datetime | None = None) -> Price | None:
    """The table's price of `model` on Azure, as of `at` (default: now); None when the table does not know it."""
    from genai_prices import data_snapshot

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, PROVIDER, None)
    except LookupError:
        return None
    prices = info.get_prices(at or utc_now())
    input_rate, output_rate = _rate(prices.input_mtok), _rate(prices.output_mtok)
    if input_rate is None or output_rate is None:
        return None
    cached = _rate(prices.cache_read_mtok) or input_rate
    return Price(input_rate, cached, output_rate, f"{table_version()}: {info.id}")
