"""The figures the Function App's instance sizing is chosen from: `python -m bench.sizing`.

1. Concurrent streams.  `python -m bridge` in front of `bench.paced_upstream`, an Azure upstream that
   answers every request with 100 text deltas 50 ms apart (a 5-second answer, as a model streams it).
   At each level N (1, 16, 64, 256, 500 by default) N clients post the recorded 51 KB Claude Code
   request (2.1.332 `agent-05`, streamed) at once and read the bridge's SSE to `message_stop`.
   Reported per level: streams completed, time to first byte and to the end (p50 / p99), the bridge
   process's peak RSS (VmRSS sampled every 20 ms) above its idle RSS, and its CPU (schedstat of every
   thread) over the level; both per stream.  Levels run in rising order in one process, so each
   peak includes what earlier levels left allocated (Python keeps freed memory): read the per-stream
   figures of the large levels.
2. The worker's cold start.  In a fresh `python -I` interpreter, as the Functions worker loads the
   app: `import azure.functions` (the worker's own import), then `function_app` imported by name
   from the function app directory and its `get_functions()`.  Twice, interleaved: the app as it
   ships (it imports the HTTP-streaming extension: the fix of issue 17) and the same file without
   that import (what shipped before, which the worker could not index), plus the extension alone.
   Median of N processes each, and the interpreter's peak RSS (VmHWM) after loading.

Prints a table and writes bench/results/sizing.json (`--output` elsewhere).  Needs
../shared/claude-code-traffic beside the checkout.  `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    RESULTS_DIR,
    ROOT,
    Upstream,
    bridge_process,
    cpu_ns,
    environment,
    memory_kib,
    percentiles,
    serving_child,
    write_report,
)
from tests.support.bridge import CLIENT_TOKEN

REQUEST = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.332" / "agent-05.json"
LEVELS = (1, 16, 64, 256, 500)
QUICK_LEVELS = (1, 8)
EXTENSION_IMPORT = "import azurefunctions.extensions.http.fastapi"

LOAD_AS_WORKER = """
import importlib, json, sys, time
start = time.perf_counter()
import azure.functions
loaded = time.perf_counter()
sys.path[:0] = sys.argv[1:]
functions = importlib.import_module("function_app").app.get_functions()
done = time.perf_counter()
print(json.dumps({"azure_functions_ms": (loaded - start) * 1000, "function_app_ms": (done - loaded) * 1000,
                  "total_ms": (done - start) * 1000, "functions": len(functions),
                  "max_rss_kib": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])}))
"""
EXTENSION_ALONE = f"""
import json, time
start = time.perf_counter()
{EXTENSION_IMPORT}
print(json.dumps({{"total_ms": (time.perf_counter() - start) * 1000,
                  "max_rss_kib": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])}}))
"""


class PeakRss:
    """The highest VmRSS of a process while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, memory_kib(self.pid)["VmRSS"])
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, memory_kib(self.pid)["VmRSS"])


