"""A person's rate-limit window: requests and tokens of this minute and the one before (a sliding estimate).

    field                            meaning
    start                            epoch seconds at which this minute's window began (a multiple of 60)
    requests, tokens                 counted in this minute
    previous_requests, _tokens       counted in the minute before

The load at a moment is the previous minute's count weighted by the part of it
still inside the last 60 seconds, plus this minute's (the estimate of
Cloudflare's and nginx's limiters): a burst at the turn of a minute cannot get
twice the limit through, and nothing per request needs keeping.  Pure values:
the ledger (`bridge.gateway.usage.ledger`) carries one, so a request's
rate-limit check is part of its admission's one conditional write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Window:
    start: int = 0
    requests: int = 0
    tokens: int = 0
    previous_requests: int = 0
    previous_tokens: int = 0

    def at(self, moment: float) -> Window:
        """This window as of `moment`: rolled forward when a new minute has begun."""
        start = int(moment // WINDOW_SECONDS) * WINDOW_SECONDS
        if start == self.start:
            return self
        if start == self.start + WINDOW_SECONDS:
            return Window(start, 0, 0, self.requests, self.tokens)
        return Window(start)

    def _weight(self, moment: float) -> float:
        return max(0.0, 1.0 - (moment - self.start) / WINDOW_SECONDS)

    def load(self, moment: float) -> tuple[float, float]:
        """Requests and tokens in the last 60 seconds, estimated (the window must be `at(moment)`)."""
        weight = self._weight(moment)
        return self.previous_requests * weight + self.requests, self.previous_tokens * weight + self.tokens

    def counting(self, requests: int, tokens: int) -> Window:
        return replace(self, requests=self.requests + requests, tokens=self.tokens + max(tokens, 0))

    def wait(self, current: int, previous: int, room: float, moment: float) -> int:
        """Whole seconds (at least 1) until the estimate of one count (this minute's `current`, the minute
        before's `previous`) falls to `room`."""
        elapsed = moment - self.start
        if room < 0:
            return WINDOW_SECONDS
        if current <= room:
            if previous <= 0:
                return 1
            # previous * (1 - (elapsed + t) / 60) + current <= room
            seconds = WINDOW_SECONDS * (1 - (room - current) / previous) - elapsed
        else:
            # not before the next minute, when `current` becomes the minute before and weighs less as it passes
            seconds = WINDOW_SECONDS - elapsed + WINDOW_SECONDS * (1 - room / current)
        return max(1, math.ceil(seconds - 1e-9))
