"""What the bridge charged on a day, from the gateway's usage table: every person's rows of that day.

Each row holds its requests' cost in micro-dollars and how many of them had no price (their cost is unknown,
never $0: `bridge.gateway.usage.store.Counts`); a month's rows are read at once (`UsageStore.everyone`) and the
day's summed.  Requests charged an estimate (Azure's usage never came) count at their estimate.
"""

from __future__ import annotations

from datetime import date

from bridge.gateway.pricing.price import MICROS_PER_USD
from bridge.gateway.usage.store import NOTHING, UsageStore
from bridge.reconcile.comparison import Charged, ChargedOn


def usage_charged(store: UsageStore) -> ChargedOn:
    async def charged_on(day: date) -> Charged:
        rows = [row.usage.counts for row in await store.everyone(day) if row.usage.day == day]
        total = sum(rows, NOTHING)
        return Charged(total.micros / MICROS_PER_USD, total.requests, total.unpriced)

    return charged_on
