"""Where things are: the checkout, and the team's recorded traffic beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
"""The checkout."""

BENCH_TRAFFIC = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.197" / "hello-02.json"
"""The recorded Claude Code request the benches replay (absent in a user's clone: their smoke runs skip)."""
needs_bench_traffic = pytest.mark.skipif(
    not BENCH_TRAFFIC.exists(), reason="../shared/claude-code-traffic not present (a user's clone): the bench needs it"
)
