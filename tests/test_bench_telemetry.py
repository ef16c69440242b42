"""`bench.telemetry` still runs (its figures are read by people, never asserted: these machines are noisy).

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
def test_telemetry_bench_runs_and_reports_every_part(tmp_path: Path) -> None:
    output = tmp_path / "telemetry.json"
    smoke = ["--rounds", "1", "--calls", "20", "--blocks", "2", "--requests", "4", "2"]
    command = [sys.executable, "-m", "bench.telemetry", *smoke, "--output", str(output)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert set(report["coldstart"]["import_ms"]) == {"off", "application-insights", "otlp"}
    assert report["coldstart"]["imported"]["off"] == {"sdk": False, "azure_monitor": False, "otlp": False}
    assert set(report["on_path"]["cpu_us"]) == {"off", "on"}
    assert set(report["process"]["cases"]) == {"tiny", "stream"} and "per_chunk_us" in report["process"]