async def _one_stream(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    first: float | None = None
    tail = b""
    async with session.post(url + "/v1/messages", data=body, headers=headers) as response:
        async for chunk in response.content.iter_any():
            first = first or time.perf_counter()
            tail = (tail + chunk)[-64:]
        ended = time.perf_counter()
        return {
            "status": response.status,
            "complete": b"message_stop" in tail or b'"type":"message_stop"' in tail,
            "ttfb_s": (first or ended) - started,
            "total_s": ended - started,
        }


async def _level(url: str, n: int, body: bytes, headers: dict[str, str]) -> list[dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return list(await asyncio.gather(*(_one_stream(session, url, body, headers) for _ in range(n))))


def request_body() -> tuple[bytes, dict[str, str]]:
    recorded = json.loads(REQUEST.read_text())
    body = json.dumps(recorded["body"], separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": CLIENT_TOKEN}
    return body, headers


def concurrent_streams(levels: tuple[int, ...], chunks: int, interval: float) -> dict[str, Any]:
    body, headers = request_body()
    paced = serving_child("bench.paced_upstream", str(chunks), str(interval))
    with paced as (url, process), bridge_process(Upstream(url, "bench-key", process)) as bridge:
        pid = bridge.pid
        asyncio.run(_level(bridge.url, 3, body, headers))  # warm: connections, first-request work
        idle_kib = memory_kib(pid)["VmRSS"]
        results = []
        for n in levels:
            cpu_before = cpu_ns([pid])
            started = time.perf_counter()
            with PeakRss(pid) as peak:
                streams = asyncio.run(_level(bridge.url, n, body, headers))
            wall = time.perf_counter() - started
            cpu_ms = (cpu_ns([pid]) - cpu_before) / 1e6
            completed = sum(1 for s in streams if s["status"] == 200 and s["complete"])
            added_mib = (peak.peak_kib - idle_kib) / 1024
            results.append(
                {
                    "streams": n,
                    "completed": completed,
                    "wall_s": wall,
                    "ttfb_s": percentiles([s["ttfb_s"] for s in streams]),
                    "total_s": percentiles([s["total_s"] for s in streams]),
                    "peak_rss_mib": peak.peak_kib / 1024,
                    "added_rss_mib": added_mib,
                    "mib_per_stream": added_mib / n,
                    "cpu_ms": cpu_ms,
                    "cpu_ms_per_stream": cpu_ms / n,
                    "cpu_cores_busy": cpu_ms / 1000 / wall,
                }
            )
            time.sleep(1)
    return {
        "request": {"file": str(REQUEST.relative_to(ROOT.parent)), "bytes": len(body)},
        "upstream": {"chunks": chunks, "interval_s": interval, "answer_s": chunks * interval},
        "idle_rss_mib": idle_kib / 1024,
        "levels": results,
    }


def _fresh(script: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-I", "-c", script, *args], cwd="/", capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"fresh interpreter failed:\n{result.stderr[-2000:]}")
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def cold_start(repeats: int) -> dict[str, Any]:
    """The worker's load of function_app with the streaming extension (as shipped) and without it (before the fix)."""
    shipped = (ROOT / "function_app.py").read_text()
    assert EXTENSION_IMPORT in shipped, "function_app.py no longer imports the extension: update bench.sizing"
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as folder:
        before = Path(folder) / "function_app.py"
        before.write_text("\n".join(line for line in shipped.splitlines() if not line.startswith(EXTENSION_IMPORT)) + "\n")
        runs: dict[str, list[dict[str, Any]]] = {"with_extension": [], "without_extension": [], "extension_alone": []}
        for _ in range(repeats):
            runs["with_extension"].append(_fresh(LOAD_AS_WORKER, str(ROOT)))
            runs["without_extension"].append(_fresh(LOAD_AS_WORKER, folder, str(ROOT)))
            runs["extension_alone"].append(_fresh(EXTENSION_ALONE))
    report: dict[str, Any] = {"repeats": repeats}
    for name, samples in runs.items():
        report[name] = {
            key: statistics.median(sample[key] for sample in samples)
            for key in samples[0]
            if isinstance(samples[0][key], (int, float))
        }
    report["extension_cost_ms"] = report["with_extension"]["total_ms"] - report["without_extension"]["total_ms"]
    report["extension_cost_mib"] = (report["with_extension"]["max_rss_kib"] - report["without_extension"]["max_rss_kib"]) / 1024
    return report


def render(report: dict[str, Any]) -> str:
    streams, cold = report["streams"], report["cold_start"]
    env = report["environment"]
    lines = [
        f"claude-azure-bridge sizing bench ({report['elapsed_s']:.0f} s) — python {env['python']}, {env['cpus']} cpus, "
        f"load {env['loadavg_1m']}, commit {env['commit']}",
        "",
        f"1. Concurrent streams: {streams['request']['file']} ({streams['request']['bytes'] // 1000} KB), upstream "
        f"{streams['upstream']['chunks']} deltas {streams['upstream']['interval_s'] * 1000:.0f} ms apart; bridge idle RSS "
        f"{streams['idle_rss_mib']:.0f} MiB",
        f"   {'streams':>7} {'done':>5} {'ttfb p50':>9} {'ttfb p99':>9} {'end p50':>8} {'end p99':>8} "
        f"{'peak RSS':>9} {'MiB/stream':>11} {'CPU ms/stream':>14} {'cores busy':>11}",
    ]
    for level in streams["levels"]:
        lines.append(
            f"   {level['streams']:>7} {level['completed']:>5} {level['ttfb_s']['p50']:>8.2f}s {level['ttfb_s']['p99']:>8.2f}s "
            f"{level['total_s']['p50']:>7.2f}s {level['total_s']['p99']:>7.2f}s {level['peak_rss_mib']:>6.0f} MiB "
            f"{level['mib_per_stream']:>11.3f} {level['cpu_ms_per_stream']:>14.1f} {level['cpu_cores_busy']:>11.2f}"
        )
    with_ext, without, alone = cold["with_extension"], cold["without_extension"], cold["extension_alone"]
    lines += [
        "",
        f"2. The worker's load of function_app, fresh interpreter, median of {cold['repeats']}",
        f"   {'':<36}{'azure.functions':>16}{'function_app':>14}{'total':>9}{'peak RSS':>10}",
        f"   {'with the extension (as shipped)':<36}{with_ext['azure_functions_ms']:>13.0f} ms{with_ext['function_app_ms']:>11.0f} ms"
        f"{with_ext['total_ms']:>6.0f} ms{with_ext['max_rss_kib'] / 1024:>6.0f} MiB",
        f"   {'without it (before the fix)':<36}{without['azure_functions_ms']:>13.0f} ms{without['function_app_ms']:>11.0f} ms"
        f"{without['total_ms']:>6.0f} ms{without['max_rss_kib'] / 1024:>6.0f} MiB",
        f"   {'the extension alone':<36}{'':>16}{'':>14}{alone['total_ms']:>6.0f} ms{alone['max_rss_kib'] / 1024:>6.0f} MiB",
        f"   the fix costs a cold start {cold['extension_cost_ms']:.0f} ms and {cold['extension_cost_mib']:.0f} MiB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing", description="Memory and CPU per stream; cold start.")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent streams per level, rising")
    parser.add_argument("--chunks", type=int, default=100, help="text deltas of each upstream answer")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between the upstream's deltas")
    parser.add_argument("--repeats", type=int, default=7, help="fresh interpreters per cold-start variant")
    parser.add_argument("--quick", action="store_true", help="levels 1 and 8, 10 deltas, 2 repeats (a smoke run)")
    parser.add_argument("--output", default=str(RESULTS_DIR / "sizing.json"))
    args = parser.parse_args(argv)
    if not REQUEST.exists():
        parser.exit(2, f"python -m bench.sizing replays {REQUEST}, the team's shared traffic corpus beside the checkout\n")
    levels = QUICK_LEVELS if args.quick else tuple(int(n) for n in args.levels.split(","))
    chunks, repeats = (10, 2) if args.quick else (args.chunks, args.repeats)
    started = time.perf_counter()
    report: dict[str, Any] = {"environment": environment(), "mode": "quick" if args.quick else "full"}
    report["streams"] = concurrent_streams(levels, chunks, args.interval)
    report["cold_start"] = cold_start(repeats)
    report["elapsed_s"] = time.perf_counter() - started
    print(render(report))
    write_report(report, args.output)


if __name__ == "__main__":
    main()
