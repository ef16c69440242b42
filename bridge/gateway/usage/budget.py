"""Per-person token budgets, with the requests in flight counted: admission holds tokens, the end settles them.

    step     when                         what (`Budget`)
    admit    before the upstream call     the caller's limits (`bridge.gateway.usage.limits`; none: nothing read or written);
                                          their ledger as of now (`bridge.gateway.usage.ledger`); refused when used + held
                                          reaches a limit; else the request's allowance (`bridge.gateway.usage.charge`) is
                                          held, written only if the ledger is as it was read (another instance's
                                          write in between: read it again, try again)
    settle   when the request ends,       in a task of its own (the answer never waits, a client leaving cannot
             however it ends              stop it): the hold released and what was used added to the ledger, then,
                                          once the ledger holds it, to the usage row of its model (GET /v1/usage,
                                          `report`); never the row first, for a ledger read takes in the rows and
                                          would count it twice (a ledger that cannot be written: the row is skipped,
                                          logged, and the settlement goes with the caller's next write)

Refusals are 429 `rate_limit_error`:

    used >= limit          "used up", with the usage, the limit and the reset time; `x-should-retry: false`
    used + held >= limit   the rest of the budget is held by the caller's requests still running: retryable,
                           `retry-after` HELD_RETRY_AFTER_SECONDS (the SDKs, and Claude Code, retry)

The bound: every admission sees used + held below the limit, and a request's
end releases its hold as it adds what it used.  So a person's usage passes a
limit by at most the allowance of the last request admitted, plus what the
requests then in flight use beyond their own allowances (an answer longer
than the output cap, or Azure counting the input higher than the bridge did).

A hold expires HOLD_GRACE_SECONDS after the request's deadline (REQUEST_TIMEOUT):
the holds of an instance that died mid-request free themselves.  Each instance
keeps every caller's ledger as it last read or wrote it, with its version: an
admission is one conditional write, and a read only when another instance
wrote since (the write is refused) or a refusal would rest on holds that may
have ended.  Within an instance, one lock per caller orders the writes, and
the settlements waiting for it go into the next write, an admission's or
their own (a settlement is pending at once: the caller's next admission here
counts it even before it is written).
Whenever the ledger is read, it takes in the usage rows of the month (what was
counted before any budget was configured is not lost).  When any budget is
configured, everyone's requests are settled into their ledger, limited or not,
so a limit that starts to apply later (a role removed) starts from the truth;
without one, only the rows are written.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bridge.errors import NO_RETRY, BridgeError
from bridge.gateway.auth.caller import Caller
from bridge.gateway.clock import iso_utc, utc_now
from bridge.gateway.usage.ledger import Hold, Ledger
from bridge.gateway.usage.limits import BudgetConfig, Period
from bridge.gateway.usage.periods import next_day, next_month, utc_day
from bridge.gateway.usage.store import DayUsage, LedgerConflict, Tokens, UsageStore

HOLD_GRACE_SECONDS = 60.0
HELD_RETRY_AFTER_SECONDS = 5
MAX_ATTEMPTS = 40
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5
MAX_ACCOUNTS = 10_000
"""Callers whose ledger an instance keeps; beyond, the idle ones are forgotten (and read again when needed)."""

log = logging.getLogger(__name__)


@dataclass
class _Settlement:
    """A request's end, waiting to be written into its caller's ledger: its hold (if it had one), the tokens it
    used, and whether the ledger holds it yet."""

    hold: Hold | None
    tokens: int
    written: bool = False


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


@dataclass
class _Account:
    """One caller's ledger in this instance: as last read or written (with its version), the settlements not
    yet written, and the lock that orders the writes."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    known: tuple[str | None, Ledger] | None = None
    pending: list[_Settlement] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not self.lock.locked() and not self.pending


def _settled(ledger: Ledger, settlements: Iterable[_Settlement]) -> Ledger:
    for settlement in settlements:
        ledger = ledger.settled(settlement.hold, settlement.tokens)
    return ledger


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)))


