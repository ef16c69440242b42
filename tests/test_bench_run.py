"""`bench.run` still runs (its figures are read by people, never asserted: these machines are noisy).

It runs as small as it can (one round, one repeat): this checks that every section runs and reports, not
what it measures. One module per bench, so the suite's workers (one file each) run them side by side.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT, needs_bench_traffic

pytestmark = [pytest.mark.process, pytest.mark.slow]


@needs_bench_traffic
def test_the_bench_runs_and_reports_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert {"latency", "translation", "stream_http", "coldstart", "per_request", "targets_met"} <= set(report), sorted(report)
    per_request = report["per_request"]
    assert set(per_request["cases"]) == {"tiny", "claude_code", "long_session", "stream"}
    for case in per_request["cases"].values():
        assert {"bridge_chat", "bridge_responses"} <= set(case["results"]) and "peer" not in case["results"]
