"""Per-person budgets (tokens and dollars) and rate limits, with the requests in flight counted: admission holds,
the end settles.

    step     when                         what (`Budget`)
    admit    before the upstream call     the caller's limits (`bridge.gateway.usage.limits`; none: nothing read or written);
                                          their ledger as of now (`bridge.gateway.usage.ledger`) and the standing it gives
                                          (`bridge.gateway.usage.standing`); refused when a budget is spent, when used +
                                          held reaches one, or when the last minute's requests or tokens reach a rate
                                          limit; else the request's allowance (`bridge.gateway.usage.charge`: tokens, and
                                          their price in dollars) is held and the request counted in the window, written
                                          only if the ledger is as it was read (another instance's write in between:
                                          read it again, try again)
    settle   when the request ends,       in a task of its own (the answer never waits, a client leaving cannot
             however it ends              stop it): the hold released and what was used (tokens and their cost) added to
                                          the ledger, then, once the ledger holds it, to the usage row of its deployment
                                          and agent (GET /v1/usage, `report`); never the row first, for a ledger read
                                          takes in the rows and would count it twice (a ledger that cannot be written: the
                                          row is skipped, logged, and the settlement goes with the caller's next write)

Refusals are 429 `rate_limit_error` (`bridge.gateway.usage.notices`): a budget spent (not worth retrying before it
resets), the rest held by the caller's running requests (retryable), a rate limit (retryable).

The bound: every admission sees used + held below each limit, and a request's
end releases its hold as it adds what it used.  So a person's usage passes a
limit by at most the allowance of the last request admitted, plus what the
requests then in flight use beyond their own allowances (an answer longer
than the output cap, or Azure counting the input higher than the bridge did).
A rate limit is passed by at most the requests admitted at once on the last
room.

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
counted before any budget was configured is not lost).  When any limit is
configured, everyone's requests are settled into their ledger, limited or not,
so a limit that starts to apply later (a role removed) starts from the truth;
without one, only the rows are written.  A write that crosses a budget's warning
threshold (BUDGET_WARN_PERCENT) marks it in the ledger and logs it: once per
person and period, whichever instance wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller
from bridge.gateway.clock import utc_now
from bridge.gateway.usage import notices
from bridge.gateway.usage.ledger import Amount, Hold, Ledger
from bridge.gateway.usage.limits import BudgetConfig, Limits
from bridge.gateway.usage.periods import utc_day
from bridge.gateway.usage.spend_limit import Spent
from bridge.gateway.usage.standing import NO_STANDING, Standing, standing_of
from bridge.gateway.usage.store import Agent, Counts, DayUsage, LedgerConflict, UsageStore
from bridge.gateway.usage.window import Window

HOLD_GRACE_SECONDS = 60.0
MAX_ATTEMPTS = 40
BACKOFF_SECONDS = 0.01
MAX_BACKOFF_SECONDS = 0.5
MAX_ACCOUNTS = 10_000
"""Callers whose ledger an instance keeps; beyond, the idle ones are forgotten (and read again when needed)."""

log = logging.getLogger(__name__)


@dataclass
class _Settlement:
    """A request's end, waiting to be written into its caller's ledger: its hold (if it had one), what it used, the
    tokens it adds to the rate-limit window beyond those counted at admission, and whether the ledger holds it yet."""

    hold: Hold | None
    used: Amount
    window_tokens: int = 0
    written: bool = False


@dataclass(frozen=True, slots=True)
class Admission:
    """A request let in: what it holds (None: nothing) and the caller's standing when it was admitted."""

    hold: Hold | None
    standing: Standing
    counted: int = 0
    """Input tokens counted in the rate-limit window at admission."""


@dataclass(frozen=True, slots=True)
class Spending:
    """Whose a request's usage is, and where it goes: the caller, the deployment that served, the agent that asked."""

    caller: Caller
    deployment: str
    agent: Agent = "main"


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
        ledger = ledger.settled(settlement.hold, settlement.used).counting(0, settlement.window_tokens)
    return ledger


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)))