class Budget:
    """The budget policy over a usage store; one per process."""

    def __init__(self, config: BudgetConfig, store: UsageStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._counting: dict[asyncio.Task[None], str] = {}
        """Settlements being written, with whose they are."""

    def limits(self, caller: Caller) -> tuple[int | None, int | None]:
        """The caller's daily and monthly limits (None: unlimited)."""
        if not self.config.limits_anyone:
            return None, None
        return self.config.limit(caller, "daily"), self.config.limit(caller, "monthly")

    async def admit(self, caller: Caller, allowance: int, lifetime: float) -> Hold | None:
        """Hold `allowance` tokens of the caller's budget for a request that may run `lifetime` seconds, or refuse
        (429); None when no limit applies to the caller (nothing is held)."""
        daily, monthly = self.limits(caller)
        if daily is None and monthly is None:
            return None
        account = self._account(caller.user_id)
        async with account.lock:
            fresh = False
            for attempt in range(MAX_ATTEMPTS):
                now = self._clock()
                if account.known is None:
                    account.known, fresh = await self._read(caller.user_id, now), True
                version, known = account.known
                applied = len(account.pending)
                ledger = _settled(known.at(now), account.pending[:applied])
                lockout = self._refusal(ledger, daily, monthly, now)
                if lockout is not None:
                    error, held = lockout
                    if held and not fresh:
                        account.known = None  # the holds may have ended on another instance: read before refusing
                        continue
                    raise error
                hold = Hold.until(allowance, now + timedelta(seconds=lifetime + HOLD_GRACE_SECONDS))
                if await self._write(caller, account, ledger.holding(hold), version, applied):
                    return hold
                fresh = False
                await _backoff(attempt)
        raise BridgeError("api_error", f"Could not check the budget: {MAX_ATTEMPTS} attempts lost races with other instances")

    def _refusal(self, ledger: Ledger, daily: int | None, monthly: int | None, now: datetime) -> tuple[BridgeError, bool] | None:
        """Why `ledger` admits nothing more, and whether only holds stand in the way (then a retry may pass)."""
        periods = (
            ("Monthly", ledger.month_tokens, monthly, "this month", next_month(now)),
            ("Daily", ledger.day_tokens, daily, "today", next_day(now)),
        )
        for period, used, limit, when, resets in periods:
            if limit is not None and used >= limit:
                return self._over(period, used, limit, when, resets), False
        for period, used, limit, when, _ in periods:
            if limit is not None and used + ledger.held >= limit:
                return self._held(period, used, ledger.held, limit, when), True
        return None

    @staticmethod
    def _over(period: str, used: int, limit: int, when: str, resets: datetime) -> BridgeError:
        return BridgeError(
            "rate_limit_error",
            f"{period} token budget used up: {used:,} of {limit:,} tokens {when} (UTC). "
            f"It resets at {resets:%Y-%m-%d %H:%M} UTC; ask your administrator for a larger budget if you need one.",
            dict(NO_RETRY),
        )

    @staticmethod
    def _held(period: str, used: int, held: int, limit: int, when: str) -> BridgeError:
        return BridgeError(
            "rate_limit_error",
            f"{period} token budget: {used:,} of {limit:,} tokens used {when} (UTC), and {held:,} more held by your "
            "requests still running, which is all that is left: try again when they finish.",
            {"retry-after": str(HELD_RETRY_AFTER_SECONDS)},
        )

    async def _read(self, user_id: str, now: datetime) -> tuple[str | None, Ledger]:
        """The caller's ledger as stored, as of `now`, taking in the usage rows of its month."""
        today = utc_day(now)
        read = await self.store.read_ledger(user_id, today)
        day, month = _totals(read.rows, today)
        ledger = (read.ledger or Ledger(today)).at(now).reconciled(day.tokens.total, month.tokens.total)
        return read.version, ledger

    async def _write(self, caller: Caller, account: _Account, ledger: Ledger, version: str | None, applied: int) -> bool:
        """Write `ledger` (the first `applied` pending settlements in it) if nobody wrote since `version`."""
        try:
            written = await self.store.write_ledger(caller.user_id, caller.name, ledger, version)
        except LedgerConflict:
            account.known = None
            return False
        except BridgeError:
            account.known = None
            raise
        account.known = (written, ledger)
        for settlement in account.pending[:applied]:
            settlement.written = True
        del account.pending[:applied]
        return True

    def _account(self, user_id: str) -> _Account:
        account = self._accounts.get(user_id)
        if account is None:
            if len(self._accounts) >= MAX_ACCOUNTS:
                self._accounts = {user: kept for user, kept in self._accounts.items() if not kept.idle}
            account = self._accounts[user_id] = _Account()
        return account

    def settle_soon(self, caller: Caller, model: str, hold: Hold | None, used: Tokens | Awaitable[Tokens]) -> None:
        """End a request, in a task of its own (kept until done): `hold` released, `used` counted (`Tokens()`:
        nothing, the upstream never answered).  Nothing waits for it, nothing cancels it; known tokens are
        pending at once, so the caller's next admission here counts them even before they are written."""
        queued = self._queue(caller, hold, used) if isinstance(used, Tokens) else None
        task = asyncio.get_running_loop().create_task(self._settle(caller, model, hold, used, queued))
        self._counting[task] = caller.user_id
        task.add_done_callback(self._counted)

    async def record(self, caller: Caller, model: str, input_tokens: int, output_tokens: int) -> None:
        """Count a finished request that held nothing: input tokens (cached included) and output tokens."""
        await self._settle(caller, model, None, Tokens(max(input_tokens, 0), max(output_tokens, 0), 1))

    def _queue(self, caller: Caller, hold: Hold | None, tokens: Tokens) -> _Settlement | None:
        """Make the settlement pending in the caller's ledger (only when some budget is configured)."""
        if not self.config.limits_anyone:
            return None
        settlement = _Settlement(hold, tokens.total)
        self._account(caller.user_id).pending.append(settlement)
        return settlement

    async def _settle(
        self, caller: Caller, model: str, hold: Hold | None, used: Tokens | Awaitable[Tokens], queued: _Settlement | None = None
    ) -> None:
        """The ledger first, then the usage row (see the module's notes).  Never raises for storage: what could not
        be written is logged."""
        tokens = Tokens()
        try:
            tokens = used if isinstance(used, Tokens) else await used
            settlement = queued or self._queue(caller, hold, tokens)
            if settlement is not None:
                await self._flush(caller, settlement)
            if tokens.requests:
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

    async def _flush(self, caller: Caller, settlement: _Settlement) -> None:
        """See `settlement` written into the caller's ledger, with whatever else is pending, unless an admission
        wrote it meanwhile."""
        account = self._account(caller.user_id)
        async with account.lock:
            for attempt in range(MAX_ATTEMPTS):
                if settlement.written:
                    return
                now = self._clock()
                if account.known is None:
                    account.known = await self._read(caller.user_id, now)
                version, known = account.known
                applied = len(account.pending)
                if await self._write(caller, account, _settled(known.at(now), account.pending[:applied]), version, applied):
                    return
                await _backoff(attempt)
        raise BridgeError("api_error", f"Could not settle the budget: {MAX_ATTEMPTS} attempts lost races with other instances")

    def _counted(self, task: asyncio.Task[None]) -> None:
        self._counting.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("usage not counted", exc_info=task.exception())

    async def settle(self, user_id: str | None = None) -> None:
        """Wait for the settlements this process is still writing (of `user_id`, or everyone's)."""
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
