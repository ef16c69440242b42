"""The real Claude Code CLI (pinned in tests/cli/package.json) end to end: CLI → bridge → fake Azure.

`scripts/test` installs the CLI with `npm ci --prefix tests/cli`; without it these tests are skipped.
The CLI runs in a temporary working directory with its own HOME and CLAUDE_CONFIG_DIR, with every
ANTHROPIC_*/CLAUDE_* variable of the outer environment removed, and with telemetry, error reporting,
auto-update and other non-essential traffic turned off, so the only server it talks to is the bridge
on loopback.  In `-p` mode Claude Code 2.1.197 sends `HEAD /` (a reachability probe), then one
streamed `POST /v1/messages?beta=true` per turn for `claude-opus-4-8` (→ deployment gpt-5); no
count_tokens call and no haiku side request.  The shared bridge serves gpt-5 through chat/completions;
`responses_bridge` serves it through the Responses API (BIG_MODEL_API=responses).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CLIENT_TOKEN, ROOT, RunningBridge, bridge_env, start_bridge, stop_bridge
from tests.fake_azure import (
    DEFAULT_DEPLOYMENTS,
    FakeAzure,
    RecordedRequest,
    ResponsesText,
    ResponsesToolCalls,
    Text,
    ToolCalls,
    sse_data,
    verify_encrypted,
)
from tests.fake_azure.responses_streams import render_responses
from tests.fake_azure.streams import render
from tests.fake_entra import FakeEntra, User, new_user, running_fake_entra

CLAUDE = ROOT / "tests" / "cli" / "node_modules" / ".bin" / "claude"
CLI_TIMEOUT = 120  # seconds: a hang (say, the CLI trying to reach api.anthropic.com) fails instead of stalling the suite
MAIN_DEPLOYMENT = "gpt-5"  # where the bridge sends the CLI's default (opus) model; see TIERS in conftest

pytestmark = pytest.mark.skipif(
    not os.access(CLAUDE, os.X_OK),
    reason=f"Claude Code CLI not installed at {CLAUDE.relative_to(ROOT)}: run `npm ci --prefix tests/cli` (scripts/test does)",
)


@dataclass(repr=False)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    bridge_log: str
    requests: list[RecordedRequest]

    def __repr__(self) -> str:
        return f"CliRun(returncode={self.returncode}, requests={len(self.requests)})"

    def report(self) -> str:
        """Everything needed to tell what went wrong, for assertion messages."""
        seen = "\n".join(f"  {r.method} {r.path} deployment={r.deployment}" for r in self.requests) or "  (none)"
        return (
            f"claude exited {self.returncode}\n--- stdout ---\n{self.stdout[-8000:]}\n--- stderr ---\n{self.stderr[-8000:]}\n"
            f"--- requests that reached fake Azure ---\n{seen}\n--- bridge log during the run (tail) ---\n{self.bridge_log[-8000:]}"
        )

    def main_requests(self, api: str = "chat") -> list[dict[str, Any]]:
        """Bodies of the `api` requests (chat/completions by default) the bridge sent to the main deployment, in order."""
        return [r.body for r in self.requests if r.api == api and r.deployment == MAIN_DEPLOYMENT]

    def events(self) -> list[dict[str, Any]]:
        """stdout of `--output-format stream-json`, one JSON object a line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


WRITE_HELLO_STREAM_JSON = (
    "-p",
    "create hello.txt containing hi",
    "--dangerously-skip-permissions",
    "--output-format",
    "stream-json",
    "--verbose",
)


