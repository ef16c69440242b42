"""Usage counters: tokens per user, per UTC day, per model; a month is the sum of its days; and each user's ledger.

A `UsageStore` holds one row per (user, day, model) and answers, for a user and
a month, every row of that month: one read gives both today's and the month's
usage (`GET /v1/usage`).  Beside the rows it keeps each user's budget ledger
(`bridge.gateway.usage.ledger`), read together with the month's rows and written only
if nobody wrote it since it was read (optimistic concurrency: a version that
changes with every write; `LedgerConflict` otherwise).  `MemoryUsageStore`
keeps them in this process (no table configured);
`bridge.gateway.usage.table_store.TableUsageStore` keeps them in an Azure Table that
every instance shares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bridge.gateway.usage.ledger import Ledger


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


@dataclass(frozen=True, slots=True)
class LedgerRead:
    """A user's ledger as stored (None: none yet), its version (None: none yet), and the month's usage rows."""

    ledger: Ledger | None
    version: str | None
    rows: list[DayUsage]


class LedgerConflict(Exception):
    """The ledger was written by someone else since it was read: read it again."""


class UsageStore(Protocol):
    async def add(self, user_id: str, user_name: str, day: date, model: str, tokens: Tokens) -> None:
        """Add `tokens` to the user's row for `day` and `model`; concurrent adds never lose a count."""
        ...

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        """Every row of the user's in the month of `day` (read from the store, never cached)."""
        ...

    async def read_ledger(self, user_id: str, day: date) -> LedgerRead:
        """The user's ledger and its version, with the rows of the month of `day`: one read."""
        ...

    async def write_ledger(self, user_id: str, user_name: str, ledger: Ledger, version: str | None) -> str:
        """Store `ledger` if the stored one still has `version` (None: if there is none); its new version.
        Raises `LedgerConflict` when someone else wrote it since."""
        ...

    async def aclose(self) -> None: ...


class MemoryUsageStore:
    """Counters in this process only: each instance counts on its own, and a restart forgets."""

    def __init__(self) -> None:
        self._rows: defaultdict[tuple[str, date, str], Tokens] = defaultdict(Tokens)
        self._ledgers: dict[str, tuple[str, Ledger]] = {}
        self._writes = 0

    async def add(self, user_id: str, user_name: str, day: date, model: str, tokens: Tokens) -> None:
        del user_name
        self._rows[user_id, day, model] += tokens

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        return [
            DayUsage(row_day, model, tokens)
            for (user, row_day, model), tokens in self._rows.items()
            if user == user_id and (row_day.year, row_day.month) == (day.year, day.month)
        ]

    async def read_ledger(self, user_id: str, day: date) -> LedgerRead:
        version, ledger = self._ledgers.get(user_id, (None, None))
        return LedgerRead(ledger, version, await self.month(user_id, day))

    async def write_ledger(self, user_id: str, user_name: str, ledger: Ledger, version: str | None) -> str:
        del user_name
        stored = self._ledgers.get(user_id)
        if (stored[0] if stored is not None else None) != version:
            raise LedgerConflict(user_id)
        self._writes += 1
        written = str(self._writes)
        self._ledgers[user_id] = (written, ledger)
        return written

    async def aclose(self) -> None:
        return None
