"""What the organization gateway adds per request: token validation, the budget check, prices and rate limits
(issues 12, 18, 20).

`python -m bench.gateway [--rounds N] [--output PATH]` from the repository root; needs Azurite
(`npm ci --prefix tests/azurite`, which scripts/test runs).

Six `python -m bridge` processes in front of one fake Azure, the same small non-streaming request
to each, interleaved in every round (each rotation of the order run forward, then reversed), one keep-alive
`httpx.Client`:

    token         CLIENT_AUTH=token, the shared ANTHROPIC_AUTH_TOKEN, no budget   ← the baseline
    token-again   a second, identical process: how far two equal arms differ on this machine (the noise floor)
    entra         CLIENT_AUTH=entra: an RS256 Entra ID token checked on every request (keys cached)
    entra-memory  entra + a daily budget, counters in the process
    entra-table   entra + a daily budget, counters in Azure Table Storage (Azurite on loopback)
    entra-costs   entra-table + budgets in dollars (each request priced: its hold and its settlement), rate limits
                  (requests and tokens per minute, in the same ledger write) and a model policy

Per arm: latency p50 / p90 and the bridge process's CPU per request (`/proc/<pid>/task/*/schedstat`
over the measured rounds).  Added by token validation = entra - token; by the budget = entra-memory -
entra and entra-table - entra (admission holds the request's allowance in the caller's ledger before
the upstream call, one conditional write; the settlement is written after the answer, in the
background: its CPU is in the figure, its wait is not); by dollars, rate limits and policy =
entra-costs - entra-table.  Azurite's own CPU is reported apart.

Then the same steps in one process, without HTTP: `EntraVerifier.verify` of a warm token, pricing a
request, and `Budget.admit` alone and with its settlement (tokens and dollars) against each store, p50
wall time and CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.common import RESULTS_DIR, bridge_process, cpu_ns, environment, percentiles, running_upstream
from bridge.gateway.auth.caller import Caller
from bridge.gateway.auth.entra import EntraVerifier
from bridge.gateway.pricing.price import Price
from bridge.gateway.pricing.table import table_price
from bridge.gateway.tables import TableService
from bridge.gateway.usage.budget import Budget, Spending
from bridge.gateway.usage.charge import allowance, reported
from bridge.gateway.usage.ledger import Amount
from bridge.gateway.usage.limits import BudgetConfig
from bridge.gateway.usage.store import MemoryUsageStore, UsageStore
from bridge.gateway.usage.table_store import TableUsageStore
from bridge.http import close_session
from bridge.model import Usage
from tests.support.azurite import Azurite, running_azurite
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.fake_entra import ALICE, FakeEntra, User
from tests.support.serving import running

ARMS = ("token", "token-again", "entra", "entra-memory", "entra-table", "entra-costs")
REPLY = "Hello! How can I help you today?"
REQUEST = {"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
BUDGET = "1G"
"""A daily budget nobody reaches here: the check runs, and never refuses."""
COSTS = {
    "BUDGET_DAILY_USD": "100000",
    "BUDGET_MONTHLY_USD": "1000000",
    "RATE_LIMIT_REQUESTS_PER_MINUTE": "1000000",
    "RATE_LIMIT_TOKENS_PER_MINUTE": "1G",
    "MODEL_POLICY": "role:Bridge.Lead=opus,sonnet,haiku;default=sonnet,haiku",
}
"""Limits nobody reaches here either: every request is priced, held in dollars and counted in its minute."""
COSTS_PERSON = User(
    "5b2e7c1a-3d4f-4a6b-9c8d-0e1f2a3b4c5d", "carol@contoso.example", "Carol Example", ("Bridge.User", "Bridge.Lead")
)
MICRO_CALLS = 2000


def _arm_settings(arm: str, entra: FakeEntra, azurite: Azurite) -> dict[str, str]:
    if arm.startswith("token"):
        return {}
    settings = entra.bridge_settings()
    if arm != "entra":
        settings["BUDGET_DAILY_TOKENS"] = BUDGET
    if arm in ("entra-table", "entra-costs"):
        settings["USAGE_CONNECTION_STRING"] = azurite.connection_string
    if arm == "entra-costs":
        settings.update(COSTS)
    return settings


@contextmanager
def _bridges(entra: FakeEntra, azurite: Azurite) -> Iterator[dict[str, RunningBridge]]:
    with running_upstream("--text", REPLY) as upstream, ExitStack() as stack:
        yield {arm: stack.enter_context(bridge_process(upstream, **_arm_settings(arm, entra, azurite))) for arm in ARMS}


def http_arms(rounds: int, warmup: int, entra: FakeEntra, azurite: Azurite) -> dict[str, Any]:
    token = entra.token(ALICE)
    body = json.dumps(REQUEST).encode()
    credentials = {arm: CLIENT_TOKEN if arm.startswith("token") else token for arm in ARMS}
    # The two table arms share one Azurite: each has a person of its own, or their ledgers would race each other.
    credentials["entra-costs"] = entra.token(COSTS_PERSON)
    with _bridges(entra, azurite) as bridges, httpx.Client(timeout=60) as client:

        def call(arm: str) -> float:
            headers = {"x-api-key": credentials[arm], "content-type": "application/json", "anthropic-version": "2023-06-01"}
            start = time.perf_counter_ns()
            response = client.post(bridges[arm].url + "/v1/messages", content=body, headers=headers)
            elapsed = time.perf_counter_ns() - start
            if response.status_code != 200 or response.json()["content"][0]["text"] != REPLY:
                raise RuntimeError(f"{arm} answered {response.status_code}: {response.text[:300]}")
            return elapsed / 1e6

        for _ in range(warmup):
            for arm in ARMS:
                call(arm)
        samples: dict[str, list[float]] = {arm: [] for arm in ARMS}
        pids = {arm: bridges[arm].pid for arm in ARMS}
        cpu_before = {arm: cpu_ns([pid]) for arm, pid in pids.items()}
        azurite_before = cpu_ns([azurite.pid])
        for number in range(rounds):
            # Each rotation forward and then reversed, so each arm follows each other arm equally often (with an even
            # number of arms, rotating and reversing on the same round would not: a table arm's settlement, written
            # in the background, would meet the next table arm's admission in Azurite more often one way round).
            rotation = (number // 2) % len(ARMS)
            order = ARMS[rotation:] + ARMS[:rotation]
            for arm in order if number % 2 == 0 else tuple(reversed(order)):
                samples[arm].append(call(arm))
        time.sleep(0.2)  # the last counts, written in the background
        cpu = {arm: (cpu_ns([pid]) - cpu_before[arm]) / 1e6 / rounds for arm, pid in pids.items()}
        azurite_cpu = (cpu_ns([azurite.pid]) - azurite_before) / 1e6 / rounds
    stats = {arm: percentiles(values) for arm, values in samples.items()}
    p50 = {arm: stats[arm]["p50"] for arm in ARMS}
    return {
        "rounds": rounds,
        "warmup_rounds": warmup,
        "ms": stats,
        "cpu_ms_per_request": cpu,
        "azurite_cpu_ms_per_request": azurite_cpu,
        "added_p50_ms": {
            "noise_floor": p50["token-again"] - p50["token"],
            "token_validation": p50["entra"] - p50["token"],
            "budget_check_memory": p50["entra-memory"] - p50["entra"],
            "budget_check_table": p50["entra-table"] - p50["entra"],
            "dollars_rates_policy": p50["entra-costs"] - p50["entra-table"],
        },
        "added_cpu_ms": {
            "noise_floor": cpu["token-again"] - cpu["token"],
            "token_validation": cpu["entra"] - cpu["token"],
            "budget_check_memory": cpu["entra-memory"] - cpu["entra"],
            "budget_check_table": cpu["entra-table"] - cpu["entra"],
            "dollars_rates_policy": cpu["entra-costs"] - cpu["entra-table"],
        },
    }


async def _timed(step: Callable[[], Awaitable[object]], calls: int) -> dict[str, float]:
    for _ in range(min(50, calls)):
        await step()
    walls: list[float] = []
    cpu_start = time.process_time_ns()
    for _ in range(calls):
        start = time.perf_counter_ns()
        await step()
        walls.append((time.perf_counter_ns() - start) / 1e6)
    cpu = (time.process_time_ns() - cpu_start) / 1e6 / calls
    return {"p50_ms": percentiles(walls)["p50"], "p90_ms": percentiles(walls)["p90"], "cpu_ms": cpu}


async def in_process(calls: int, entra: FakeEntra, azurite: Azurite) -> dict[str, Any]:
    verifier = EntraVerifier(entra.config())
    token = entra.token(ALICE)
    results: dict[str, Any] = {"verify": await _timed(lambda: verifier.verify(token), calls)}
    table = TableService(connection_string=azurite.connection_string).table("benchusage" + str(int(time.time())))
    stores: dict[str, UsageStore] = {"memory": MemoryUsageStore(), "table": TableUsageStore(table)}
    caller = Caller(ALICE.object_id, ALICE.username, "entra")
    price = table_price("gpt-5")
    results["price"] = await _timed(_pricing(price), calls)
    for name, store in stores.items():
        budget = Budget(BudgetConfig(daily=10**9, daily_usd=10**12, requests_per_minute=10**9), store)

        async def admit_and_settle(budget: Budget = budget) -> None:
            """As requests follow each other: each admission carries the settlement of the one before."""
            admission = await budget.admit(caller, allowance(1200, 64, price), 600, 1200)
            budget.settle_soon(Spending(caller, "gpt-5"), admission, reported(Usage(200, 40, 1000), price)[0])

        async def admit(budget: Budget = budget) -> None:
            await budget.admit(caller, Amount(), 600)

        results[f"admit_and_settle_{name}"] = await _timed(admit_and_settle, calls // 4 if name == "table" else calls)
        await budget.settle()
        results[f"admit_{name}"] = await _timed(admit, calls // 4 if name == "table" else calls)
        await store.aclose()
    await close_session()
    return results


def _pricing(price: Price | None) -> Callable[[], Awaitable[object]]:
    async def priced() -> object:
        return reported(Usage(200, 40, 1000), price)

    return priced


def run(rounds: int, warmup: int, calls: int) -> dict[str, Any]:
    entra = FakeEntra()
    with (
        tempfile.TemporaryDirectory(prefix="bench-azurite-") as folder,
        running(entra),
        running_azurite(Path(folder)) as azurite,
    ):
        report = {"http": http_arms(rounds, warmup, entra, azurite)}
        report["in_process"] = asyncio.run(in_process(calls, entra, azurite))
    return report


def render(report: dict[str, Any]) -> str:
    http = report["http"]
    lines = [f"gateway cost per request ({http['rounds']} interleaved rounds, small non-streaming request)"]
    lines.append(f"  {'arm':14} {'p50 ms':>8} {'p90 ms':>8} {'bridge CPU ms/req':>18}")
    for arm in ARMS:
        stats = http["ms"][arm]
        lines.append(f"  {arm:14} {stats['p50']:8.2f} {stats['p90']:8.2f} {http['cpu_ms_per_request'][arm]:18.3f}")
    for what, added in http["added_p50_ms"].items():
        lines.append(f"  added by {what:22} p50 {added:+.2f} ms, CPU {http['added_cpu_ms'][what]:+.3f} ms")
    lines.append(f"  Azurite CPU per request (entra-table and entra-costs together): {http['azurite_cpu_ms_per_request']:.3f} ms")
    lines.append("in one process, no HTTP:")
    for step, figures in report["in_process"].items():
        lines.append(
            f"  {step:26} p50 {figures['p50_ms']:.3f} ms  p90 {figures['p90_ms']:.3f} ms  CPU {figures['cpu_ms']:.3f} ms"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--calls", type=int, default=MICRO_CALLS, help="calls per in-process step")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "gateway.json")
    args = parser.parse_args()
    report = {"environment": environment(), **run(args.rounds, args.warmup, args.calls)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))


if __name__ == "__main__":
    main()
