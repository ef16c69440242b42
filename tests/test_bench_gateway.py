"""`bench.gateway` still runs (its figures are read by people, never asserted: these machines are noisy).

It runs as small as it can (one round, one repeat): this checks that every section runs and reports, not
what it measures. One module per bench, so the suite's workers (one file each) run them side by side.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.azurite import requires_azurite
from tests.support.paths import ROOT

pytestmark = [pytest.mark.process, pytest.mark.slow]


@requires_azurite
def test_gateway_bench_runs_and_reports_every_arm(tmp_path: Path) -> None:
    output = tmp_path / "gateway.json"
    command = [sys.executable, "-m", "bench.gateway", "--rounds", "1", "--warmup", "0", "--calls", "5", "--output", str(output)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(output.read_text())
    assert set(report["http"]["ms"]) == {"token", "token-again", "entra", "entra-memory", "entra-table", "entra-costs"}
    assert set(report["http"]["added_p50_ms"]) == {
        "noise_floor",
        "token_validation",
        "budget_check_memory",
        "budget_check_table",
        "dollars_rates_policy",
    }
    assert {"verify", "price", "admit_memory", "admit_table", "admit_and_settle_table"} <= set(report["in_process"])
