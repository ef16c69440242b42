"""The spend limit where Claude Code shows it (issue 22, item 1): a person's dollar budgets rendered as the
gateway protocol's `anthropic-ratelimit-unified-*` headers, its 429 `billing_error` and `GET /api/oauth/usage`,
held value by value to the recorded session (../shared/claude-gateway-protocol/2.1.332/client-session.md: a
$0.10 daily cap at 73%, 77%, 95%, then 112%).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.errors import BridgeError
from bridge.gateway.usage import notices
from bridge.gateway.usage.spend_limit import Spent, described, unified_headers, usage_page
from bridge.gateway.usage.standing import BudgetState, Kind, Span, Standing
from tests.support.bridge import TIERS, RunningBridge, bridge_env, request_lines, running_bridge, wait_for
from tests.support.claude_code import CLI, READY, interactive_env, onboarded_home, requires_cli, spend_limits, status_line
from tests.support.fake_azure import FakeAzure, RecordedRequest, Text
from tests.support.fake_entra import FakeEntra, new_user
from tests.support.gateway_protocol import captured_headers, captured_json, recorded
from tests.support.terminal import ENTER, Terminal, flat
from tests.test_claude_code_cli import Cli, run_claude

MICROS = 1_000_000
RESET = datetime(2026, 12, 7, tzinfo=UTC)
"""1796601600, the capture's reset."""
NOW = datetime.fromtimestamp(1796601600 - 53726, UTC)
"""When the capture's 429 was sent (its retry-after: 53726)."""
CAP = MICROS // 10
"""$0.10, the capture's daily cap."""


def Budget(kind: Kind, span: Span, used: int, limit: int, resets_at: datetime) -> BudgetState:
    return BudgetState(kind, span, used, 0, limit, resets_at, f"{resets_at:%Y-%m-%d}")


def daily(used: float, *also: BudgetState) -> Standing:
    return Standing((Budget("usd", "day", round(used * MICROS), CAP, RESET), *also))


def test_at_73_percent_the_answer_is_allowed_without_a_threshold() -> None:
    headers = unified_headers(daily(0.073))
    assert headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert headers["anthropic-ratelimit-unified-overage-utilization"] == "0.73"
    assert "anthropic-ratelimit-unified-overage-surpassed-threshold" not in headers


def test_past_75_percent_the_client_is_told_to_warn() -> None:
    headers = unified_headers(daily(0.0775))
    assert headers == {
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-representative-claim": "overage",
        "anthropic-ratelimit-unified-overage-status": "allowed_warning",
        "anthropic-ratelimit-unified-overage-utilization": "0.77",
        "anthropic-ratelimit-unified-overage-surpassed-threshold": "0.75",
        "anthropic-ratelimit-unified-reset": "1796601600",
        "anthropic-ratelimit-unified-overage-reset": "1796601600",
        "anthropic-ratelimit-unified-overage-period": "daily",
    }
    session = recorded("client-session.md")
    assert "`status: allowed_warning`, `overage-utilization: 0.77`, `overage-surpassed-threshold: 0.75`" in session


