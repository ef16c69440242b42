"""One day's comparison of what the bridge charged with what Azure billed (pure).

    field               what
    day                 the UTC day (YYYY-MM-DD)
    bridge_usd          the cost the bridge charged for the day's requests (priced ones)
    azure_usd           what Cost Management billed for the Azure OpenAI resources that day
    gap_usd             bridge_usd - azure_usd (negative: Azure billed more than the bridge counted)
    gap_percent         gap_usd as a percentage of azure_usd (100 when Azure billed nothing and the bridge did
                        charge; 0 when neither)
    currency            USD
    resources           how many resources were asked about
    requests            the day's requests the bridge counted
    unpriced_requests   those whose deployment had no price (their cost is unknown, not $0: a reason for a gap)
    threshold_percent   RECONCILE_GAP_PERCENT
    over_threshold      |gap_percent| > threshold_percent

A gap means a price is wrong, traffic bypasses the bridge (someone else calls the resource), or usage goes
uncounted.  These fields are the `bridge.reconcile` event's and the usage table's row's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class Charged:
    """What the bridge charged for one day's requests."""

    usd: float
    requests: int
    unpriced: int = 0


ChargedOn = Callable[[date], Awaitable[Charged]]
"""What the bridge charged on a day."""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    day: date
    bridge_usd: float
    azure_usd: float
    resources: int
    requests: int
    unpriced: int
    threshold_percent: float

    @property
    def gap_usd(self) -> float:
        return self.bridge_usd - self.azure_usd

    @property
    def gap_percent(self) -> float:
        if self.azure_usd == 0:
            return 0.0 if self.bridge_usd == 0 else 100.0
        return round(100 * self.gap_usd / self.azure_usd, 2)

    @property
    def over_threshold(self) -> bool:
        return abs(self.gap_percent) > self.threshold_percent

    def fields(self) -> dict[str, str | int | float | bool]:
        return {
            "day": self.day.isoformat(),
            "bridge_usd": round(self.bridge_usd, 6),
            "azure_usd": round(self.azure_usd, 6),
            "gap_usd": round(self.gap_usd, 6),
            "gap_percent": self.gap_percent,
            "currency": CURRENCY,
            "resources": self.resources,
            "requests": self.requests,
            "unpriced_requests": self.unpriced,
            "threshold_percent": self.threshold_percent,
            "over_threshold": self.over_threshold,
        }


def compare(day: date, charged: Charged, azure_usd: float, resources: int, threshold_percent: float) -> Reconciliation:
    return Reconciliation(day, charged.usd, azure_usd, resources, charged.requests, charged.unpriced, threshold_percent)
