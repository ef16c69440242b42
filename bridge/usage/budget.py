"""Per-user token budgets per UTC day and per calendar month, with more (or less) for app roles and groups.

Settings:

    BUDGET_DAILY_TOKENS     tokens a user may use per UTC day; unset: no daily limit
    BUDGET_MONTHLY_TOKENS   tokens a user may use per calendar month (UTC); unset: no monthly limit
    BUDGET_OVERRIDES        entries separated by ";", each  role:<app role>=<limits>  or  group:<group object id>=<limits>,
                            <limits> being daily:<n> and/or monthly:<n> separated by ","; <n> is a whole number, with
                            an optional k, M or G suffix (thousand, million, billion), or "unlimited".
                            Example: role:Bridge.Lead=daily:2M,monthly:40M;group:0b0e…=daily:unlimited

A caller's limit for a period is the default, unless overrides that match them
(one of their app roles, one of their groups) set that period: then the most
generous of those wins (unlimited beats any number).  Tokens are what Azure
reports: input (cached included) plus output.

`check` refuses a caller whose usage has reached a limit (429
`rate_limit_error`, `x-should-retry: false`, with the usage, the limit and the
reset time); `record` adds a finished request's tokens, and `record_soon` does
it in a task of its own, so the answer never waits for the store and a client
that goes away (cancelling its request) cannot stop the count.  The check reads the
store each time, after this process's counts of the caller still being written,
so a request can only overshoot a limit by its own size (and by the other
requests of the same user already under way when the limit is reached).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bridge.callers.caller import Caller
from bridge.errors import NO_RETRY, BridgeError
from bridge.settings import GUID_PATTERN, parse_token_count
from bridge.usage.periods import iso_utc, next_day, next_month, utc_day, utc_now
from bridge.usage.store import DayUsage, Tokens, UsageStore

Period = Literal["daily", "monthly"]
OverrideKind = Literal["role", "group"]
_PERIODS: dict[str, Period] = {"daily": "daily", "monthly": "monthly"}
_KINDS: dict[str, OverrideKind] = {"role": "role", "group": "group"}

log = logging.getLogger("bridge.usage")


@dataclass(frozen=True, slots=True)
class Override:
    kind: OverrideKind
    name: str
    """The app role's value, or the group's object id."""
    limits: Mapping[Period, int | None]
    """Only the periods the override sets; None: unlimited."""

    def matches(self, caller: Caller) -> bool:
        if self.kind == "role":
            return self.name in caller.roles
        return self.name.lower() in {group.lower() for group in caller.groups}


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    daily: int | None = None
    monthly: int | None = None
    overrides: tuple[Override, ...] = ()

    def limit(self, caller: Caller, period: Period) -> int | None:
        default = self.daily if period == "daily" else self.monthly
        granted = [o.limits[period] for o in self.overrides if period in o.limits and o.matches(caller)]
        if not granted:
            return default
        return None if None in granted else max(v for v in granted if v is not None)

    @property
    def limits_anyone(self) -> bool:
        """False when no caller can have a limit (then `check` reads nothing)."""
        numbers = [self.daily, self.monthly, *(v for o in self.overrides for v in o.limits.values())]
        return any(v is not None for v in numbers)


def parse_overrides(raw: str, setting: str = "BUDGET_OVERRIDES") -> tuple[tuple[Override, ...], list[str]]:
    """The overrides a setting describes, and what is wrong with it (messages naming `setting`); never raises."""
    overrides: list[Override] = []
    problems: list[str] = []
    for entry in (e.strip() for e in raw.split(";")):
        if not entry:
            continue
        who, equals, what = entry.partition("=")
        kind_text, colon, name = (part.strip() for part in who.partition(":"))
        kind = _KINDS.get(kind_text)
        if not equals or not colon or kind is None or not name:
            problems.append(
                f"{setting}: {entry!r} must look like role:<app role>=daily:<n>,monthly:<n> or group:<group object id>=daily:<n>"
            )
            continue
        if kind == "group" and not GUID_PATTERN.fullmatch(name):
            problems.append(f"{setting}: groups are named by their object id (a GUID, as tokens carry them), got {name!r}")
            continue
        limits: dict[Period, int | None] = {}
        for item in (i.strip() for i in what.split(",")):
            period_text, _, count = (part.strip() for part in item.partition(":"))
            period = _PERIODS.get(period_text)
            if period is None:
                problems.append(f"{setting}: in {entry!r}, {item!r} must be daily:<n> or monthly:<n>")
                continue
            try:
                limits[period] = parse_token_count(count)
            except ValueError as exc:
                problems.append(f"{setting}: in {entry!r}, {period_text} {exc}")
        if limits:
            overrides.append(Override(kind, name, limits))
    return tuple(overrides), problems


@dataclass(slots=True)
class _Totals:
    tokens: Tokens = field(default_factory=Tokens)
    models: defaultdict[str, Tokens] = field(default_factory=lambda: defaultdict(Tokens))

    def add(self, row: DayUsage) -> None:
        self.tokens += row.tokens
        self.models[row.model] += row.tokens


def _totals(rows: Iterable[DayUsage], today: date) -> tuple[_Totals, _Totals]:
    day, month = _Totals(), _Totals()
    for row in rows:
        month.add(row)
        if row.day == today:
            day.add(row)
    return day, month


def _tokens_json(tokens: Tokens) -> dict[str, int]:
    return {
        "input_tokens": tokens.input,
        "output_tokens": tokens.output,
        "total_tokens": tokens.total,
        "requests": tokens.requests,
    }


class Budget:
    """The budget policy over a usage store; one per process."""

    def __init__(self, config: BudgetConfig, store: UsageStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._counting: dict[asyncio.Task[None], str] = {}
        """Counts being written, with whose they are."""

    async def check(self, caller: Caller) -> None:
        """Refuse (429) a caller who has used up a daily or monthly budget; reads nothing when no limit can apply."""
        if not self.config.limits_anyone:
            return
        daily, monthly = self.config.limit(caller, "daily"), self.config.limit(caller, "monthly")
        if daily is None and monthly is None:
            return
        await self.settle(caller.user_id)
        now = self._clock()
        day, month = _totals(await self.store.month(caller.user_id, utc_day(now)), utc_day(now))
        if monthly is not None and month.tokens.total >= monthly:
            raise self._over("Monthly", month.tokens.total, monthly, "this month", next_month(now))
        if daily is not None and day.tokens.total >= daily:
            raise self._over("Daily", day.tokens.total, daily, "today", next_day(now))

    @staticmethod
    def _over(period: str, used: int, limit: int, when: str, resets: datetime) -> BridgeError:
        return BridgeError(
            "rate_limit_error",
            f"{period} token budget used up: {used:,} of {limit:,} tokens {when} (UTC). "
            f"It resets at {resets:%Y-%m-%d %H:%M} UTC; ask your administrator for a larger budget if you need one.",
            dict(NO_RETRY),
        )

    async def record(self, caller: Caller, model: str, input_tokens: int, output_tokens: int) -> None:
        """Count a finished request: input tokens (cached included) and output tokens.  Never raises for storage."""
        tokens = Tokens(max(input_tokens, 0), max(output_tokens, 0), 1)
        try:
            await self.store.add(caller.user_id, caller.name, utc_day(self._clock()), model, tokens)
        except BridgeError as exc:
            log.error(
                "usage of %s not counted (%d input, %d output tokens on %s): %s",
                caller.user_id,
                tokens.input,
                tokens.output,
                model,
                exc.message,
            )

    def record_soon(self, caller: Caller, model: str, input_tokens: int, output_tokens: int) -> None:
        """`record`, in a task of its own (kept until done): nothing waits for it, nothing cancels it."""
        task = asyncio.get_running_loop().create_task(self.record(caller, model, input_tokens, output_tokens))
        self._counting[task] = caller.user_id
        task.add_done_callback(self._counted)

    def _counted(self, task: asyncio.Task[None]) -> None:
        self._counting.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("usage not counted", exc_info=task.exception())

    async def settle(self, user_id: str | None = None) -> None:
        """Wait for the counts this process is still writing (of `user_id`, or everyone's)."""
        while pending := {task for task, user in self._counting.items() if user_id is None or user == user_id}:
            await asyncio.wait(pending)

    async def report(self, caller: Caller) -> dict[str, Any]:
        """The caller's usage today and this month, per model, with the budget left (GET /v1/usage)."""
        await self.settle(caller.user_id)
        now = self._clock()
        today = utc_day(now)
        day, month = _totals(await self.store.month(caller.user_id, today), today)
        return {
            "user": {"id": caller.user_id, "name": caller.name},
            "today": {
                "date": today.isoformat(),
                **self._period(caller, "daily", day, next_day(now)),
            },
            "month": {
                "month": f"{today.year:04d}-{today.month:02d}",
                **self._period(caller, "monthly", month, next_month(now)),
            },
        }

    def _period(self, caller: Caller, period: Period, totals: _Totals, resets: datetime) -> dict[str, Any]:
        limit = self.config.limit(caller, period)
        return {
            **_tokens_json(totals.tokens),
            "limit": limit,
            "remaining": max(limit - totals.tokens.total, 0) if limit is not None else None,
            "resets_at": iso_utc(resets),
            "models": {model: _tokens_json(tokens) for model, tokens in sorted(totals.models.items())},
        }
