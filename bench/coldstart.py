"""Cold start: importing `function_app` in a fresh interpreter, and the first count_tokens call.

`import function_app` is what the Functions host does before the first request
can be served; it is timed inside a fresh `python -c` (interpreter start-up and
`site` excluded), median of N processes.  Two figures: the whole import, and the
bridge's own share, timed after `azure.functions` and the HTTP-streaming extension
(FastAPI) are already imported, as the worker must load both for any app that
streams.  The target is on the bridge's share: the extension's ~0.3 s is the
price of working in Azure at all (docs/deploy.md), not the bridge's to cut.
One extra `python -X importtime` run names the heaviest imports.

The first count_tokens call loads tiktoken's o200k vocabulary (lazily, on first
use); it is timed in a fresh interpreter as `count_input_tokens` of hello-02's
translated body, first call and a warm second call, median of N processes.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from typing import Any

from bench.common import ROOT, TRAFFIC

TARGET_IMPORT_MS = 400.0

IMPORT_SCRIPT = """
import time
start = time.perf_counter()
import function_app
print((time.perf_counter() - start) * 1000)
"""

OWN_SHARE_SCRIPT = """
import time
import azure.functions
import azurefunctions.extensions.http.fastapi
start = time.perf_counter()
import function_app
print((time.perf_counter() - start) * 1000)
"""

COUNT_SCRIPT = """
import asyncio, json, sys, time
from bridge.fronts.anthropic.request import parse_request
from bridge.upstreams.token_count import count_input_tokens
body = json.loads(open(sys.argv[1]).read())["body"]
request = parse_request(body, count_only=True)
times = []
for _ in range(2):
    start = time.perf_counter()
    tokens = asyncio.run(count_input_tokens(request, "chat"))
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"first_ms": times[0], "warm_ms": times[1], "tokens": tokens}))
"""

IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _python(script: str, *args: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *flags, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"fresh interpreter failed:\n{result.stderr[-2000:]}")
    return result


def heaviest_imports(limit: int = 8) -> list[dict[str, Any]]:
    """The heaviest modules under `function_app` (cumulative ms), from one `-X importtime` run, three levels deep."""
    result = _python("import function_app", flags=("-X", "importtime"))
    entries = []
    for line in result.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            entries.append((depth, match.group(4), int(match.group(2)) / 1000))
    # the -c code's own import is depth 0; what function_app pulls in is depth 1 to 3
    picked = [e for e in entries if 1 <= e[0] <= 3]
    picked.sort(key=lambda e: e[2], reverse=True)
    return [{"module": name, "depth": depth, "cumulative_ms": ms} for depth, name, ms in picked[:limit]]


def run(repeats: int) -> dict[str, Any]:
    imports = [float(_python(IMPORT_SCRIPT).stdout.strip()) for _ in range(repeats)]
    own = [float(_python(OWN_SHARE_SCRIPT).stdout.strip()) for _ in range(repeats)]
    counts = [json.loads(_python(COUNT_SCRIPT, str(TRAFFIC)).stdout) for _ in range(repeats)]
    median_own = statistics.median(own)
    return {
        "import_function_app_ms": {"median": statistics.median(imports), "min": min(imports), "max": max(imports), "n": repeats},
        "bridge_share_ms": {"median": median_own, "min": min(own), "max": max(own), "n": repeats},
        "target_import_ms": TARGET_IMPORT_MS,
        "pass": median_own < TARGET_IMPORT_MS,
        "heaviest_imports": heaviest_imports(),
        "count_tokens_in_process_ms": {
            "first": statistics.median(c["first_ms"] for c in counts),
            "warm": statistics.median(c["warm_ms"] for c in counts),
            "tokens": counts[0]["tokens"],
            "n": repeats,
        },
    }