def cli_env(bridge_url: str, home: Path, token: str | None = CLIENT_TOKEN) -> dict[str, str]:
    """The outer environment minus ANTHROPIC_*/CLAUDE_*, pointed at the bridge, with a throwaway HOME.

    `token` None: no ANTHROPIC_AUTH_TOKEN (the CLI then signs in through the settings' apiKeyHelper).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    if token is not None:
        # Sent as `Authorization: Bearer`; unlike ANTHROPIC_API_KEY it never needs approving in interactive mode.
        env["ANTHROPIC_AUTH_TOKEN"] = token
    env.update(
        {
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(config),
            "ANTHROPIC_BASE_URL": bridge_url,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "IS_SANDBOX": "1",  # lets --dangerously-skip-permissions run as root
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def run_claude(
    bridge: RunningBridge, fake: FakeAzure, tmp_path: Path, workdir: Path, *args: str, token: str | None = CLIENT_TOKEN
) -> CliRun:
    """Run `claude *args` in `workdir` against `bridge`; the run keeps only this run's part of the bridge log."""
    log_start = len(bridge.log())
    env = cli_env(bridge.url, tmp_path / "home", token)
    try:
        done = subprocess.run(
            [str(CLAUDE), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
    except subprocess.TimeoutExpired as timeout:
        out, err = (
            part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
            for part in (timeout.stdout, timeout.stderr)
        )
        run = CliRun(-1, out, err, bridge.log()[log_start:], list(fake.requests))
        pytest.fail(f"claude did not finish within {CLI_TIMEOUT}s\n{run.report()}")
    return CliRun(done.returncode, done.stdout, done.stderr, bridge.log()[log_start:], list(fake.requests))


def scripted_call_ids(reply: ToolCalls) -> list[str]:
    """The `call_…` ids the fake streams for `reply` (fixed by its seed)."""
    deployment = next(d for d in DEFAULT_DEPLOYMENTS if d.name == MAIN_DEPLOYMENT)
    chunks = [json.loads(data) for data in sse_data(b"".join(render(reply, {"stream": True}, deployment).pieces))[:-1]]
    return [
        call["id"]
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls") or []
        if "id" in call
    ]


def scripted_responses_call_ids(reply: ResponsesToolCalls, request: dict[str, Any]) -> list[str]:
    """The `call_…` ids the fake streamed for the Responses `reply` to `request` (fixed by its seed; what the
    request asked for, reasoning summaries say, changes the random draws before them)."""
    deployment = next(d for d in DEFAULT_DEPLOYMENTS if d.name == MAIN_DEPLOYMENT)
    events = [json.loads(data) for data in sse_data(b"".join(render_responses(reply, request, deployment).pieces))]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    return [item["call_id"] for item in done if item["type"] == "function_call"]


def write_hello(workdir: Path) -> tuple[Path, ToolCalls]:
    """Script the main deployment: a Write tool call for `<workdir>/hello.txt`, then the text "Done."."""
    workdir.mkdir()
    target = workdir / "hello.txt"
    return target, ToolCalls([("Write", {"file_path": str(target), "content": "hi"})], seed=7)


def assert_tool_round_trip(run: CliRun, call: ToolCalls, target: Path) -> None:
    """Azure saw the prompt, then the assistant's tool call and a `tool` message answering it."""
    main = run.main_requests()
    assert len(main) == 2, run.report()
    first, second = main
    assert all(body.get("stream") is True for body in main), run.report()
    assert "Write" in [tool["function"]["name"] for tool in first.get("tools", [])], run.report()
    assert "create hello.txt containing hi" in json.dumps(first["messages"]), run.report()
    assert not any(m["role"] in ("assistant", "tool") for m in first["messages"]), run.report()

    # The follow-up repeats the conversation and ends with the tool call and its result.
    assert second["messages"][: len(first["messages"])] == first["messages"], run.report()
    (call_id,) = scripted_call_ids(call)
    rest = second["messages"][len(first["messages"]) :]
    assistant = next(m for m in rest if m["role"] == "assistant")
    assert [(c["id"], c["type"], c["function"]["name"]) for c in assistant["tool_calls"]] == [(call_id, "function", "Write")], (
        run.report()
    )
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"file_path": str(target), "content": "hi"}
    tool = rest[rest.index(assistant) + 1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == call_id, run.report()
    assert str(target) in json.dumps(tool["content"]), run.report()


def test_cli_creates_a_file_through_a_write_tool_call(bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """The issue's scenario: `claude -p "create hello.txt containing hi"` ends with hello.txt holding "hi"."""
    target, call = write_hello(tmp_path / "work")
    fake_azure.enqueue(call, Text("Done."), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        bridge, fake_azure, tmp_path, target.parent, "-p", "create hello.txt containing hi", "--dangerously-skip-permissions"
    )

    assert run.returncode == 0, run.report()
    assert target.is_file() and target.read_text() == "hi", run.report()
    assert run.stdout.strip() == "Done.", run.report()
    assert fake_azure.pending == 0, run.report()
    assert_tool_round_trip(run, call, target)


def test_cli_tool_loop_events_in_stream_json(bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """The same run seen through stream-json: tool_use turn (stop_reason tool_use), tool_result, final text turn."""
    target, call = write_hello(tmp_path / "work")
    fake_azure.enqueue(call, Text("Done."), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        bridge,
        fake_azure,
        tmp_path,
        target.parent,
        *WRITE_HELLO_STREAM_JSON,
    )

    assert run.returncode == 0, run.report()
    assert target.read_text() == "hi", run.report()
    events = run.events()
    (call_id,) = scripted_call_ids(call)
    blocks = [(e["type"], block) for e in events if e["type"] in ("assistant", "user") for block in e["message"]["content"]]
    assert [(kind, block["type"]) for kind, block in blocks] == [
        ("assistant", "tool_use"),
        ("user", "tool_result"),
        ("assistant", "text"),
    ], run.report()
    tool_use, tool_result, text = (block for _, block in blocks)
    assert (tool_use["id"], tool_use["name"], tool_use["input"]) == (
        call_id,
        "Write",
        {"file_path": str(target), "content": "hi"},
    ), run.report()
    assert tool_result["tool_use_id"] == call_id and not tool_result.get("is_error"), run.report()
    assert text["text"] == "Done.", run.report()
    result = events[-1]
    assert result["type"] == "result", run.report()
    assert (result["subtype"], result["is_error"], result["result"]) == ("success", False, "Done."), run.report()
    assert (result["num_turns"], result["stop_reason"]) == (2, "end_turn"), run.report()
    assert_tool_round_trip(run, call, target)


def test_cli_streams_plain_text_as_stream_json(bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """`claude -p "say hi" --output-format stream-json --verbose`: a text reply streamed in pieces arrives whole."""
    reply = "Hi there — this is the fake deployment, streaming in pieces! 👋"
    fake_azure.enqueue(Text(reply, pieces=8), deployment=MAIN_DEPLOYMENT)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(bridge, fake_azure, tmp_path, workdir, "-p", "say hi", "--output-format", "stream-json", "--verbose")

    assert run.returncode == 0, run.report()
    events = run.events()
    assert events[0]["type"] == "system" and events[0]["subtype"] == "init", run.report()
    assert events[0]["claude_code_version"] == "2.1.197", run.report()
    texts = [
        block["text"] for e in events if e["type"] == "assistant" for block in e["message"]["content"] if block["type"] == "text"
    ]
    assert "".join(texts) == reply, run.report()
    result = events[-1]
    assert result["type"] == "result", run.report()
    assert (result["subtype"], result["is_error"], result["result"]) == ("success", False, reply), run.report()
    assert (result["num_turns"], result["stop_reason"]) == (1, "end_turn"), run.report()
    main = run.main_requests()
    assert len(main) == 1 and main[0]["stream"] is True, run.report()
    assert "say hi" in json.dumps(main[0]["messages"]), run.report()


@pytest.fixture(scope="module")
def responses_bridge(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """A bridge of its own whose BIG_MODEL (gpt-5, the CLI's opus) is served through the Responses API."""
    running = start_bridge(
        bridge_env(fake_azure, BIG_MODEL_API="responses"), tmp_path_factory.mktemp("responses-bridge") / "b.log"
    )
    yield running
    stop_bridge(running)


def test_cli_tool_loop_on_a_responses_tier(responses_bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """Reasoning + a Write call on turn 1, text on turn 2: the file is written, the CLI shows the thinking, and
    turn 2 hands Azure back the encrypted reasoning item with the function call and its output."""
    target, _ = write_hello(tmp_path / "work")
    call = ResponsesToolCalls(
        [("Write", {"file_path": str(target), "content": "hi"})], reasoning=["The user wants a file.", "Write it."], seed=7
    )
    fake_azure.enqueue(call, ResponsesText("Done.", reasoning=["It is written."]), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        responses_bridge,
        fake_azure,
        tmp_path,
        target.parent,
        *WRITE_HELLO_STREAM_JSON,
    )

    assert run.returncode == 0, run.report()
    assert target.is_file() and target.read_text() == "hi", run.report()
    assert fake_azure.pending == 0, run.report()
    assert not run.main_requests("chat"), run.report()
    assert {(r.path, r.api) for r in run.requests if r.deployment == MAIN_DEPLOYMENT} == {
        ("/openai/v1/responses", "responses")
    }, run.report()
    first, second = run.main_requests("responses")
    assert "reasoning.encrypted_content" in first["include"], run.report()
    assert "create hello.txt containing hi" in json.dumps(first["input"]), run.report()
    assert not any(item.get("type") in ("reasoning", "function_call") for item in first["input"]), run.report()

    # Turn 2 carries back turn 1's reasoning item (the token the fake issued, for that very id), then the call and its output.
    issued = fake_azure.issued_reasoning
    assert len(issued) == 2, run.report()
    (call_id,) = scripted_responses_call_ids(call, first)
    rest = second["input"][len(first["input"]) :]
    assert second["input"][: len(first["input"])] == first["input"], run.report()
    assert [item["type"] for item in rest] == ["reasoning", "function_call", "function_call_output"], run.report()
    reasoning, function_call, output = rest
    assert reasoning["id"] == issued[0], run.report()
    assert verify_encrypted(issued[0], reasoning["encrypted_content"]), run.report()
    assert (function_call["call_id"], function_call["name"]) == (call_id, "Write"), run.report()
    assert json.loads(function_call["arguments"]) == {"file_path": str(target), "content": "hi"}, run.report()
    assert output["call_id"] == call_id and str(target) in json.dumps(output["output"]), run.report()

    # The CLI saw the reasoning summary as a thinking block before the tool call, and the final text.
    events = run.events()
    blocks = [(e["type"], block) for e in events if e["type"] in ("assistant", "user") for block in e["message"]["content"]]
    assert [(kind, block["type"]) for kind, block in blocks] == [
        ("assistant", "thinking"),
        ("assistant", "tool_use"),
        ("user", "tool_result"),
        ("assistant", "thinking"),
        ("assistant", "text"),
    ], run.report()
    thinking, tool_use = blocks[0][1], blocks[1][1]
    assert thinking["thinking"] == "The user wants a file.\n\nWrite it." and thinking["signature"], run.report()
    assert (tool_use["id"], tool_use["name"]) == (call_id, "Write"), run.report()
    result = events[-1]
    assert result["type"] == "result", run.report()
    assert (result["subtype"], result["is_error"], result["result"]) == ("success", False, "Done."), run.report()


# ----- signing in with Microsoft Entra ID through apiKeyHelper (CLIENT_AUTH=entra) ---------------------------------


@pytest.fixture(scope="module")
def entra() -> Iterator[FakeEntra]:
    served = FakeEntra()
    with running_fake_entra(served):
        yield served


@pytest.fixture(scope="module")
def entra_bridge(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """A bridge that signs callers in with Entra ID, each with a daily budget of one token (none for Bridge.Lead)."""
    env = bridge_env(
        fake_azure, **entra.bridge_settings(), BUDGET_DAILY_TOKENS="1", BUDGET_OVERRIDES="role:Bridge.Lead=daily:unlimited"
    )
    running = start_bridge(env, tmp_path_factory.mktemp("entra-bridge") / "b.log")
    yield running
    stop_bridge(running)


def sign_in_with_helper(tmp_path: Path, token: str) -> None:
    """Claude Code's settings.json with an apiKeyHelper that prints `token`, as `az account get-access-token` would."""
    helper = tmp_path / "token-helper.sh"
    (tmp_path / "token.txt").write_text(token)
    helper.write_text(f"#!/bin/sh\ncat '{tmp_path / 'token.txt'}'\n")
    helper.chmod(0o755)
    config = tmp_path / "home" / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(json.dumps({"apiKeyHelper": str(helper)}))


def user_lines(run: CliRun, user: User) -> list[dict[str, Any]]:
    """The bridge's log lines of this run for `user`'s requests to /v1/messages."""
    lines = [
        json.loads(line.partition("bridge.requests ")[2]) for line in run.bridge_log.splitlines() if "bridge.requests {" in line
    ]
    return [line for line in lines if line.get("user_id") == user.object_id and line["route"] == "messages"]


def test_cli_signs_in_through_an_api_key_helper(
    entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """apiKeyHelper prints an Entra ID access token; the CLI works and the bridge knows who asked."""
    lead = new_user("Bridge.Lead")
    sign_in_with_helper(tmp_path, entra.token(lead))
    fake_azure.enqueue(Text("Signed in and answering."), deployment=MAIN_DEPLOYMENT)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", token=None)

    assert run.returncode == 0, run.report()
    assert run.stdout.strip() == "Signed in and answering.", run.report()
    lines = user_lines(run, lead)
    assert lines and all((line["user_name"], line["auth"], line["status"]) == (lead.username, "entra", 200) for line in lines)


def test_cli_over_budget_shows_the_bridges_message_at_once(
    entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """A user whose daily budget is spent: the CLI shows the bridge's 429 message and does not retry."""
    spender = new_user()
    token = entra.token(spender)
    spent = httpx.post(
        entra_bridge.url + "/v1/messages",
        headers={"x-api-key": token},
        json={"model": "claude-opus-4-8", "max_tokens": 20, "messages": [{"role": "user", "content": "spend it"}]},
        timeout=30,
    )
    assert spent.status_code == 200, spent.text
    sign_in_with_helper(tmp_path, token)
    workdir = tmp_path / "work"
    workdir.mkdir()
    calls_before = len(fake_azure.requests)

    started = time.monotonic()
    run = run_claude(entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", token=None)
    took = time.monotonic() - started

    assert run.returncode != 0, run.report()
    assert "token budget used up" in run.stdout + run.stderr, run.report()
    assert "resets at" in run.stdout + run.stderr, run.report()
    refused = user_lines(run, spender)
    assert [line["status"] for line in refused] == [429], f"one request, no retries\n{run.report()}"
    assert len(fake_azure.requests) == calls_before, run.report()
    assert took < CLI_TIMEOUT / 4, f"shown at once (took {took:.1f} s)\n{run.report()}"
