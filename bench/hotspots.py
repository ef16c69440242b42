"""Where the bridge process spends its CPU in one per-request case: a profile of the warm process.

    python -m bench.hotspots                      # tiny case, chat tier, 1,000 requests, cProfile
    python -m bench.hotspots --case stream --api responses --requests 100 --top 30
    python -m bench.hotspots --sampler py-spy     # sampling instead (py-spy must be installed)

The fake upstream and the bridge are started as in section 5 (`bench.per_request`),
the bridge warmed up, then profiled for the measured requests only:

* `cprofile` (default): the bridge runs under `bench.profiled`, switched on and off by
  signals, timing the event-loop thread's CPU.  Exact call counts, but every Python call
  pays the profiler's overhead (the process runs ~5x slower), so code made of many small
  calls looks heavier than it is.
* `py-spy`: `py-spy record --nonblocking --gil` samples the untouched process 1,000 times
  a second while its event-loop thread holds the GIL.  Unbiased shares, no call counts;
  system calls made with the GIL released (socket reads and writes, epoll) are left out,
  which is most of the process's system time (a few % of its CPU here).

Prints the top functions by cumulative and by self time (ms per request) and the self
time per layer: the top-level package (uvicorn, starlette, httpx, httpcore, h11, anyio,
json, contextlib, ...; asyncio with selectors) or, for the bridge, its module.  Time in C
functions counts in the layer of the Python code that called them.  Read the shares: the
absolute figures carry the profiler's cost.
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, bridge_process, cpu_ns, encode, running_upstream
from bench.per_request import RESPONSES_TIERS, TIERS, Proxy, call, cases, expected_answer, upstream_reply

SAMPLES_PER_SECOND = 1000
EVENT_LOOP = "asyncio (event loop, sockets)"
PREFIXES = (
    re.compile(r"^.*site-packages/"),
    re.compile(r"^.*/lib/python3\.\d+/"),
    re.compile("^" + re.escape(str(ROOT) + os.sep)),
)


@dataclass
class Profile:
    """Seconds per function (self and cumulative), calls where known, self seconds per layer."""

    requests: int
    self_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cumulative_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=dict)
    layers: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def relative(filename: str) -> str:
    """A source path relative to site-packages, the standard library or the repository ("h11/_readers.py")."""
    frozen = re.match(r"<frozen (\S+)>", filename)
    if frozen:
        return frozen.group(1) + ".py"
    for prefix in PREFIXES:
        if prefix.match(filename):
            return prefix.sub("", filename, count=1)
    return filename


def layer(path: str) -> str:
    """The layer of a relative source path: the bridge's module, or the top-level package."""
    if path.startswith("bridge/"):
        return path.removesuffix(".py").replace("/", ".")
    top = path.split("/", 1)[0].removesuffix(".py")
    return EVENT_LOOP if top in ("asyncio", "selectors") else top


def from_cprofile(path: Path, requests: int) -> Profile:
    profile = Profile(requests)
    stats: dict[tuple[str, int, str], Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]

    def label(function: tuple[str, int, str]) -> str:
        filename, line, name = function
        return name if filename == "~" else f"{name} ({relative(filename)}:{line})"

    for function, (_cc, calls, tottime, cumtime, callers) in stats.items():
        name = label(function)
        profile.self_s[name] += tottime
        profile.cumulative_s[name] += cumtime
        profile.calls[name] = profile.calls.get(name, 0) + calls
        if function[0] != "~":
            profile.layers[layer(relative(function[0]))] += tottime
            continue
        shares = {caller: entry[2] for caller, entry in callers.items() if caller[0] != "~"}
        whole = sum(shares.values())
        for caller, share in shares.items():
            profile.layers[layer(relative(caller[0]))] += tottime * share / whole
        if not shares:
            profile.layers["C, called from C"] += tottime
    return profile


def from_py_spy(path: Path, requests: int) -> Profile:
    """`py-spy record --format raw` output: one `frame;frame;... count` line per distinct stack."""
    profile = Profile(requests)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        seconds = int(count) / SAMPLES_PER_SECOND
        frames = []
        for frame in stack.split(";"):
            parsed = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
            name, source = (parsed.group(1), relative(parsed.group(2))) if parsed else (frame, "?")
            frames.append((f"{name} ({source})", source))
        for name in {name for name, _ in frames}:
            profile.cumulative_s[name] += seconds
        leaf, source = frames[-1]
        profile.self_s[leaf] += seconds
        profile.layers[layer(source)] += seconds
    return profile


