"""A person's budget ledger: what they used today and this month, what their requests in flight hold, their
rate-limit window, and which warnings they were given.

Budgets and rate limits are checked against the ledger, one per person, so
that admitting a request is one conditional write of one record
(`bridge.gateway.usage.budget`):

    field      meaning
    day        the UTC day `today` counts (a ledger read on a later day starts that day at 0)
    today      used that day: tokens (input, cached included, plus output) and micro-dollars (`Amount`)
    month      used in the calendar month of `day`
    holds      {expiry (epoch seconds): Amount}: what admitted requests still hold, summed per
               HOLD_BUCKET_SECONDS of expiry; an expired bucket is dropped, so the holds of an
               instance that died mid-request free themselves (`Hold`)
    window     requests and tokens of this minute and the last (`bridge.gateway.usage.window`)
    warned     the budgets past the warning threshold already logged, each with its period
               ("usd-day@2026-12-06"): logged once per person and period, whichever instance saw it
    limits     the limits that applied at the person's last admission (what an administrator's
               GET /v1/usage?user= shows)

Admission adds a hold and counts the request in the window; the end of the
request (`settled`) removes the hold and adds what was used.  Everything here
is pure: values in, values out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bridge.gateway.usage.limits import Limits
from bridge.gateway.usage.periods import utc_day
from bridge.gateway.usage.window import Window

HOLD_BUCKET_SECONDS = 60
"""Holds expiring within the same minute share one bucket: the ledger stays small however many requests run."""


@dataclass(frozen=True, slots=True)
class Amount:
    """What a budget counts: tokens (input, cached included, plus output) and their cost in micro-dollars."""

    tokens: int = 0
    micros: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.tokens + other.tokens, self.micros + other.micros)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.tokens - other.tokens, self.micros - other.micros)

    def most(self, other: Amount) -> Amount:
        return Amount(max(self.tokens, other.tokens), max(self.micros, other.micros))

    @property
    def positive(self) -> bool:
        return self.tokens > 0 or self.micros > 0


@dataclass(frozen=True, slots=True)
class Hold:
    """What one admitted request holds until it ends, in the bucket of its expiry."""

    amount: Amount
    expires: int
    """The bucket: epoch seconds, a multiple of HOLD_BUCKET_SECONDS."""

    @staticmethod
    def until(amount: Amount, moment: datetime) -> Hold:
        return Hold(amount, math.ceil(moment.timestamp() / HOLD_BUCKET_SECONDS) * HOLD_BUCKET_SECONDS)


def period_ids(day: date) -> tuple[str, str]:
    """The names of `day`'s day and month, as warnings remember them."""
    return day.isoformat(), f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class Ledger:
    day: date
    today: Amount = field(default_factory=Amount)
    month: Amount = field(default_factory=Amount)
    holds: Mapping[int, Amount] = field(default_factory=dict)
    window: Window = field(default_factory=Window)
    warned: frozenset[str] = frozenset()
    limits: Limits | None = None

    @property
    def held(self) -> Amount:
        total = Amount()
        for amount in self.holds.values():
            total += amount
        return total

    def at(self, now: datetime) -> Ledger:
        """This ledger as of `now`: a new day (or month) starts at 0; expired holds are gone; the window rolled."""
        today = utc_day(now)
        day_used = self.today if today == self.day else Amount()
        month_used = self.month if (today.year, today.month) == (self.day.year, self.day.month) else Amount()
        moment = now.timestamp()
        holds = {expires: amount for expires, amount in self.holds.items() if expires > moment}
        current = period_ids(today)
        warned = frozenset(key for key in self.warned if key.rpartition("@")[2] in current)
        return Ledger(today, day_used, month_used, holds, self.window.at(moment), warned, self.limits)

    def reconciled(self, today: Amount, month: Amount) -> Ledger:
        """The ledger counting at least what the usage rows of its day and month say (a count the ledger missed,
        say a write that failed, is not lost)."""
        return replace(self, today=self.today.most(today), month=self.month.most(month))

    def holding(self, hold: Hold) -> Ledger:
        if not hold.amount.positive:
            return self
        return replace(self, holds={**self.holds, hold.expires: self.holds.get(hold.expires, Amount()) + hold.amount})

    def counting(self, requests: int, tokens: int) -> Ledger:
        """`requests` and `tokens` more in this minute's window."""
        return replace(self, window=self.window.counting(requests, tokens))

    def settled(self, hold: Hold | None, used: Amount) -> Ledger:
        """`hold` released (if it has not expired meanwhile) and `used` added."""
        holds = dict(self.holds)
        if hold is not None and hold.expires in holds:
            left = holds.pop(hold.expires) - hold.amount
            if left.positive:
                holds[hold.expires] = Amount(max(left.tokens, 0), max(left.micros, 0))
        return replace(self, today=self.today + used, month=self.month + used, holds=holds)

    def warning(self, keys: frozenset[str]) -> Ledger:
        return replace(self, warned=self.warned | keys)

    def applying(self, limits: Limits) -> Ledger:
        return self if self.limits == limits else replace(self, limits=limits)
