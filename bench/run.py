"""Run the benchmark: `python -m bench.run [--quick | --smoke]` from the repository root.

Prints a table and writes bench/results/latest.json.  See bench/README.md for
what each figure means.  Exit status 0 even when a target is missed: targets
are read from the report, not asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import coldstart, latency, per_request, throughput
from bench.common import RESULTS_DIR, TRAFFIC, TRAFFIC_DIR, environment, write_report


@dataclass(frozen=True)
class Plan:
    rounds: int
    warmup: int
    chunks: int
    translate_repeats: int
    http_chunks: int
    http_repeats: int
    coldstart_repeats: int
    per_request_rounds: tuple[int, int, int, int]
    """Requests per proxy in the per-request CPU cases: tiny, claude_code, long_session, stream."""


FULL = Plan(
    rounds=300,
    warmup=30,
    chunks=20_000,
    translate_repeats=5,
    http_chunks=20_000,
    http_repeats=3,
    coldstart_repeats=5,
    per_request_rounds=(400, 200, 60, 24),
)
QUICK = Plan(
    rounds=40,
    warmup=10,
    chunks=5_000,
    translate_repeats=2,
    http_chunks=5_000,
    http_repeats=1,
    coldstart_repeats=3,
    per_request_rounds=(10, 6, 2, 2),
)
SMOKE = Plan(
    rounds=3,
    warmup=1,
    chunks=500,
    translate_repeats=1,
    http_chunks=500,
    http_repeats=1,
    coldstart_repeats=1,
    per_request_rounds=(2, 2, 1, 1),
)
"""Every section once, as little as each can do: that the benchmark runs (the tests), not what it measures."""
PLANS = {"full": FULL, "quick": QUICK, "smoke": SMOKE}


def _ok(flag: bool) -> str:
    return "PASS" if flag else "MISS"


def render(report: dict[str, Any]) -> str:
    lat, tin, http, cold = report["latency"], report["translation"], report["stream_http"], report["coldstart"]
    env = report["environment"]
    ms = lat["ms"]
    lines = [
        f"claude-azure-bridge bench ({report['mode']}, {report['elapsed_s']:.1f} s) — python {env['python']}, "
        f"{env['cpus']} cpus, load {env['loadavg_1m']}, commit {env['commit']}",
        "",
        f"1. Non-streaming latency, hello-02 ({lat['request']['anthropic_bytes'] // 1000} KB, "
        f"max_tokens {lat['request']['max_tokens']}), "
        f"{lat['rounds']} interleaved rounds after {lat['warmup_rounds']} warm-up, ms",
        f"   {'arm':<48}{'p50':>8}{'p90':>8}{'p99':>8}",
    ]
    labels = {
        "bridge": "bridge   (client → bridge → fake)",
        "direct": "direct   (client → fake, stream=false) [base]",
        "direct-stream": "direct   (client → fake, stream=true)",
    }
    for arm, label in labels.items():
        lines.append(f"   {label:<48}{ms[arm]['p50']:>8.2f}{ms[arm]['p90']:>8.2f}{ms[arm]['p99']:>8.2f}")
    lines += [
        f"   added p50 vs direct non-streaming: {lat['added_p50_ms']:.2f} ms   target < {lat['target_added_p50_ms']:.0f} ms   "
        f"{_ok(lat['pass'])}   (vs direct streaming: {lat['added_p50_vs_direct_stream_ms']:.2f} ms)",
        f"   bridge CPU per request: {lat['bridge_cpu_ms_per_request']:.2f} ms   "
        f"upstream connections opened per request: {lat['upstream_connections_per_request']:.2f} (0 = keep-alive reused)",
        "",
        f"2. Stream translation, {tin['chunks']:,} chunks ({tin['text_chunks']:,} text + "
        f"{tin['argument_chunks']:,} tool-argument "
        f"fragments, {tin['tool_calls']} calls, {tin['bytes_in'] / 1e6:.1f} MB)",
        f"   in process, one event per read:  {tin['per_event']['chunks_per_cpu_second']:>10,.0f} chunks/CPU-s "
        f"({tin['per_event']['us_per_chunk']:.1f} µs/chunk)   "
        f"target ≥ {tin['target_chunks_per_cpu_second']:,}   {_ok(tin['pass'])}",
        f"   in process, 64 KiB reads:        {tin['read_64k']['chunks_per_cpu_second']:>10,.0f} chunks/CPU-s "
        f"({tin['read_64k']['us_per_chunk']:.1f} µs/chunk)",
        f"   over HTTP ({http['chunks']:,} chunks, median of {http['repeats']}):",
        f"     wall:                          {http['chunks_per_wall_second']:>10,.0f} chunks/s   "
        f"({http['median_wall_s'] * 1000:.0f} ms)",
        f"     bridge process CPU:            {http['chunks_per_bridge_cpu_second'] or 0:>10,.0f} chunks/bridge-CPU-s "
        f"({http['median_bridge_cpu_s'] * 1000:.0f} ms CPU; fake upstream {http['median_upstream_cpu_s'] * 1000:.0f} ms, "
        f"client {http['median_client_cpu_s'] * 1000:.0f} ms)",
        "",
        "3. Cold start",
        f"   import function_app (fresh interpreter, median of {cold['import_function_app_ms']['n']}): "
        f"{cold['import_function_app_ms']['median']:.0f} ms, of which the bridge's own "
        f"{cold['bridge_share_ms']['median']:.0f} ms   target < {cold['target_import_ms']:.0f} ms   {_ok(cold['pass'])}",
        "   heaviest imports: "
        + ", ".join(f"{i['module']} {i['cumulative_ms']:.0f}" for i in cold["heaviest_imports"][:5])
        + " ms",
        f"   count_tokens in process (fresh interpreter): first {cold['count_tokens_in_process_ms']['first']:.0f} ms "
        f"(vocabulary load), warm {cold['count_tokens_in_process_ms']['warm']:.1f} ms",
        f"   count_tokens over HTTP (hello-02, {lat['count_tokens_http_ms']['input_tokens']:,} tokens): "
        f"first {lat['count_tokens_http_ms']['first']:.0f} ms, second {lat['count_tokens_http_ms']['second']:.1f} ms",
        "",
        "4. Memory of the bridge process",
        f"   RSS idle {lat['memory_kib']['idle_rss'] / 1024:.1f} MiB, peak after latency run "
        f"{lat['memory_kib']['peak_rss_after_latency_run'] / 1024:.1f} MiB, peak after count_tokens "
        f"{lat['memory_kib']['peak_rss_after_count_tokens'] / 1024:.1f} MiB",
        "",
        *per_request.render(report["per_request"], 5),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="Measure the bridge against its speed targets.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer rounds and chunks (< 30 s)")
    size.add_argument("--smoke", action="store_true", help="every section once, as little as it can: the figures mean nothing")
    parser.add_argument("--output", default=str(RESULTS_DIR / "latest.json"), help="where to write the JSON report")
    parser.add_argument(
        "--peer-command",
        help="shell command that starts another proxy to measure beside the bridge in section 5 "
        "(it gets the fake upstream and its port in BENCH_* variables: see bench/README.md)",
    )
    parser.add_argument("--peer-name", default="peer", help="the peer's name in the report")
    parser.add_argument("--only-per-request", action="store_true", help="run section 5 only")
    args = parser.parse_args(argv)
    if not TRAFFIC.exists():
        parser.exit(
            2,
            f"python -m bench.run: the benchmark replays recorded Claude Code requests from {TRAFFIC_DIR}, the team's "
            "shared traffic corpus beside the checkout (not part of this repository); put it there to run the bench\n",
        )
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = PLANS[mode]
    started = time.perf_counter()
    report: dict[str, Any] = {"mode": mode, "plan": asdict(plan), "environment": environment()}
    if not args.only_per_request:
        report["latency"] = latency.run(plan.rounds, plan.warmup)
        report["translation"] = throughput.in_process(plan.chunks, plan.translate_repeats)
        report["stream_http"] = throughput.over_http(plan.http_chunks, plan.http_repeats)
        report["coldstart"] = coldstart.run(plan.coldstart_repeats)
    report["per_request"] = per_request.run(plan.per_request_rounds, args.peer_command, args.peer_name)
    report["elapsed_s"] = time.perf_counter() - started
    sections = [k for k in ("latency", "translation", "coldstart", "per_request") if k in report]
    report["targets_met"] = all(report[k]["pass"] for k in sections)
    print(render(report) if not args.only_per_request else "\n".join(per_request.render(report["per_request"], 5)))
    write_report(report, args.output)


if __name__ == "__main__":
    main()
