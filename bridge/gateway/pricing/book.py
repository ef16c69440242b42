"""Each deployment's price, found once per process and kept.

    PRICES names the deployment          its price there (own rates, free, or a table row times a factor)
    else                                 the table's price of a model named like the deployment
    else                                 no price: its cost is unknown, never $0 (a dollar budget refuses its
                                         requests, GET /health and start-up name it)

The first lookup imports the table (about 40 ms of CPU): `price` and `warm` do
it in a worker thread, so the event loop keeps serving; `lookup` does it where
it is called (start-up, GET /health).  `known` never waits: what is not
resolved yet is `UNRESOLVED`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from bridge.gateway.pricing.price import Price
from bridge.gateway.pricing.rules import PriceRule
from bridge.gateway.pricing.table import table_price, table_version

log = logging.getLogger(__name__)
MAX_KEPT = 1_000
"""Deployments whose price is kept; a client naming many unknown deployments cannot grow it further."""


class Unresolved:
    """The price of a deployment not looked up yet."""


UNRESOLVED: Final = Unresolved()


class PriceBook:
    def __init__(self, rules: Mapping[str, PriceRule] | None = None) -> None:
        self.rules: Mapping[str, PriceRule] = rules or {}
        self._prices: dict[str, Price | None] = {}
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()
        self._resolving: set[str] = set()

    def known(self, deployment: str) -> Price | Unresolved | None:
        return self._prices.get(deployment, UNRESOLVED)

    def lookup(self, deployment: str) -> Price | None:
        """The deployment's price (None: it has none), found now if it was not yet."""
        found = self._prices.get(deployment, UNRESOLVED)
        if not isinstance(found, Unresolved):
            return found
        with self._lock:
            if len(self._prices) >= MAX_KEPT:
                self._prices.clear()
            price = self._resolve(deployment)
            self._prices[deployment] = price
            return price

    def _resolve(self, deployment: str) -> Price | None:
        rule = self.rules.get(deployment)
        if rule is None:
            return table_price(deployment)
        if rule.price is not None:
            return rule.price
        model = str(rule.model)
        found = table_price(model)
        if found is None:
            self._problems[deployment] = (
                f"PRICES: {deployment!r} names model {model!r}, which {table_version()} does not know: give its price "
                f"instead ({deployment}=input:<usd>,cached:<usd>,output:<usd> per million tokens)"
            )
            return None
        return found.times(rule.factor, f"{rule.source()} ({found.source})")

    async def price(self, deployment: str) -> Price | None:
        """The deployment's price, looked up in a worker thread the first time."""
        found = self.known(deployment)
        if not isinstance(found, Unresolved):
            return found
        return await asyncio.to_thread(self.lookup, deployment)

    def resolve_soon(self, deployment: str) -> None:
        """Look the deployment's price up in the background if it is not known yet (so that the end of a request
        that needs no price now finds it known; if it is not, the request's charge and record wait for it)."""
        if not isinstance(self.known(deployment), Unresolved) or deployment in self._resolving:
            return
        self._resolving.add(deployment)
        task = asyncio.get_running_loop().create_task(self.price(deployment))
        task.add_done_callback(lambda done: self._resolved(deployment, done))

    def _resolved(self, deployment: str, task: asyncio.Task[Price | None]) -> None:
        self._resolving.discard(deployment)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not look up the price of %r", deployment, exc_info=task.exception())

    async def warm(self, deployments: Iterable[str]) -> None:
        """Look up `deployments` (and every deployment PRICES names) in a worker thread, if any is not yet."""
        names = [d for d in {*deployments, *self.rules} if isinstance(self.known(d), Unresolved)]
        if names:
            await asyncio.to_thread(lambda: [self.lookup(name) for name in names])

    def problems(self, tiers: Mapping[str, str], dollars: str | None) -> list[PriceProblem]:
        """What is wrong with the prices of the tiers' deployments ({setting: deployment}) and of PRICES, each
        named by setting and deployment; `dollars`: the dollar budget setting in force, if any (then a deployment
        without a price is a problem)."""
        for deployment in {*tiers.values(), *self.rules}:
            self.lookup(deployment)
        found = [
            PriceProblem("PRICES: an entry names a model the price table does not know", self._problems[d])
            for d in sorted(self._problems)
        ]
        if dollars is not None:
            for setting, deployment in tiers.items():
                if self.lookup(deployment) is None:
                    found.append(
                        PriceProblem(
                            f"{setting} has no price while {dollars} is set: its requests are refused to everyone with "
                            "a dollar budget; price its deployment in PRICES (sign in to see which)",
                            f"{setting} deployment {deployment!r} has no price while {dollars} is set: its requests "
                            f"are refused to everyone with a dollar budget. Add it to PRICES: {deployment}=model:<the "
                            f"model it deploys> ({table_version()} knows gpt-5, gpt-4.1, o3, ...), or "
                            f"{deployment}=input:<usd>,cached:<usd>,output:<usd> per million tokens",
                        )
                    )
        return found


@dataclass(frozen=True, slots=True)
class PriceProblem:
    """A problem with prices, as anyone may read it (no deployment named) and in full."""

    public: str
    detailed: str