def render(profile: Profile, top: int) -> str:
    per = 1000 / profile.requests
    total = sum(profile.layers.values())
    lines = [f"profiled: {profile.requests} requests, {total * per:.2f} ms of profiled CPU per request"]
    for title, table in (("cumulative", profile.cumulative_s), ("self", profile.self_s)):
        lines += ["", f"top {top} by {title} time:  ms/request  calls/request  function"]
        for name, seconds in sorted(table.items(), key=lambda item: item[1], reverse=True)[:top]:
            calls = f"{profile.calls[name] / profile.requests:>13.1f}" if name in profile.calls else f"{'':>13}"
            lines.append(f"   {seconds * per:>30.3f}  {calls}  {name}")
    lines += ["", "self time by layer:                  ms/request   share"]
    for name, seconds in sorted(profile.layers.items(), key=lambda item: item[1], reverse=True):
        if seconds / total >= 0.002:
            lines.append(f"   {name:<36}{seconds * per:>8.3f}   {seconds / total:>6.1%}")
    return "\n".join(lines)


@contextmanager
def _sampling(sampler: str, pid: int, output: Path) -> Iterator[None]:
    """Profile process `pid` for the block; the stats end up in `output`."""
    if sampler == "cprofile":
        os.kill(pid, signal.SIGUSR1)
        yield
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while not output.exists():  # bench.profiled writes it whole, by a rename
            if time.monotonic() > deadline:
                raise RuntimeError("the profiled bridge wrote no stats")
            time.sleep(0.1)
        return
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    rate = str(SAMPLES_PER_SECOND)
    command = [spy, "record", "--pid", str(pid), "--rate", rate, "--format", "raw", "--output", str(output)]
    command += ["--nonblocking", "--gil"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)  # attached
    yield
    process.send_signal(signal.SIGINT)
    log, _ = process.communicate(timeout=60)
    if not output.exists():
        raise RuntimeError(f"py-spy wrote nothing:\n{log}")


def main(argv: list[str] | None = None) -> None:
    chosen = {case.key: case for case in cases()}
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description="Profile the bridge process in one case.")
    parser.add_argument("--case", choices=sorted(chosen), default="tiny")
    parser.add_argument("--api", choices=("chat", "responses"), default="chat")
    parser.add_argument("--sampler", choices=("cprofile", "py-spy"), default="cprofile")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--output", help="keep the raw profile here (pstats, or py-spy's collapsed stacks)")
    args = parser.parse_args(argv)
    case = chosen[args.case]
    spec = upstream_reply(case, args.api)
    expected = expected_answer(spec)
    content = encode(case.body)
    with tempfile.TemporaryDirectory(prefix="bench-hotspots-") as folder:
        output = Path(args.output or Path(folder) / "bridge.profile").resolve()
        output.unlink(missing_ok=True)
        launcher = ("-m", "bench.profiled", "--output", str(output)) if args.sampler == "cprofile" else ()
        tiers = TIERS if args.api == "chat" else RESPONSES_TIERS
        with running_upstream("--text", "warming up") as upstream, bridge_process(upstream, launcher, **tiers) as bridge:
            upstream.answer_with(**spec)
            proxy = Proxy("bridge", "bridge", bridge.url, [bridge.pid], strict=True)
            with httpx.Client(timeout=300) as client:
                for _ in range(args.warmup):
                    call(client, proxy, content, case.streams, expected)
                with _sampling(args.sampler, bridge.pid, output):
                    before = cpu_ns(proxy.pids)
                    for _ in range(args.requests):
                        call(client, proxy, content, case.streams, expected)
                    spent = cpu_ns(proxy.pids) - before
        profile = (from_cprofile if args.sampler == "cprofile" else from_py_spy)(output, args.requests)
        print(
            f"case {case.key} ({case.label}), {args.api} tier, {args.sampler}: "
            f"bridge process CPU while profiled {spent / args.requests / 1e6:.2f} ms/request"
        )
        print(render(profile, args.top))


if __name__ == "__main__":
    main()
