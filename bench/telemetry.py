"""What telemetry costs (issue 21): at cold start, on each request's path, and in the bridge process as a whole.

`python -m bench.telemetry [--rounds N] [--distro-python PATH] [--output PATH]` from the repository root.

1. Cold start (target: at most +150 ms with an Application Insights connection string, nothing imported
   without one).  `import function_app` in a fresh interpreter per run, arms interleaved round by round:

       off                    no telemetry setting
       application-insights   APPLICATIONINSIGHTS_CONNECTION_STRING (and the managed identity's
                              APPLICATIONINSIGHTS_AUTHENTICATION_STRING), ingestion on a closed local port
       otlp                   OTEL_EXPORTER_OTLP_ENDPOINT
       distro                 (with --distro-python: an interpreter with azure-monitor-opentelemetry
                              installed next to the bridge's pins) `configure_azure_monitor(connection_string=...)`
                              after the import, and that interpreter's own `off` import as its baseline

   Added = median(arm) - median(off).  The application-insights arm also times, after the import, what
   the deferred exporters do on the export thread the first time (`bridge.telemetry.deferred`): importing
   Azure Monitor's exporter and making its three exporters.

2. On the request's path, in one process (target: at most +0.3 ms CPU a request): a request record's
   whole life as the bridge lives it (start, route, two attempts, first events, usage and cost, `emit`) with
   telemetry off, and on (the SDK's providers and batch processors; exporters that drop what they get, so
   only the request's own thread is counted), CPU per record over `--calls` records, blocks interleaved.

3. In the bridge process (target: the same, and no change per stream chunk): `python -m bridge` with telemetry
   off (twice: the noise floor) and exporting to Application Insights (Azure Monitor's exporter, to a local
   stand-in of the ingestion endpoint that accepts everything; batches every 0.5 s, so the exporting
   thread's CPU falls inside the run; metrics at the SDK's default minute, a cost per minute, not per
   request), `bench.per_request`'s blocks on its tiny request and its 2,000-chunk stream: CPU of the whole
   process (export thread included) per request, the mean over alternating blocks (50 tiny requests, 8
   streams) each measured until 0.8 s after its last request, so its telemetry is exported inside its own
   window, after a warm-up that has the exporter made (once, ~170 ms) outside them.  A cost per chunk would
   show as a stream difference larger than the tiny request's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench import per_request
from bench.common import RESULTS_DIR, ROOT, bridge_process, cpu_ns, encode, environment, pin, running_upstream

FAKE_KEY = "00000000-0000-0000-0000-000000000000"
CLOSED = "http://127.0.0.1:9/"
IDENTITY = "Authorization=AAD;ClientId=11111111-1111-1111-1111-111111111111"
QUIET = {"APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true", "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true"}
TARGET_COLD_MS = 150.0
TARGET_CPU_MS = 0.3
WARM_UP_REQUESTS = 40
SETTLE_SECONDS = 0.8
"""After each measured block: longer than the batch processors' 0.5 s delay, so the block's spans and events
are exported inside its window."""
BLOCKS = {"tiny": 50, "stream": 8}


def connection_string(ingestion: str) -> str:
    return f"InstrumentationKey={FAKE_KEY};IngestionEndpoint={ingestion};LiveEndpoint={ingestion}"


ARMS: dict[str, dict[str, str]] = {
    "off": {},
    "application-insights": {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(CLOSED),
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": IDENTITY,
        **QUIET,
    },
    "otlp": {"OTEL_EXPORTER_OTLP_ENDPOINT": CLOSED},
}

IMPORT_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import function_app
imported = (time.perf_counter() - start) * 1000
report = {"import_ms": imported, "sdk": "opentelemetry.sdk.trace" in sys.modules,
          "azure_monitor": "azure.monitor.opentelemetry.exporter" in sys.modules,
          "otlp": "opentelemetry.exporter.otlp.proto.http" in sys.modules}
if sys.argv[1] == "deferred":
    start = time.perf_counter()
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorLogExporter, AzureMonitorMetricExporter, AzureMonitorTraceExporter)
    made = [kind(connection_string=sys.argv[2]) for kind in
            (AzureMonitorTraceExporter, AzureMonitorMetricExporter, AzureMonitorLogExporter)]
    report["deferred_ms"] = (time.perf_counter() - start) * 1000
print(json.dumps(report))
"""

