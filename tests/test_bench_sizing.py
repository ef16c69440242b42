"""`bench.sizing` still runs (its figures are read by people, never asserted: these machines are noisy).

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
def test_sizing_bench_runs_and_reports_streams_and_cold_start(tmp_path: Path) -> None:
    output = tmp_path / "sizing.json"
    smoke = ["--levels", "1,8", "--chunks", "10", "--interval", "0.01", "--repeats", "1"]
    command = [sys.executable, "-m", "bench.sizing", *smoke, "--output", str(output)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(output.read_text())
    levels = report["streams"]["levels"]
    assert [level["streams"] for level in levels] == [1, 8]
    assert all(level["completed"] == level["streams"] for level in levels), levels
    cold = report["cold_start"]
    assert cold["with_extension"]["functions"] == cold["without_extension"]["functions"] > 0
    assert {"extension_cost_ms", "extension_cost_mib", "extension_alone"} <= set(cold)
