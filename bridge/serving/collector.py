"""CPython's cyclic garbage collector, set for a server whose requests build large trees that live a few
milliseconds.

A request's body is decoded, translated into the internal model and into the upstream's body: a long Claude
Code session makes thousands of containers at once, all freed by reference counting when the request ends.
With the default thresholds (700, 10, 10) the collector runs several times while such a tree is being built,
promotes the tree into the oldest generation, and so every few requests scans the whole heap (every module,
the settings, the price table): a third of the CPU of a 600 KB request (`bench.per_request`, case
long_session).

    setting                        what it does here
    -----------------------------  ---------------------------------------------------------------------
    gc.freeze() once built         what start-up made (modules, settings, the bridge) leaves the
                                   collector's sight: a full collection scans only what came after
    first threshold 700 → 10,000   a request's tree is freed before it is ever scanned or promoted

Cycles still get collected, a little later; the process's memory does not grow from it (`bench.sizing`: 0.206
MiB per concurrent stream with it and without; docs/contributing.md).  Only the process-wide bridge sets it
(`bridge.serving.process.current_bridge`): a bridge that tests run inside their own process leaves the
collector of that process as it is.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """Freeze what exists now and raise the youngest generation's threshold (see the module's notes)."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