DISTRO_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import function_app
imported = (time.perf_counter() - start) * 1000
if sys.argv[1] == "distro":
    from azure.monitor.opentelemetry import configure_azure_monitor
    configure_azure_monitor(connection_string=sys.argv[2])
print(json.dumps({"import_ms": (time.perf_counter() - start) * 1000, "app_ms": imported}))
"""


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "AZURE_", "ANTHROPIC_"))}
    return {**kept, **extra}


def _fresh(python: str, script: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [python, "-c", script, *args], cwd=ROOT, env=_clean_env(env), capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"fresh interpreter failed:\n{result.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def coldstart(rounds: int, distro_python: str | None) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    distro: dict[str, list[dict[str, Any]]] = {"off": [], "distro": []}
    names = list(ARMS)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for arm in order if number % 2 == 0 else order[::-1]:
            mode = "deferred" if arm == "application-insights" else "import"
            samples[arm].append(_fresh(sys.executable, IMPORT_SCRIPT, ARMS[arm], mode, connection_string(CLOSED)))
        if distro_python is not None:
            for arm in ("off", "distro") if number % 2 == 0 else ("distro", "off"):
                distro[arm].append(_fresh(distro_python, DISTRO_SCRIPT, QUIET, arm, connection_string(CLOSED)))
    medians = {arm: statistics.median(s["import_ms"] for s in runs) for arm, runs in samples.items()}
    report: dict[str, Any] = {
        "rounds": rounds,
        "import_ms": {arm: _spread([s["import_ms"] for s in runs]) for arm, runs in samples.items()},
        "added_ms": {arm: medians[arm] - medians["off"] for arm in ARMS if arm != "off"},
        "imported": {arm: {k: runs[0][k] for k in ("sdk", "azure_monitor", "otlp")} for arm, runs in samples.items()},
        "deferred_ms": _spread([s["deferred_ms"] for s in samples["application-insights"]]),
        "target_added_ms": TARGET_COLD_MS,
    }
    if distro_python is not None:
        off, configured = (statistics.median(s["import_ms"] for s in distro[arm]) for arm in ("off", "distro"))
        report["distro"] = {"python": distro_python, "off_ms": off, "distro_ms": configured, "added_ms": configured - off}
    report["pass"] = report["added_ms"]["application-insights"] <= TARGET_COLD_MS and not any(report["imported"]["off"].values())
    return report


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


ON_PATH_SCRIPT = """
import json, sys, time
from bridge.model import Usage
from bridge.telemetry import request_log
from bridge.telemetry.request_log import RequestLog, note_attempt, note_first_events, note_route

HEADERS = {"user-agent": "claude-cli/2.1.332 (external, sdk-cli)", "x-app": "cli"}
CALLER = {"user_id": "0c5e4f3a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "user_name": "alice@contoso.example", "auth": "entra",
          "roles": "Bridge.Lead,Bridge.User"}
URL = "https://oai-test.openai.azure.com/openai/v1/chat/completions"

def one():
    record = RequestLog("req_0123456789abcdef01234567", "messages").start(HEADERS)
    record.caller, record.model, record.stream = CALLER, "claude-opus-4-8", True
    note_route("gpt-5", "BIG_MODEL", "chat")
    note_attempt(URL).answered(429)
    note_attempt(URL).answered(200)
    note_first_events()
    record.usage, record.finish_reason, record.cost_usd = Usage(1200, 340, 48000, 120), "end_turn", 0.0123
    record.emit(200)

telemetry = None
if sys.argv[1] == "on":
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult, LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from bridge.telemetry import setup
    from bridge.telemetry.deferred import AZURE_MONITOR_TEMPORALITY
    from bridge.telemetry.pipeline import assemble

    class Spans(SpanExporter):
        def export(self, spans): return SpanExportResult.SUCCESS
    class Logs(LogRecordExporter):
        def export(self, batch): return LogRecordExportResult.SUCCESS
        def shutdown(self): pass
        def force_flush(self, timeout_millis=0): return True
    class Metrics(MetricExporter):
        def export(self, data, timeout_millis=0, **kwargs): return MetricExportResult.SUCCESS
        def force_flush(self, timeout_millis=0): return True
        def shutdown(self, timeout_millis=0, **kwargs): pass

    telemetry = assemble([BatchSpanProcessor(Spans())],
                         [PeriodicExportingMetricReader(Metrics(AZURE_MONITOR_TEMPORALITY), export_interval_millis=10**9)],
                         [BatchLogRecordProcessor(Logs())])
    setup.use(telemetry)

