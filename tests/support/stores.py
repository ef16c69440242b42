"""Stores shared the way instances share them: one in memory, or one table of its own in Azurite.

A fixture parametrized over `STORES` yields a maker (`shared_stores`): every store it makes counts in the same
place, as two instances of the bridge would (the same object in memory; the same table through separate clients).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from bridge.gateway.tables import Table
from bridge.gateway.usage.store import UsageStore
from tests.support.azurite import FreshTable, requires_azurite

S = TypeVar("S")
UsageStores = Callable[[], UsageStore]
"""A maker of usage stores that count in one place (the `make_usage_store` fixture)."""

STORES = ["memory", pytest.param("table", marks=[requires_azurite, pytest.mark.process])]
"""The two places a store keeps its data (the table starts Azurite: a process)."""


@asynccontextmanager
async def shared_stores(
    request: pytest.FixtureRequest, memory: Callable[[], S], table: Callable[[Table], S], prefix: str
) -> AsyncIterator[Callable[[], S]]:
    """Makes stores that share one place for the block: `memory()` made once, or `table(client)` over a table of its
    own (named from `prefix`), each store through a client of its own."""
    if request.param == "memory":
        shared = memory()
        yield lambda: shared
        return
    async with FreshTable(request.getfixturevalue("azurite"), prefix) as fresh:
        yield lambda: table(fresh.open())
