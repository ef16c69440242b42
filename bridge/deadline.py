"""The time a request may still take: `REQUEST_TIMEOUT` for a whole request, `MAX_STREAM_SECONDS` for a stream.

Every layer that waits (the upstream pool and transport, the stream pump, the
non-streaming gather) asks the same `Deadline` how long is left, and raises
its `error()` when nothing is: a `timeout_error` whose message names the
setting that set the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.errors import BridgeError


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float
    reason: str
    """What the client is told when the deadline passes."""

    @classmethod
    def after(cls, seconds: float, reason: str | None = None) -> Deadline:
        return cls(time.monotonic() + seconds, reason or f"The response took longer than REQUEST_TIMEOUT allows ({seconds:g} s)")

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def error(self) -> BridgeError:
        return BridgeError("timeout_error", self.reason)
