"""Usage per user, per UTC day, per deployment and per agent (Claude Code's main agent or its subagents); a
month is the sum of its days; and each user's ledger.

A `UsageStore` holds one row per (user, day, deployment, agent) and answers,
for a user and a month, every row of that month: one read gives both today's
and the month's usage (`GET /v1/usage`).  Beside the rows it keeps each user's
budget ledger (`bridge.gateway.usage.ledger`), read together with the month's
rows and written only if nobody wrote it since it was read (optimistic
concurrency: a version that changes with every write; `LedgerConflict`
otherwise).  For administrators it finds a person by name and lists a month's
rows of everyone (the chargeback export).  `MemoryUsageStore` keeps them in
this process (no table configured); `bridge.gateway.usage.table_store.TableUsageStore`
keeps them in an Azure Table that every instance shares.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from bridge.gateway.usage.ledger import Amount, Ledger

Agent = Literal["main", "subagent"]
"""Who in Claude Code asked: its main conversation, or a subagent (requests with `x-claude-code-agent-id`)."""


@dataclass(frozen=True, slots=True)
class Counts:
    """What requests used, as Azure reports it, and what it cost: input tokens (cached included), of which cached,
    output tokens (reasoning included), the requests, their cost in micro-dollars, and how many of them had no price
    (their cost is unknown: it is not in `micros`, and never taken as $0)."""

    input: int = 0
    cached: int = 0
    output: int = 0
    requests: int = 0
    micros: int = 0
    unpriced: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output

    @property
    def amount(self) -> Amount:
        return Amount(self.total, self.micros)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.input + other.input,
            self.cached + other.cached,
            self.output + other.output,
            self.requests + other.requests,
            self.micros + other.micros,
            self.unpriced + other.unpriced,
        )


NOTHING = Counts()


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    model: str
    """The deployment that served."""
    counts: Counts
    agent: Agent = "main"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One row of everyone's usage (the chargeback export): whose it is, as they were last seen, and its usage."""

    user_id: str
    user_name: str
    roles: str
    """The person's app roles when the row was last written, comma-separated."""
    usage: DayUsage


@dataclass(frozen=True, slots=True)
class LedgerRead:
    """A user's ledger as stored (None: none yet), its version (None: none yet), and the month's usage rows."""

    ledger: Ledger | None
    version: str | None
    rows: list[DayUsage]


class LedgerConflict(Exception):
    """The ledger was written by someone else since it was read: read it again."""


class UsageStore(Protocol):
    async def add(self, user_id: str, user_name: str, roles: str, day: date, model: str, agent: Agent, counts: Counts) -> None:
        """Add `counts` to the user's row for `day`, `model` and `agent`; concurrent adds never lose a count."""
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

    async def find_user(self, who: str) -> tuple[str, str] | None:
        """The id and name of the user whose object id or name (user principal name) is `who`, if they have any
        usage."""
        ...

    async def everyone(self, day: date) -> list[UsageRow]:
        """Every user's rows of the month of `day`."""
        ...

    async def aclose(self) -> None: ...


class MemoryUsageStore:
    """Counters in this process only: each instance counts on its own, and a restart forgets."""

    def __init__(self) -> None:
        self._rows: defaultdict[tuple[str, date, str, Agent], Counts] = defaultdict(Counts)
        self._people: dict[str, tuple[str, str]] = {}
        self._ledgers: dict[str, tuple[str, Ledger]] = {}
        self._writes = 0

    async def add(self, user_id: str, user_name: str, roles: str, day: date, model: str, agent: Agent, counts: Counts) -> None:
        self._people[user_id] = (user_name, roles)
        self._rows[user_id, day, model, agent] += counts

    def _of_month(self, day: date) -> list[tuple[str, DayUsage]]:
        return [
            (user, DayUsage(row_day, model, counts, agent))
            for (user, row_day, model, agent), counts in self._rows.items()
            if (row_day.year, row_day.month) == (day.year, day.month)
        ]

    async def month(self, user_id: str, day: date) -> list[DayUsage]:
        return [usage for user, usage in self._of_month(day) if user == user_id]

    async def read_ledger(self, user_id: str, day: date) -> LedgerRead:
        version, ledger = self._ledgers.get(user_id, (None, None))
        return LedgerRead(ledger, version, await self.month(user_id, day))

    async def write_ledger(self, user_id: str, user_name: str, ledger: Ledger, version: str | None) -> str:
        stored = self._ledgers.get(user_id)
        if (stored[0] if stored is not None else None) != version:
            raise LedgerConflict(user_id)
        self._writes += 1
        written = str(self._writes)
        self._ledgers[user_id] = (written, ledger)
        self._people.setdefault(user_id, (user_name, ""))
        return written

    async def find_user(self, who: str) -> tuple[str, str] | None:
        return next(((user, seen) for user, (seen, _) in self._people.items() if who in (user, seen)), None)

    async def everyone(self, day: date) -> list[UsageRow]:
        rows = []
        for user, usage in self._of_month(day):
            name, roles = self._people.get(user, (user, ""))
            rows.append(UsageRow(user, name, roles, usage))
        return rows

    async def aclose(self) -> None:
        return None