def test_at_95_percent_exactly_the_threshold_is_still_75_as_recorded_and_past_it_95() -> None:
    assert "Prompt 2: utilization 0.95, threshold 0.75." in recorded("client-session.md")
    at = unified_headers(daily(0.095))
    assert at["anthropic-ratelimit-unified-overage-utilization"] == "0.95"
    assert at["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.75"
    past = unified_headers(daily(0.0999))
    assert past["anthropic-ratelimit-unified-overage-utilization"] == "0.99"
    assert past["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.95"


def test_no_dollar_budget_means_no_header() -> None:
    assert unified_headers(Standing(())) == {}
    assert unified_headers(Standing((Budget("tokens", "day", 900, 1000, RESET),))) == {}


def test_the_fullest_budget_is_described_and_once_spent_the_one_resetting_last() -> None:
    month_reset = datetime(2027, 1, 1, tzinfo=UTC)
    month = Budget("usd", "month", 80 * MICROS, 100 * MICROS, month_reset)
    assert described(daily(0.01, month)) is month
    headers = unified_headers(daily(0.01, month))
    assert headers["anthropic-ratelimit-unified-overage-period"] == "monthly"
    assert headers["anthropic-ratelimit-unified-overage-reset"] == str(int(month_reset.timestamp()))
    spent_month = Budget("usd", "month", 100 * MICROS, 100 * MICROS, month_reset)
    assert described(daily(0.2, spent_month)) is spent_month


def test_the_cap_is_the_recorded_429() -> None:
    standing = daily(0.112)
    budget = described(standing)
    assert budget is not None
    error = notices.spent(standing, budget, NOW)
    assert isinstance(error, BridgeError) and error.status == 429 and error.kind == "billing_error"
    recorded_headers = captured_headers("HTTP/1.1 429\nanthropic-ratelimit-unified-status")
    assert {name: value for name, value in error.headers.items() if name in recorded_headers} == recorded_headers
    assert set(error.headers) - set(recorded_headers) == {
        "x-bridge-budget-remaining-usd-day",
        "x-bridge-budget-reset-day",
        "x-bridge-budget-warning",
    }
    assert "representative-claim" not in str(error.headers), "with it the client drops the message for its own"
    assert error.message.startswith("Daily dollar budget used up: $0.11 of $0.10 today (UTC). It resets at 2026-12-07 00:00 UTC")


def test_the_usage_page_is_the_recorded_one() -> None:
    recorded_page = captured_json("| 65 | `GET /api/oauth/usage`")
    assert usage_page(daily(0.0775), Spent()) == recorded_page
    over = usage_page(daily(0.112), Spent())
    assert over["extra_usage"]["used_credits"] == 11 and over["extra_usage"]["utilization"] == 112
    assert over["limits"][0]["severity"] == "critical"
    assert "`used_credits 11, utilization 112, severity critical`" in recorded("client-session.md")


def test_the_usage_page_pairs_with_the_headers_to_the_second() -> None:
    standing = daily(0.05)
    page = usage_page(standing, Spent())
    resets = datetime.strptime(page["limits"][0]["resets_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert str(int(resets.timestamp())) == unified_headers(standing)["anthropic-ratelimit-unified-overage-reset"]


def test_every_dollar_budget_is_a_row_and_the_described_one_is_active() -> None:
    month = Budget("usd", "month", 54 * MICROS, 100 * MICROS, datetime(2027, 1, 1, tzinfo=UTC))
    page = usage_page(daily(0.01, month, Budget("tokens", "day", 1, 2, RESET)), Spent())
    assert [(row["group"], row["percent"], row["is_active"], row["severity"]) for row in page["limits"]] == [
        ("daily", 10, False, "normal"),
        ("monthly", 54, True, "normal"),
    ]
    assert page["extra_usage"] == {
        "is_enabled": True,
        "monthly_limit": 10000,
        "used_credits": 5400,
        "utilization": 54,
        "currency": "USD",
    }


def test_a_person_without_a_cap_sees_their_spend_of_the_month_day_and_week() -> None:
    page = usage_page(Standing(()), Spent(day=12_400_000, week=40_000_000, month=271_400_000))
    assert page["limits"] == []
    extra = page["extra_usage"]
    assert extra["monthly_limit"] is None and extra["utilization"] is None and extra["used_credits"] == 27140
    assert extra["daily"] == {"limit": None, "used_credits": 1240, "utilization": None}
    assert extra["weekly"] == {"limit": None, "used_credits": 4000, "utilization": None}
    assert '`daily` is `{"limit": null, "used_credits": 1240, "utilization": null}`' in recorded("protocol.md")


# ----- through the bridge: a $0.10 daily cap, as in the recorded session -------------------------------------------

PRICED = "gpt-5=input:1,cached:1,output:1;gpt-4o=input:1,cached:1,output:1"
"""$1 per million tokens: a request costs about the input Azure reports (prompt_tokens), its output being a word."""
UNLIMITED = "Bridge.Lead"
QUESTION: dict[str, Any] = {"model": "claude-opus-4-7", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
PROBE: dict[str, Any] = {
    "model": "claude-haiku-4-5-20251001",
    "max_tokens": 1,
    "messages": [{"role": "user", "content": "quota"}],
}


@pytest.fixture(scope="module")
def capped(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    env = bridge_env(
        fake_azure, **entra.bridge_settings(), BUDGET_DAILY_USD="0.10", PRICES=PRICED,
        BUDGET_OVERRIDES=f"role:{UNLIMITED}=daily_usd:unlimited",
    )  # fmt: skip
    with running_bridge(env, tmp_path_factory.mktemp("capped") / "bridge.log", in_process=True) as running:
        yield running


def call(bridge: RunningBridge, token: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "anthropic-version": "2023-06-01"}
    return httpx.post(bridge.url + "/v1/messages?beta=true", json=body, headers=headers, timeout=30)


def usage_of(bridge: RunningBridge, token: str) -> dict[str, Any]:
    answer = httpx.get(bridge.url + "/api/oauth/usage", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    page: dict[str, Any] = answer.json()
    return page


def unified(answer: httpx.Response) -> dict[str, str]:
    return {
        k.removeprefix("anthropic-ratelimit-unified-"): v
        for k, v in answer.headers.items()
        if k.startswith("anthropic-ratelimit-unified-")
    }


def test_a_persons_day_under_a_spend_limit(capped: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure) -> None:
    token = entra.token(new_user("Bridge.User"))
    probe = call(capped, token, PROBE)
    assert probe.status_code == 200 and fake_azure.requests == [], "the start-up probe costs no upstream call"
    assert unified(probe)["status"] == "allowed" and unified(probe)["overage-utilization"] == "0"
    page = usage_of(capped, token)
    assert page["extra_usage"] == {
        "is_enabled": True,
        "monthly_limit": 10,
        "used_credits": 0,
        "utilization": 0,
        "currency": "USD",
    }
    (row,) = page["limits"]
    assert (row["kind"], row["group"], row["is_active"]) == ("spend", "daily", True)
    assert row["resets_at"] == datetime.fromtimestamp(int(unified(probe)["overage-reset"]), UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )

    fake_azure.enqueue(Text("pong", prompt_tokens=77_000))
    assert call(capped, token, QUESTION).status_code == 200
    fake_azure.enqueue(Text("pong", prompt_tokens=18_000))
    second = call(capped, token, {**QUESTION, "stream": True})
    assert second.status_code == 200
    assert unified(second) | {"reset": "", "overage-reset": ""} == {
        "status": "allowed_warning", "representative-claim": "overage", "overage-status": "allowed_warning",
        "overage-utilization": "0.77", "overage-surpassed-threshold": "0.75", "overage-period": "daily",
        "reset": "", "overage-reset": "",
    }  # fmt: skip
    page = usage_of(capped, token)
    assert page["extra_usage"]["used_credits"] == 9 and page["extra_usage"]["utilization"] == 95
    assert page["limits"][0]["severity"] == "warning"

    fake_azure.enqueue(Text("pong", prompt_tokens=17_000))
    assert unified(call(capped, token, QUESTION))["overage-utilization"] == "0.95"
    calls = len(fake_azure.requests)
    refused = call(capped, token, QUESTION)
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "billing_error"
    assert refused.headers["x-should-retry"] == "false" and int(refused.headers["retry-after"]) > 0
    assert unified(refused)["status"] == "rejected" and unified(refused)["overage-utilization"] == "1.12"
    assert unified(refused)["overage-disabled-reason"] == "org_spend_cap_reached"
    assert "representative-claim" not in unified(refused) and "overage-status" not in unified(refused)
    assert call(capped, token, PROBE).status_code == 429, "the probe at the cap is refused too"
    assert len(fake_azure.requests) == calls, "refused before Azure"
    page = usage_of(capped, token)
    assert page["extra_usage"]["used_credits"] == 11 and page["extra_usage"]["utilization"] == 112
    assert page["limits"][0]["severity"] == "critical"


def test_a_person_without_a_cap_gets_no_header_and_sees_their_spend(
    capped: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(new_user(UNLIMITED))
    fake_azure.enqueue(Text("pong", prompt_tokens=1_240_000))
    answer = call(capped, token, QUESTION)
    assert answer.status_code == 200 and unified(answer) == {}
    page = usage_of(capped, token)
    assert page["limits"] == []
    extra = page["extra_usage"]
    assert (extra["monthly_limit"], extra["utilization"], extra["currency"]) == (None, None, "USD")
    assert extra["used_credits"] == 124
    assert extra["daily"] == {"limit": None, "used_credits": 124, "utilization": None}
    assert extra["weekly"] == {"limit": None, "used_credits": 124, "utilization": None}


# ----- the real Claude Code 2.1.332 in gateway mode, without /login ------------------------------------------------


def spending(costs: dict[str, int]) -> Callable[[RecordedRequest], Text]:
    """The fake's answers: a prompt to the main model (BIG_MODEL) containing one of `costs`' words costs that
    many input tokens ($1 per million); Claude Code's own small requests (haiku: titles, checks) cost one token,
    so the day's spend is what the test says."""

    def answer(request: RecordedRequest) -> Text:
        messages = request.body.get("messages") or request.body.get("input") or [{}]
        asked = json.dumps(messages[-1])
        for word, tokens in costs.items():
            if word in asked and request.deployment == TIERS["BIG_MODEL"]:
                return Text(f"done: {word}", prompt_tokens=tokens)
        return Text("ok", prompt_tokens=1)

    return answer


def status_line_home(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An onboarded HOME whose status line records its input; the HOME, the work directory and the record."""
    recorded_input = tmp_path / "status-input.jsonl"
    home, work = onboarded_home(tmp_path, **status_line(recorded_input))
    return home, work, recorded_input


def personal_key(bridge: RunningBridge, token: str) -> str:
    made = httpx.post(bridge.url + "/v1/keys", json={"name": "claude code"}, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


DAY = {"first-prompt": 77_000, "second-prompt": 35_000, "third-prompt": 1_000}
"""What three prompts cost (input tokens at $1 per million) against the $0.10 cap: 77%, then past it."""


def spend_the_day(terminal: Terminal, recorded_input: Path) -> None:
    """Three prompts (`DAY`): the second answer carries 77% (Claude Code's own notice), and the third is stopped at
    the cap with the bridge's message; the status line gets the percent of the headers (77, then 112 from the
    429) and the dollars of /api/oauth/usage, which Claude Code reads once at start-up (and on `/usage`), so they
    are the dollars of then, as with the reference gateway (its capture shows $0.07 beside 95%)."""
    for prompt in ("first-prompt", "second-prompt"):
        terminal.send(f"say {prompt}", pause=1.0)
        terminal.send(ENTER)
        terminal.wait_for(f"done: {prompt}", timeout=90)
    notice = flat("You've used 77% of your usage credits · resets 12am (UTC)")
    assert wait_for(lambda: notice in flat(terminal.screen()), 30), f"the client's own notice\n{terminal.screen()[-2000:]}"
    terminal.send("say third-prompt", pause=1.0)
    terminal.send(ENTER)
    terminal.wait_for("Daily dollar budget used up: $0.11 of $0.10 today (UTC)", timeout=60)

    def shown(percent: int) -> bool:
        return any(
            limit["used_percentage"] == percent and isinstance(limit.get("used_usd"), int | float)
            and (limit.get("limit_usd"), limit.get("period")) == (0.1, "daily")
            for limit in spend_limits(recorded_input)
        )  # fmt: skip

    assert wait_for(lambda: shown(77) and shown(112), 30), f"the status line's spend_limit: {spend_limits(recorded_input)}"


@pytest.mark.process
@pytest.mark.slow
@requires_cli
def test_the_cli_shows_the_spend_limit_through_the_gateway_route(
    capped: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """`CLAUDE_CODE_USE_GATEWAY=1`, the bridge as `ANTHROPIC_BASE_URL` and a personal key as `ANTHROPIC_AUTH_TOKEN`:
    the status line gets `rate_limits.spend_limit` with the dollars of /api/oauth/usage; three prompts, the
    third past the $0.10 cap, which Claude Code stops at once with the limit message.  Non-essential traffic is
    left on, as on a developer's machine: then Claude Code sends its start-up `quota` probe, which the bridge
    answers itself.  Claude Code runs a haiku request beside a prompt; when that one's hold leaves too little of the
    day, the prompt gets the retryable 429 of a budget held by running requests, and Claude Code retries it once
    the hold is released (the timing decides: a CI run saw it), so a 429 here is the cap or such a hold."""
    person = new_user("Bridge.User")
    key = personal_key(capped, entra.token(person))
    home, work, recorded_input = status_line_home(tmp_path)
    fake_azure.respond_with(spending(DAY))
    env = interactive_env(home, CLAUDE_CODE_USE_GATEWAY="1", ANTHROPIC_BASE_URL=capped.url, ANTHROPIC_AUTH_TOKEN=key)
    del env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"]
    terminal = Terminal([str(CLI)], cwd=work, env=env)
    try:
        terminal.wait_for(*READY)
        spend_the_day(terminal, recorded_input)
    finally:
        terminal.close()
        fake_azure.respond_with(None)
    lines = [line for line in request_lines(capped) if line.get("user_id") == person.object_id]
    answered_here = [(line["route"], line["status"], line["model"]) for line in lines if line["deployment"] is None]
    assert ("messages", 200, PROBE["model"]) in answered_here, f"the start-up probe, answered by the bridge\n{lines}"
    assert any(line["route"] == "oauth_usage" and line["status"] == 200 for line in lines), lines
    refused = [line for line in lines if line["route"] == "messages" and line["status"] == 429]
    at_cap = [line for line in refused if line["error_type"] == "billing_error"]
    held = [line for line in refused if line["error_type"] == "rate_limit_error"]
    assert at_cap and len(at_cap) + len(held) == len(refused), lines
    prompts = [line for line in at_cap if line["deployment"] == TIERS["BIG_MODEL"]]
    assert len(prompts) == 1, f"at once: no retries into the block (beside it, Claude Code's own haiku request)\n{refused}"


@pytest.mark.process
@pytest.mark.slow
@requires_cli
def test_claude_p_at_the_cap_stops_at_once_with_the_message(
    capped: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """`claude -p` in gateway mode with a personal key whose day is spent: one 429, the message printed, no retry."""
    person = new_user("Bridge.User")
    token = entra.token(person)
    fake_azure.enqueue(Text("spent", prompt_tokens=120_000))
    assert call(capped, token, QUESTION).status_code == 200
    key = personal_key(capped, token)
    workdir = tmp_path / "work"
    workdir.mkdir()
    calls = len(fake_azure.requests)
    started = time.monotonic()
    run = run_claude(
        Cli("2.1.332", CLI), capped, fake_azure, tmp_path, workdir, "-p", "say hi",
        CLAUDE_CODE_USE_GATEWAY="1", ANTHROPIC_AUTH_TOKEN=key,
    )  # fmt: skip
    took = time.monotonic() - started
    assert run.returncode != 0, run.report()
    assert "Daily dollar budget used up: $0.12 of $0.10 today (UTC)" in run.stdout + run.stderr, run.report()
    refused = [line for line in request_lines(capped) if line.get("user_id") == person.object_id and line["status"] == 429]
    assert len(refused) == 1 and refused[0]["error_type"] == "billing_error", run.report()
    assert len(fake_azure.requests) == calls, run.report()
    assert took < 20, f"shown at once (took {took:.1f} s)\n{run.report()}"
