"""Shared pieces: the fake upstream and bridge processes, /proc readings and pinning, percentiles, the traffic sample."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.support.bridge import CLIENT_TOKEN, QUICK_RETRIES, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import DEFAULT_API_KEY

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
TRAFFIC_DIR = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.197"
TRAFFIC = TRAFFIC_DIR / "hello-02.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAX_TOKENS = 4096
"""max_tokens of the non-streaming sample: the Anthropic SDKs refuse non-streaming calls whose
max_tokens could take over 10 minutes (64000 does), and 4096 is what such callers use."""


@dataclass
class Upstream:
    url: str
    api_key: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def answer_with(self, **spec: Any) -> None:
        """Change the fake's reply from now on (`bench.upstream.reply_from`: text + pieces, or stream_chunks)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError(f"bench.upstream did not take the reply {spec} (exit code {self.process.poll()})")


@contextmanager
def serving_child(module: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`python -m MODULE ARGS` in a child process that prints its URL first and serves until stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"{module} did not start (exit code {process.poll()})")
        yield url, process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_upstream(*args: str) -> Iterator[Upstream]:
    """`python -m bench.upstream ARGS` in a child process; yields once it serves."""
    with serving_child("bench.upstream", *args) as (url, process):
        yield Upstream(url, DEFAULT_API_KEY, process)


def write_report(report: dict[str, Any], output: str | Path) -> None:
    """The JSON report at `output` (its folder made), and a line saying where."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


def upstream_env(upstream: Upstream, **overrides: str) -> dict[str, str]:
    """The bridge's environment for `upstream`: the tests' `bridge_env` (tiers, client token, key), with the
    bridge's own retry timing."""
    fake = SimpleNamespace(url=upstream.url, api_key=upstream.api_key)
    env = bridge_env(fake, **overrides)  # type: ignore[arg-type]
    return {name: value for name, value in env.items() if name not in QUICK_RETRIES or name in overrides}


@contextmanager
def bridge_process(upstream: Upstream, interpreter_args: Sequence[str] = (), **overrides: str) -> Iterator[RunningBridge]:
    """`python -m bridge` in front of `upstream`, started exactly as the tests start it (after `interpreter_args`)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-bridge-") as folder,
        running_bridge(
            upstream_env(upstream, **overrides), Path(folder) / "bridge.log", interpreter_args=interpreter_args
        ) as bridge,
    ):
        yield bridge


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (a peer started through a shell, say), from the ppid in /proc/*/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree = [pid]
    for member in tree:
        tree.extend(child for child, parent in parents.items() if parent == member)
    return tree


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def pin(pids: Iterable[int], cores: set[int]) -> None:
    """Bind every thread of `pids` to `cores` (threads started later inherit it from the thread that starts them)."""
    for pid in pids:
        for tid in _threads(pid):
            with suppress(OSError):  # a thread that just ended
                os.sched_setaffinity(tid, cores)


def cpu_ns(pids: Iterable[int]) -> int:
    """Nanoseconds on CPU of every live thread of `pids` (the scheduler's own clock, /proc/<pid>/task/*/schedstat).

    Finer than `cpu_seconds`' 10 ms ticks; a thread that ends takes its time with it, so
    compare with `cpu_seconds` over a whole run.
    """
    total = 0
    for pid in pids:
        for tid in _threads(pid):
            try:
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
    return total


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def connections_to(port: int) -> set[int]:
    """Local ports of every IPv4 TCP socket on this machine whose remote port is `port`, in any state.

    Closed client sockets linger in TIME_WAIT for a minute, so the set only grows
    within a short phase: new members are connections opened during it.
    """
    ports: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(remote.rsplit(":", 1)[1], 16) == port:
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 (inclusive method), mean and count of `samples`."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        only = ordered[0]
        return {"p50": only, "p90": only, "p99": only, "mean": only, "n": 1}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "mean": statistics.fmean(ordered), "n": len(ordered)}


def traffic_body() -> dict[str, Any]:
    """The 76 KB Claude Code request (hello-02) as a non-streaming request."""
    body: dict[str, Any] = json.loads(TRAFFIC.read_text())["body"]
    body["stream"] = False
    body["max_tokens"] = MAX_TOKENS
    return body


def encode(body: Any) -> bytes:
    """Compact JSON, as clients send it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def client_headers() -> dict[str, str]:
    """What Claude Code sends the bridge (hello-02's headers, minus transport ones), with the bridge's token."""
    recorded = json.loads(TRAFFIC.read_text())["headers"]
    skip = {"content-length", "connection", "accept-encoding", "host"}
    headers = {k: v for k, v in recorded.items() if k.lower() not in skip}
    headers["x-api-key"] = CLIENT_TOKEN
    return headers


def environment() -> dict[str, Any]:
    load = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    status = subprocess.run(["git", "status", "--porcelain", "bridge"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = bool(status.strip())
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_1m": round(load[0], 2),
        "commit": commit + ("+dirty(bridge/)" if dirty else ""),
    }