def _rate_limit_error(limits: Limits, window: Window, now: datetime) -> BridgeError | None:
    """The 429 a request gets when the last minute's requests or tokens reach a rate limit; None while they do not."""
    moment = now.timestamp()
    requests, tokens = window.load(moment)
    rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
    if rpm is not None and requests + 1 > rpm:
        wait = window.wait(window.requests, window.previous_requests, rpm - 1, moment)
        return notices.rate_limited("requests", rpm, "RATE_LIMIT_REQUESTS_PER_MINUTE", wait)
    if tpm is not None and tokens >= tpm:
        wait = window.wait(window.tokens, window.previous_tokens, tpm - 1, moment)
        return notices.rate_limited("tokens", tpm, "RATE_LIMIT_TOKENS_PER_MINUTE", wait)
    return None


class Budget:
    """The budget policy over a usage store; one per process."""

    def __init__(self, config: BudgetConfig, store: UsageStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._counting: dict[asyncio.Task[None], str] = {}
        """Settlements being written, with whose they are."""

    def limits(self, caller: Caller) -> Limits:
        return self.config.limits(caller)

    def standing(self, ledger: Ledger, limits: Limits, now: datetime) -> Standing:
        return standing_of(ledger, limits, now, self.config.warn_percent)

    async def admit(self, caller: Caller, allowance: Amount, lifetime: float, input_tokens: int = 0) -> Admission | None:
        """Hold `allowance` of the caller's budgets for a request that may run `lifetime` seconds and count it
        (its `input_tokens`) in their rate-limit window, or refuse (429); None when no limit applies to the caller
        (nothing is read, held or written)."""
        limits = self.limits(caller)
        if not limits.any:
            return None
        counted = input_tokens if limits.tokens_per_minute is not None else 0
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
                standing = self.standing(ledger, limits, now)
                spent = standing.spent
                if spent is not None:
                    raise notices.spent(standing, spent, now)
                held = standing.held_back
                if held is not None:
                    if not fresh:
                        account.known = None  # the holds may have ended on another instance: read before refusing
                        continue
                    raise notices.held(standing, held)
                refusal = _rate_limit_error(limits, ledger.window, now)
                if refusal is not None:
                    raise refusal
                hold = Hold.until(allowance, now + timedelta(seconds=lifetime + HOLD_GRACE_SECONDS))
                admitted = ledger.holding(hold).counting(1, counted).applying(limits)
                if await self._write(caller, account, self._warning(admitted, limits, now), version, applied, limits):
                    return Admission(hold if hold.amount.positive else None, standing, counted)
                fresh = False
                await _backoff(attempt)
        raise BridgeError("api_error", f"Could not check the budget: {MAX_ATTEMPTS} attempts lost races with other instances")

    def _warning(self, ledger: Ledger, limits: Limits, now: datetime) -> Ledger:
        """`ledger` marking the budgets it takes past the warning threshold (logged here once the write is made:
        see `_write`)."""
        keys = self.standing(ledger, limits, now).warned_keys() - ledger.warned
        return ledger.warning(keys) if keys else ledger

    async def _read(self, user_id: str, now: datetime) -> tuple[str | None, Ledger]:
        """The caller's ledger as stored, as of `now`, taking in the usage rows of its month."""
        read = await self.store.read_ledger(user_id, utc_day(now))
        return read.version, self._reconciled(read.ledger, read.rows, now)

    @staticmethod
    def _reconciled(stored: Ledger | None, rows: list[DayUsage], now: datetime) -> Ledger:
        today = utc_day(now)
        day, month = Counts(), Counts()
        for row in rows:
            month += row.counts
            if row.day == today:
                day += row.counts
        return (stored or Ledger(today)).at(now).reconciled(day.amount, month.amount)

    async def _write(
        self, caller: Caller, account: _Account, ledger: Ledger, version: str | None, applied: int, limits: Limits
    ) -> bool:
        """Write `ledger` (the first `applied` pending settlements in it) if nobody wrote since `version`; the
        warnings it adds (against `limits`) are logged once it is written."""
        before = account.known[1].warned if account.known is not None else frozenset()
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
        new = ledger.warned - before
        if new:
            for budget in self.standing(ledger, limits, self._clock()).warnings:
                if f"{budget.key}@{budget.period}" in new:
                    log.warning(notices.warning_line(caller.name, budget))
        return True

    def _account(self, user_id: str) -> _Account:
        account = self._accounts.get(user_id)
        if account is None:
            if len(self._accounts) >= MAX_ACCOUNTS:
                self._accounts = {user: kept for user, kept in self._accounts.items() if not kept.idle}
            account = self._accounts[user_id] = _Account()
        return account

    def settle_soon(self, spending: Spending, admission: Admission | None, used: Counts | Awaitable[Counts]) -> None:
        """End a request, in a task of its own (kept until done): its hold released, `used` counted (`Counts()`:
        nothing, the upstream never answered).  Nothing waits for it, nothing cancels it; known counts are
        pending at once, so the caller's next admission here counts them even before they are written."""
        queued = self._queue(spending.caller, admission, used) if isinstance(used, Counts) else None
        task = asyncio.get_running_loop().create_task(self._settle(spending, admission, used, queued))
        self._counting[task] = spending.caller.user_id
        task.add_done_callback(self._counted)

    async def record(self, spending: Spending, used: Counts) -> None:
        """Count a finished request that held nothing."""
        await self._settle(spending, None, used)

    def _queue(self, caller: Caller, admission: Admission | None, used: Counts) -> _Settlement | None:
        """Make the settlement pending in the caller's ledger (only when some limit is configured)."""
        if not self.config.limits_anyone:
            return None
        counted = admission.counted if admission is not None else 0
        hold = admission.hold if admission is not None else None
        window_tokens = used.total - counted if self.config.tokens_per_minute is not None else 0
        settlement = _Settlement(hold, used.amount, window_tokens)
        self._account(caller.user_id).pending.append(settlement)
        return settlement

    async def _settle(
        self,
        spending: Spending,
        admission: Admission | None,
        used: Counts | Awaitable[Counts],
        queued: _Settlement | None = None,
    ) -> None:
        """The ledger first, then the usage row (see the module's notes).  Never raises for storage: what could not
        be written is logged."""
        caller = spending.caller
        counts = Counts()
        try:
            counts = used if isinstance(used, Counts) else await used
            settlement = queued or self._queue(caller, admission, counts)
            if settlement is not None:
                await self._flush(caller, settlement)
            if counts.requests:
                roles = ",".join(sorted(caller.roles))
                day = utc_day(self._clock())
                await self.store.add(caller.user_id, caller.name, roles, day, spending.deployment, spending.agent, counts)
        except BridgeError as exc:
            log.error(
                "usage of %s not counted (%d input, %d output tokens, %d micro-dollars on %s): %s",
                caller.user_id,
                counts.input,
                counts.output,
                counts.micros,
                spending.deployment,
                exc.message,
            )

    async def _flush(self, caller: Caller, settlement: _Settlement) -> None:
        """See `settlement` written into the caller's ledger, with whatever else is pending, unless an admission
        wrote it meanwhile."""
        account = self._account(caller.user_id)
        limits = self.limits(caller)
        async with account.lock:
            for attempt in range(MAX_ATTEMPTS):
                if settlement.written:
                    return
                now = self._clock()
                if account.known is None:
                    account.known = await self._read(caller.user_id, now)
                version, known = account.known
                applied = len(account.pending)
                ledger = _settled(known.at(now), account.pending[:applied])
                if await self._write(caller, account, self._warning(ledger, limits, now), version, applied, limits):
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

    async def standing_now(self, caller: Caller) -> Standing:
        """The caller's standing as of now, nothing held or counted (what Claude Code's start-up probe and
        /api/oauth/usage are told); NO_STANDING when no limit applies to them (nothing is read)."""
        limits = self.limits(caller)
        if not limits.any:
            return NO_STANDING
        now, ledger, _ = await self.usage(caller.user_id)
        return self.standing(ledger, limits, now)

    async def spent_so_far(self, user_id: str) -> Spent:
        """What the person spent this UTC day, week from Monday and month, in micro-dollars (priced requests)."""
        now, ledger, rows = await self.usage(user_id)
        monday = utc_day(now) - timedelta(days=utc_day(now).weekday())
        if monday.month != utc_day(now).month:
            rows = [*await self.store.month(user_id, monday), *rows]
        week = sum(row.counts.micros for row in rows if row.day >= monday)
        return Spent(ledger.today.micros, week, ledger.month.micros)

    async def usage(self, user_id: str) -> tuple[datetime, Ledger, list[DayUsage]]:
        """The person's usage as of now, read from the store after their settlements here are written: the moment,
        their ledger (their rows taken in) and the rows of the month."""
        await self.settle(user_id)
        now = self._clock()
        today = utc_day(now)
        read = await self.store.read_ledger(user_id, today)
        return now, self._reconciled(read.ledger, read.rows, now), read.rows
