"""Usage counters: tokens per user, per UTC day, per model; a month is the sum of its days.

A `UsageStore` holds one row per (user, day, model) and answers, for a user and
a month, every row of that month: one read gives both today's and the month's
usage.  `MemoryUsageStore` keeps them in this process (no table configured);
`bridge.usage.table_store.TableUsageStore` keeps them in an Azure Table that
every instance shares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts as Azure reports them: input (cached included) and output, and the requests they came from."""

    input: int = 0
    output: int = 0
    requests: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output, self.requests + other.requests)


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    model: str
    tokens: Tokens


class UsageStore(Protocol):
    async def add(self, user_id: str, user_name: str, day: date, model: str, tokens: Tokens) -> None:
        """Add `tokens` to the user's row for `day` and `model`; concurrent adds never lose a count."""
        ...

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        """Every row of the user's in the month of `day` (read from the store, never cached)."""
        ...

    async def aclose(self) -> None: ...


class MemoryUsageStore:
    """Counters in this process only: each instance counts on its own, and a restart forgets."""

    def __init__(self) -> None:
        self._rows: defaultdict[tuple[str, date, str], Tokens] = defaultdict(Tokens)

    async def add(self, user_id: str, user_name: str, day: date, model: str, tokens: Tokens) -> None:
        del user_name
        self._rows[user_id, day, model] += tokens

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        return [
            DayUsage(row_day, model, tokens)
            for (user, row_day, model), tokens in self._rows.items()
            if user == user_id and (row_day.year, row_day.month) == (day.year, day.month)
        ]

    async def aclose(self) -> None:
        return None
