"""A person's budget ledger: what they used today and this month, and what their requests in flight hold.

Budgets are checked against the ledger, one per person, so that admitting a
request is one conditional write of one record (`bridge.gateway.usage.budget`):

    field          meaning
    day            the UTC day `day_tokens` counts (a ledger read on a later day starts that day at 0)
    day_tokens     tokens used that day (input, cached included, plus output)
    month_tokens   tokens used in the calendar month of `day`
    holds          {expiry (epoch seconds): tokens}: what admitted requests still hold, summed per
                   HOLD_BUCKET_SECONDS of expiry; an expired bucket is dropped, so the holds of an
                   instance that died mid-request free themselves (`Hold`)

Admission adds a hold; the end of the request (`settled`) removes it and adds
what was used.  Everything here is pure: values in, values out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bridge.gateway.usage.periods import utc_day

HOLD_BUCKET_SECONDS = 60
"""Holds expiring within the same minute share one bucket: the ledger stays small however many requests run."""


@dataclass(frozen=True, slots=True)
class Hold:
    """What one admitted request holds until it ends: `tokens`, in the bucket of its expiry."""

    tokens: int
    expires: int
    """The bucket: epoch seconds, a multiple of HOLD_BUCKET_SECONDS."""

    @staticmethod
    def until(tokens: int, moment: datetime) -> Hold:
        return Hold(tokens, math.ceil(moment.timestamp() / HOLD_BUCKET_SECONDS) * HOLD_BUCKET_SECONDS)


@dataclass(frozen=True, slots=True)
class Ledger:
    day: date
    day_tokens: int = 0
    month_tokens: int = 0
    holds: Mapping[int, int] = field(default_factory=dict)

    @property
    def held(self) -> int:
        return sum(self.holds.values())

    def at(self, now: datetime) -> Ledger:
        """This ledger as of `now`: a new day (or month) starts at 0; expired holds are gone."""
        today = utc_day(now)
        day_tokens = self.day_tokens if today == self.day else 0
        month_tokens = self.month_tokens if (today.year, today.month) == (self.day.year, self.day.month) else 0
        moment = now.timestamp()
        holds = {expires: tokens for expires, tokens in self.holds.items() if expires > moment}
        return Ledger(today, day_tokens, month_tokens, holds)

    def reconciled(self, day_tokens: int, month_tokens: int) -> Ledger:
        """The ledger counting at least what the usage rows of its day and month say (a count the ledger missed,
        say a write that failed, is not lost)."""
        return replace(self, day_tokens=max(self.day_tokens, day_tokens), month_tokens=max(self.month_tokens, month_tokens))

    def holding(self, hold: Hold) -> Ledger:
        if hold.tokens <= 0:
            return self
        return replace(self, holds={**self.holds, hold.expires: self.holds.get(hold.expires, 0) + hold.tokens})

    def settled(self, hold: Hold | None, tokens: int) -> Ledger:
        """`hold` released (if it has not expired meanwhile) and `tokens` used."""
        holds = dict(self.holds)
        if hold is not None and hold.expires in holds:
            left = holds.pop(hold.expires) - hold.tokens
            if left > 0:
                holds[hold.expires] = left
        return Ledger(self.day, self.day_tokens + tokens, self.month_tokens + tokens, holds)
