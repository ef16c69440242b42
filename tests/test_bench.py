"""The benchmark still runs (its figures are read by people, never asserted: these machines are noisy).

Each bench runs as small as it can (`--smoke`, one round, one repeat): these tests check that every section runs
and reports, not what it measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.azurite import requires_azurite
from tests.support.paths import ROOT

TRAFFIC = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.197" / "hello-02.json"

pytestmark = [pytest.mark.process, pytest.mark.slow]


@pytest.mark.skipif(not TRAFFIC.exists(), reason="../shared/claude-code-traffic not present (a user's clone): the bench needs it")
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


@pytest.mark.skipif(not TRAFFIC.exists(), reason="../shared/claude-code-traffic not present (a user's clone): the bench needs it")
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