calls = int(sys.argv[2])
for _ in range(500):
    one()
threads = time.thread_time_ns
start = threads()
for _ in range(calls):
    one()
print(json.dumps({"cpu_us": (threads() - start) / calls / 1000}))
"""


def on_path(calls: int, blocks: int) -> dict[str, Any]:
    """CPU of the request's own thread per record, off and on, in `blocks` alternating fresh processes."""
    samples: dict[str, list[float]] = {"off": [], "on": []}
    for number in range(blocks):
        for arm in ("off", "on") if number % 2 == 0 else ("on", "off"):
            samples[arm].append(_fresh(sys.executable, ON_PATH_SCRIPT, {}, arm, str(calls))["cpu_us"])
    off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
    return {
        "calls": calls,
        "blocks": blocks,
        "cpu_us": {arm: _spread(values) for arm, values in samples.items()},
        "added_ms": (on - off) / 1000,
        "target_added_ms": TARGET_CPU_MS,
        "pass": (on - off) / 1000 <= TARGET_CPU_MS,
    }


class _Ingestion(BaseHTTPRequestHandler):
    """Azure Monitor's ingestion endpoint (and an OTLP collector), accepting everything."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = b'{"itemsReceived": 0, "itemsAccepted": 0, "errors": []}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@contextmanager
def _ingestion() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingestion)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def warm_up(client: httpx.Client, proxies: Sequence[per_request.Proxy], upstream: Any, case: per_request.Case) -> None:
    """Requests to every bridge, then a pause: the exporting bridge makes Azure Monitor's exporter on its first
    export (about 170 ms of CPU once, `bench.telemetry` part 1), which must not land in a measured block."""
    spec = per_request.upstream_reply(case, "chat")
    upstream.answer_with(**spec)
    per_request.measure(client, proxies, case, WARM_UP_REQUESTS, per_request.expected_answer(spec))
    time.sleep(2.0)


def settled_cpu(
    client: httpx.Client, proxies: Sequence[per_request.Proxy], case: per_request.Case, count: int, spec: dict[str, Any]
) -> dict[str, list[float]]:
    """CPU ms per request of each bridge, in alternating blocks whose window runs on `SETTLE_SECONDS` after the
    block's last request, so the telemetry the block made is exported (and counted) inside its own window."""
    content, expected = encode(case.body), per_request.expected_answer(spec)
    block = BLOCKS[case.key]
    samples: dict[str, list[float]] = {proxy.key: [] for proxy in proxies}
    for number in range(max(1, count // block)):
        for proxy in proxies if number % 2 == 0 else proxies[::-1]:
            before = cpu_ns(proxy.pids)
            for _ in range(block):
                per_request.call(client, proxy, content, case.streams, expected)
            time.sleep(SETTLE_SECONDS)
            samples[proxy.key].append((cpu_ns(proxy.pids) - before) / block / 1e6)
    return samples


def bridge_processes(rounds: Sequence[int]) -> dict[str, Any]:
    """`bench.per_request`'s tiny and stream cases, telemetry off (twice) and exporting to Application Insights."""
    cases = [case for case in per_request.cases() if case.key in ("tiny", "stream")]
    proxy_cores, other_cores = per_request.cores()
    results: dict[str, Any] = {}
    with per_request.pinned_self(other_cores), ExitStack() as stack:
        ingestion = stack.enter_context(_ingestion())
        exporting = {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(ingestion),
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OTEL_BLRP_SCHEDULE_DELAY": "500",
            **QUIET,
        }
        upstream = stack.enter_context(running_upstream("--text", "warming up"))
        arms = {"off": {}, "off-again": {}, "application-insights": exporting}
        proxies = []
        for key, settings in arms.items():
            bridge = stack.enter_context(bridge_process(upstream, **per_request.TIERS, **settings))
            proxies.append(per_request.Proxy(key, key, bridge.url, [bridge.process.pid], strict=True))
        for proxy in proxies:
            pin(proxy.pids, proxy_cores)
        client = stack.enter_context(httpx.Client(timeout=300))
        warm_up(client, proxies, upstream, cases[0])
        for case, count in zip(cases, rounds, strict=True):
            spec = per_request.upstream_reply(case, "chat")
            upstream.answer_with(**spec)
            measured = settled_cpu(client, proxies, case, count, spec)
            mean = {key: statistics.mean(values) for key, values in measured.items()}
            results[case.key] = {
                "label": case.label,
                "requests": count,
                "cpu_ms": {key: _spread(values) for key, values in measured.items()},
                "cpu_ms_mean": mean,
                "noise_floor_ms": mean["off-again"] - mean["off"],
                "added_ms": mean["application-insights"] - mean["off"],
            }
    tiny, stream = results["tiny"]["added_ms"], results["stream"]["added_ms"]
    return {
        "cases": results,
        "per_chunk_us": (stream - tiny) * 1000 / per_request.STREAM_CHUNKS,
        "pass": tiny <= TARGET_CPU_MS,
    }


def render(report: dict[str, Any]) -> str:
    cold = report["coldstart"]
    lines = [f"1. cold start, `import function_app` ({cold['rounds']} interleaved fresh interpreters), median ms"]
    for arm, spread in cold["import_ms"].items():
        added = f"  added {cold['added_ms'][arm]:+6.1f}" if arm in cold["added_ms"] else ""
        lines.append(
            f"   {arm:22} {spread['median']:7.1f} [{spread['min']:.0f}-{spread['max']:.0f}]{added}   imports {cold['imported'][arm]}"
        )
    lines.append(f"   deferred to the first export (export thread): {cold['deferred_ms']['median']:.1f} ms")
    if "distro" in cold:
        distro = cold["distro"]
        lines.append(
            f"   distro (configure_azure_monitor): {distro['distro_ms']:.1f} vs {distro['off_ms']:.1f}: added {distro['added_ms']:+.1f}"
        )
    lines.append(
        f"   target: added ≤ {cold['target_added_ms']:.0f} ms with Application Insights: {'PASS' if cold['pass'] else 'MISS'}"
    )
    path = report["on_path"]
    lines.append(f"2. on the request's path, CPU µs per record ({path['calls']} records x {path['blocks']} processes)")
    for arm, spread in path["cpu_us"].items():
        lines.append(f"   {arm:5} {spread['median']:7.1f} [{spread['min']:.1f}-{spread['max']:.1f}]")
    lines.append(
        f"   added {path['added_ms'] * 1000:.1f} µs (target ≤ {path['target_added_ms'] * 1000:.0f}): {'PASS' if path['pass'] else 'MISS'}"
    )
    process = report["process"]
    lines.append("3. bridge process CPU per request, ms (run mean, export thread included)")
    for case in process["cases"].values():
        cells = "  ".join(f"{arm} {value:.3f}" for arm, value in case["cpu_ms_mean"].items())
        lines.append(f"   {case['label']:32} {cells}  added {case['added_ms']:+.3f} (noise {case['noise_floor_ms']:+.3f})")
    lines.append(f"   per stream chunk: {process['per_chunk_us']:+.2f} µs")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9, help="fresh interpreters per cold-start arm")
    parser.add_argument("--calls", type=int, default=5000, help="records per on-path process")
    parser.add_argument("--blocks", type=int, default=6, help="on-path processes per arm")
    parser.add_argument("--requests", type=int, nargs=2, default=(400, 48), help="requests per bridge: tiny, stream")
    parser.add_argument("--distro-python", help="an interpreter with azure-monitor-opentelemetry installed (cold-start arm)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "telemetry.json")
    args = parser.parse_args()
    report = {
        "environment": environment(),
        "coldstart": coldstart(args.rounds, args.distro_python),
        "on_path": on_path(args.calls, args.blocks),
        "process": bridge_processes(args.requests),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))


if __name__ == "__main__":
    main()
