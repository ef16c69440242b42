"""The real Claude Code CLI, every version pinned in tests/cli/package.json, end to end: CLI → bridge → fake Azure.

`scripts/test` installs the CLIs with `npm ci --prefix tests/cli` (one npm alias dependency
`claude-code-<version>` a version); a version that is not installed has its tests skipped.  Every test
runs once per version.  The CLI runs in a temporary working directory with its own HOME and
CLAUDE_CONFIG_DIR, with every ANTHROPIC_*/CLAUDE_* variable of the outer environment removed, and with
telemetry, error reporting, auto-update and other non-essential traffic turned off, so the only server
it talks to is the bridge on loopback.  In `-p` mode Claude Code sends `HEAD /` (a reachability probe),
then one streamed `POST /v1/messages?beta=true` per turn for its default model (`claude-opus-4-8` in
2.1.197, `claude-opus-5-5` in 2.1.332; both → BIG_MODEL, deployment gpt-5); a subagent started with
`model: "haiku"` asks for a haiku model (→ SMALL_MODEL, gpt-4o).  2.1.332 also hides tools behind
`ToolSearch` and, with CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1, asks `GET /v1/models?limit=1000`.

The shared bridge serves every tier through chat/completions; `responses_bridge` serves every tier
through the Responses API (both in the test process); the bridge that signs callers in with Entra ID
(`entra_bridge`) is a `python -m bridge` process.  Multi-turn runs are answered by a `ScriptedModel` (it reads each request
and answers the agent and turn it belongs to), since the order of a subagent's and background
requests is not fixed.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.support.bridge import CLIENT_TOKEN, TIERS, RunningBridge, bridge_env, request_lines, running_bridge
from tests.support.fake_azure import (
    DEFAULT_DEPLOYMENTS,
    Agent,
    Conversation,
    FakeAzure,
    RecordedRequest,
    ResponsesText,
    ResponsesToolCalls,
    ScriptedModel,
    Step,
    Text,
    ToolCalls,
    sse_data,
    verify_encrypted,
)
from tests.support.fake_azure.responses_streams import render_responses
from tests.support.fake_azure.streams import render
from tests.support.fake_entra import FakeEntra, User, new_user
from tests.support.paths import ROOT
from tests.support.serving import serving

pytestmark = pytest.mark.process

CLI_DIR = ROOT / "tests" / "cli"
CLI_TIMEOUT = 60  # seconds: a hang (say, the CLI trying to reach api.anthropic.com) fails instead of stalling the suite
MAIN_DEPLOYMENT = TIERS["BIG_MODEL"]  # where the bridge sends the CLI's default (opus) model
SMALL_DEPLOYMENT = TIERS["SMALL_MODEL"]  # where it sends haiku requests
ALL_TIERS_ON_RESPONSES = {"BIG_MODEL_API": "responses", "MIDDLE_MODEL_API": "responses", "SMALL_MODEL_API": "responses"}


def pinned_versions() -> dict[str, Path]:
    """Each pinned CLI version (dependencies `claude-code-<version>` in tests/cli/package.json) and its binary."""
    dependencies = json.loads((CLI_DIR / "package.json").read_text())["dependencies"]
    return {
        name.removeprefix("claude-code-"): CLI_DIR / "node_modules" / name / "bin" / "claude.exe"
        for name in dependencies
        if name.startswith("claude-code-")
    }


VERSIONS = pinned_versions()
LATEST = max(VERSIONS, key=lambda version: tuple(int(part) for part in version.split(".")))


@dataclass(frozen=True)
class Cli:
    """One pinned Claude Code version and its executable."""

    version: str
    path: Path


def cli_params(versions: Sequence[str]) -> list[Any]:
    """`versions` as pytest params, each skipped with a reason when its binary is not installed."""
    return [
        pytest.param(
            Cli(version, VERSIONS[version]),
            id=version,
            marks=pytest.mark.skipif(
                not os.access(VERSIONS[version], os.X_OK),
                reason=f"Claude Code {version} not installed at {VERSIONS[version].relative_to(ROOT)}: "
                "run `npm ci --prefix tests/cli` (scripts/test does)",
            ),
        )
        for version in versions
    ]


@pytest.fixture(name="cli", params=cli_params(list(VERSIONS)))
def every_cli(request: pytest.FixtureRequest) -> Cli:
    """Every pinned CLI version in turn."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(name="latest_cli", params=cli_params([LATEST]))
def newest_cli(request: pytest.FixtureRequest) -> Cli:
    """The newest pinned CLI, for what older versions do not have (tool search)."""
    return request.param  # type: ignore[no-any-return]


@dataclass(repr=False)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    bridge_log: str
    requests: list[RecordedRequest]
    debug_log: str = ""

    def __repr__(self) -> str:
        return f"CliRun(returncode={self.returncode}, requests={len(self.requests)})"

    def report(self) -> str:
        """Everything needed to tell what went wrong, for assertion messages."""
        seen = "\n".join(f"  {r.method} {r.path} deployment={r.deployment}" for r in self.requests) or "  (none)"
        return (
            f"claude exited {self.returncode}\n--- stdout ---\n{self.stdout[-8000:]}\n--- stderr ---\n{self.stderr[-8000:]}\n"
            f"--- requests that reached fake Azure ---\n{seen}\n--- bridge log during the run (tail) ---\n{self.bridge_log[-8000:]}\n"
            f"--- claude debug log (tail) ---\n{self.debug_log[-6000:]}"
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


def cli_env(bridge_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The outer environment minus ANTHROPIC_*/CLAUDE_*, pointed at the bridge, with a throwaway HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(config),
            "ANTHROPIC_BASE_URL": bridge_url,
            # Sent as `Authorization: Bearer`; unlike ANTHROPIC_API_KEY it never needs approving in interactive mode.
            "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "IS_SANDBOX": "1",  # lets --dangerously-skip-permissions run as root
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **extra,
        }
    )
    return env


def run_claude(cli: Cli, bridge: RunningBridge, fake: FakeAzure, tmp_path: Path, workdir: Path, *args: str, **env: str) -> CliRun:
    """Run `claude *args` (the `cli` version) in `workdir` against `bridge`, with `env` added to its environment;
    the run keeps only this run's part of the bridge log, and the CLI's debug log."""
    log_start = len(bridge.log())
    debug_file = tmp_path / f"claude-debug-{len(list(tmp_path.glob('claude-debug-*.log')))}.log"  # one a run

    def finished(returncode: int, stdout: str, stderr: str) -> CliRun:
        debug_log = debug_file.read_text(errors="replace") if debug_file.exists() else ""
        return CliRun(returncode, stdout, stderr, bridge.log()[log_start:], list(fake.requests), debug_log)

    try:
        done = subprocess.run(
            [str(cli.path), *args, "--debug-file", str(debug_file)],
            cwd=workdir,
            env=cli_env(bridge.url, tmp_path / "home", **env),
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
        pytest.fail(f"claude {cli.version} did not finish within {CLI_TIMEOUT}s\n{finished(-1, out, err).report()}")
    return finished(done.returncode, done.stdout, done.stderr)


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


def test_cli_creates_a_file_through_a_write_tool_call(
    cli: Cli, bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """The issue's scenario: `claude -p "create hello.txt containing hi"` ends with hello.txt holding "hi"."""
    target, call = write_hello(tmp_path / "work")
    fake_azure.enqueue(call, Text("Done."), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        cli, bridge, fake_azure, tmp_path, target.parent, "-p", "create hello.txt containing hi", "--dangerously-skip-permissions"
    )

    assert run.returncode == 0, run.report()
    assert target.is_file() and target.read_text() == "hi", run.report()
    assert run.stdout.strip() == "Done.", run.report()
    assert fake_azure.pending == 0, run.report()
    assert_tool_round_trip(run, call, target)


def test_cli_tool_loop_events_in_stream_json(cli: Cli, bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """The same run seen through stream-json: tool_use turn (stop_reason tool_use), tool_result, final text turn."""
    target, call = write_hello(tmp_path / "work")
    fake_azure.enqueue(call, Text("Done."), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        cli,
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


def test_cli_streams_plain_text_as_stream_json(cli: Cli, bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """`claude -p "say hi" --output-format stream-json --verbose`: a text reply streamed in pieces arrives whole."""
    reply = "Hi there — this is the fake deployment, streaming in pieces! 👋"
    fake_azure.enqueue(Text(reply, pieces=8), deployment=MAIN_DEPLOYMENT)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(cli, bridge, fake_azure, tmp_path, workdir, "-p", "say hi", "--output-format", "stream-json", "--verbose")

    assert run.returncode == 0, run.report()
    events = run.events()
    assert events[0]["type"] == "system" and events[0]["subtype"] == "init", run.report()
    assert events[0]["claude_code_version"] == cli.version, run.report()
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
    """A bridge of its own whose tiers (gpt-5 for the CLI's opus, gpt-4o for haiku) are served through the Responses API."""
    log_path = tmp_path_factory.mktemp("responses-bridge") / "b.log"
    with running_bridge(bridge_env(fake_azure, **ALL_TIERS_ON_RESPONSES), log_path, in_process=True) as served:
        yield served


def test_cli_tool_loop_on_a_responses_tier(
    cli: Cli, responses_bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """Reasoning + a Write call on turn 1, text on turn 2: the file is written, the CLI shows the thinking, and
    turn 2 hands Azure back the encrypted reasoning item with the function call and its output."""
    target, _ = write_hello(tmp_path / "work")
    call = ResponsesToolCalls(
        [("Write", {"file_path": str(target), "content": "hi"})], reasoning=["The user wants a file.", "Write it."], seed=7
    )
    fake_azure.enqueue(call, ResponsesText("Done.", reasoning=["It is written."]), deployment=MAIN_DEPLOYMENT)

    run = run_claude(
        cli,
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


@pytest.fixture(params=["chat", "responses"])
def upstream(request: pytest.FixtureRequest) -> tuple[str, RunningBridge]:
    """Each upstream API with a bridge whose every tier uses it: ("chat", bridge), ("responses", responses_bridge)."""
    api: str = request.param
    return api, request.getfixturevalue("bridge" if api == "chat" else "responses_bridge")


CALC = """\
from pathlib import Path


def add(a, b):
    return a - b


def mul(a, b):
    return a * b


result = f"add(2, 3) = {add(2, 3)}"
Path(__file__).with_name("result.txt").write_text(result + "\\n")
print(result)
"""
TASK = "[task fixcalc] Fix add in calc.py, run it, have a subagent count its functions, then write NOTES.md."
SUBAGENT_TASK = "[task countdefs] Count the functions defined in calc.py and answer COUNT=<n>."
FINAL_ANSWER = "Fixed add in calc.py (it prints add(2, 3) = 5); it defines 2 functions; NOTES.md says so."


def fix_calc_model(workdir: Path) -> ScriptedModel:
    """The multi-turn task: Read, Edit, Bash, a haiku subagent (Bash, then its answer), Write + Bash in parallel, the answer."""
    calc, notes = workdir / "calc.py", workdir / "NOTES.md"
    main = Agent(
        "main",
        "[task fixcalc]",
        [
            Step(ToolCalls([("Read", {"file_path": str(calc)})], seed=101)),
            Step(
                ToolCalls(
                    [("Edit", {"file_path": str(calc), "old_string": "return a - b", "new_string": "return a + b"})], seed=102
                ),
                expect=["return a - b"],
            ),
            Step(
                ToolCalls([("Bash", {"command": f"python3 {calc}", "description": "Run calc.py"})], seed=103), expect=["calc.py"]
            ),
            Step(
                ToolCalls(
                    [
                        (
                            "Agent",
                            {
                                "description": "Count functions",
                                "prompt": f"{SUBAGENT_TASK} The file is {calc}.",
                                "subagent_type": "general-purpose",
                                "model": "haiku",
                                "run_in_background": False,
                            },
                        )
                    ],
                    seed=104,
                ),
                expect=["add(2, 3) = 5"],
            ),
            Step(
                ToolCalls(
                    [
                        ("Write", {"file_path": str(notes), "content": "add fixed; 2 functions\n"}),
                        ("Bash", {"command": f"ls {workdir}", "description": "List files"}),
                    ],
                    seed=105,
                ),
                expect=["COUNT=2"],
            ),
            Step(Text(FINAL_ANSWER), expect=["NOTES.md", "calc.py"]),
        ],
    )
    subagent = Agent(
        "subagent",
        "[task countdefs]",
        [
            Step(ToolCalls([("Bash", {"command": f"grep -c '^def ' {calc}", "description": "Count functions"})], seed=201)),
            Step(Text("COUNT=2"), expect=["2"]),
        ],
    )
    return ScriptedModel(subagent, main)


def call_order(api: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The tool calls and their outputs in the order the conversation sent upstream holds them: ("call"|"output", id)."""
    if api == "responses":
        kinds = {"function_call": "call", "function_call_output": "output"}
        return [(kinds[item["type"]], item["call_id"]) for item in body["input"] if item.get("type") in kinds]
    order: list[tuple[str, str]] = []
    for message in body["messages"]:
        order += [("call", call["id"]) for call in message.get("tool_calls") or []]
        if message["role"] == "tool":
            order.append(("output", message["tool_call_id"]))
    return order


def assert_prefix_kept(api: str, bodies: Sequence[dict[str, Any]], report: str, *, same_tools: bool = True) -> None:
    """Each of one agent's consecutive upstream requests starts with everything the one before it sent (the
    conversation, the instructions and, with `same_tools`, the tools), so the upstream's prompt cache keeps hitting."""
    history = "input" if api == "responses" else "messages"
    fixed = ("instructions", "tools") if same_tools else ("instructions",)
    for turn, (before, after) in enumerate(itertools.pairwise(bodies), start=2):
        assert after[history][: len(before[history])] == before[history], f"turn {turn} rewrote the conversation\n{report}"
        changed = [name for name in fixed if after.get(name) != before.get(name)]
        assert not changed, f"turn {turn} changed {changed}\n{report}"


def model_report(model: ScriptedModel) -> str:
    served = "\n".join(f"  {s.agent or '(background)'} turn {s.step + 1} → {s.deployment} ({s.api})" for s in model.served)
    return f"--- scripted model: served ---\n{served or '  (none)'}\n--- scripted model: problems ---\n" + (
        "\n".join(f"  {problem}" for problem in model.problems) or "  (none)"
    )


def test_cli_multi_turn_task_with_a_subagent(
    cli: Cli, upstream: tuple[str, RunningBridge], fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """Read, Edit, Bash, a subagent on haiku, a parallel Write + Bash, then the answer: the files really change, every
    tool result goes back upstream after its call in call order, the subagent's turns go to the haiku deployment with
    its own (smaller) tool list, and each agent keeps its own prompt cache key."""
    api, bridge = upstream
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "calc.py").write_text(CALC)
    model = fix_calc_model(workdir)
    fake_azure.respond_with(model)

    run = run_claude(cli, bridge, fake_azure, tmp_path, workdir, "-p", TASK, "--dangerously-skip-permissions")
    report = f"{run.report()}\n{model_report(model)}"

    # What really happened on disk.
    assert not model.problems, report
    assert run.returncode == 0, report
    assert "return a + b" in (workdir / "calc.py").read_text(), report
    assert (workdir / "result.txt").read_text() == "add(2, 3) = 5\n", report
    assert (workdir / "NOTES.md").read_text() == "add fixed; 2 functions\n", report
    assert run.stdout.strip() == FINAL_ANSWER, report

    # Every turn of both agents was asked for, on the right deployment and API.
    main, sub = model.turns("main"), model.turns("subagent")
    assert sorted({s.step for s in main}) == list(range(6)), report
    assert sorted({s.step for s in sub}) == list(range(2)), report
    assert {(s.deployment, s.api) for s in main} == {(MAIN_DEPLOYMENT, api)}, report
    assert {(s.deployment, s.api) for s in sub} == {(SMALL_DEPLOYMENT, api)}, report
    conversations = {
        name: [Conversation.read(api, s.request.body) for s in turns] for name, turns in (("main", main), ("sub", sub))
    }

    # Each agent's requests extend each other with the same tools (its cached prefix holds); the subagent's list is smaller.
    for turns in (main, sub):
        assert_prefix_kept(api, [s.request.body for s in sorted(turns, key=lambda s: s.step)], report)
    main_tools, sub_tools = ({tuple(c.tools) for c in conversations[name]} for name in ("main", "sub"))
    assert len(main_tools) == 1 and len(sub_tools) == 1, report
    assert len(next(iter(sub_tools))) < len(next(iter(main_tools))), report

    # The last main request holds every round, each call answered after the calls of its round, in call order.
    last = main[-1].request.body
    rounds = conversations["main"][-1].rounds
    assert [[call.name for call in round_] for round_ in rounds] == [
        ["Read"],
        ["Edit"],
        ["Bash"],
        ["Agent"],
        ["Write", "Bash"],
    ], report
    assert call_order(api, last) == [
        entry for round_ in rounds for entry in [("call", c.call_id) for c in round_] + [("output", c.call_id) for c in round_]
    ], report

    # Each agent has one prompt cache key for its life, and the two differ (on Responses the bridge always sends one).
    keys = {name: {s.request.body.get("prompt_cache_key") for s in turns} for name, turns in (("main", main), ("sub", sub))}
    assert len(keys["main"]) == 1 and len(keys["sub"]) == 1, f"prompt_cache_key per agent: {keys}\n{report}"
    if api == "responses" or keys["main"] != {None}:
        assert None not in keys["main"] | keys["sub"], f"prompt_cache_key per agent: {keys}\n{report}"
        assert keys["main"].isdisjoint(keys["sub"]), f"prompt_cache_key per agent: {keys}\n{report}"


@dataclass
class Page:
    """A web page served over HTTPS on loopback for WebFetch (which fetches only https), the CA that signed its
    certificate (for NODE_EXTRA_CA_CERTS), and the paths the CLI fetched."""

    url: str
    ca: Path
    fetched: list[str]


SECRET_WORD = "swordfish"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    fetched: list[str] = []

    async def serve(request: Request) -> Response:
        fetched.append(request.url.path)
        return HTMLResponse(f"<html><body><h1>Notes</h1><p>The secret word is {SECRET_WORD}.</p></body></html>")

    authority = trustme.CA()
    ca, certificate = tmp_path / "page-ca.pem", tmp_path / "page.pem"
    authority.cert_pem.write_to_path(str(ca))
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    with serving(Starlette(routes=[Route("/{path:path}", serve)]), "page", certificate) as url:
        yield Page(f"{url}/notes.html", ca, fetched)


def test_cli_tool_search_loads_a_deferred_tool(
    latest_cli: Cli, upstream: tuple[str, RunningBridge], fake_azure: FakeAzure, page: Page, tmp_path: Path
) -> None:
    """The model calls ToolSearch with `select:WebFetch`; the CLI answers with a `tool_reference` block and sends
    WebFetch (`defer_loading: true`) from then on; the model sees the search's result name WebFetch, is offered
    WebFetch on the next turn and calls it; the CLI fetches the page.  DeferredToolPlaceholder is never offered."""
    api, bridge = upstream
    model = ScriptedModel(
        Agent(
            "main",
            "[task fetchpage]",
            [
                Step(ToolCalls([("ToolSearch", {"query": "select:WebFetch", "max_results": 5})], seed=301)),
                Step(
                    ToolCalls([("WebFetch", {"url": page.url, "prompt": "What is the secret word?"})], seed=302),
                    expect=["WebFetch"],
                ),
                Step(Text(f"The secret word is {SECRET_WORD}."), expect=[SECRET_WORD]),
            ],
        ),
        background=Text(f"The page says the secret word is {SECRET_WORD}."),  # WebFetch's summary of the page
    )
    fake_azure.respond_with(model)
    workdir = tmp_path / "work"
    workdir.mkdir()
    settings = tmp_path / "home" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"skipWebFetchPreflight": True}))  # no asking api.anthropic.com whether the domain is safe

    run = run_claude(
        latest_cli,
        bridge,
        fake_azure,
        tmp_path,
        workdir,
        "-p",
        f"[task fetchpage] Find the secret word on {page.url}.",
        "--dangerously-skip-permissions",
        NODE_EXTRA_CA_CERTS=str(page.ca),
    )
    report = f"{run.report()}\n{model_report(model)}"

    assert not model.problems, report
    assert run.returncode == 0, report
    offered = [Conversation.read(r.api, r.body).tools for r in run.requests if isinstance(r.body, dict)]
    assert not [tools for tools in offered if "DeferredToolPlaceholder" in tools], f"offered upstream: {offered}\n{report}"
    assert run.stdout.strip() == f"The secret word is {SECRET_WORD}.", report
    assert page.fetched == ["/notes.html"], report
    main = model.turns("main")
    assert sorted({s.step for s in main}) == [0, 1, 2], report
    assert {(s.deployment, s.api) for s in main} == {(MAIN_DEPLOYMENT, api)}, report

    # Loading WebFetch changed the CLI's tool list once; the conversation's prefix holds throughout, and after the
    # search the tools sent upstream stay the same.
    bodies = [s.request.body for s in sorted(main, key=lambda s: s.step)]
    assert_prefix_kept(api, bodies, report, same_tools=False)
    assert_prefix_kept(api, bodies[1:], report)


def test_cli_discovers_the_bridge_models(latest_cli: Cli, bridge: RunningBridge, fake_azure: FakeAzure, tmp_path: Path) -> None:
    """With CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1 the CLI (2.1.332; 2.1.197 skips discovery while
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is set, as it is here) asks the bridge `GET /v1/models?limit=1000` and keeps
    the `claude-*` models of the Anthropic list format it gets back: one for each deployment the bridge serves, its
    display name naming that deployment.  A second run picks the model of the haiku deployment by that id, and its
    request goes to that deployment."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    fake_azure.enqueue(Text("hi"), deployment=MAIN_DEPLOYMENT)
    discovery = {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}

    run = run_claude(latest_cli, bridge, fake_azure, tmp_path, workdir, "-p", "say hi", **discovery)

    # The request the CLI sent, asked again, for the failure message: what the bridge answers it.
    answer = httpx.get(
        f"{bridge.url}/v1/models?limit=1000",
        headers={"Authorization": f"Bearer {CLIENT_TOKEN}", "anthropic-version": "2023-06-01"},
    )
    discovery_log = "\n".join(line for line in run.debug_log.splitlines() if "[gatewayDiscovery]" in line)
    why = (
        f"--- the CLI's discovery log ---\n{discovery_log}\n--- the bridge's answer to GET /v1/models?limit=1000 ---\n"
        f"{answer.status_code} {answer.text[:3000]}\n{run.report()}"
    )
    assert run.returncode == 0 and run.stdout.strip() == "hi", why
    assert "[gatewayDiscovery] cached" in discovery_log, why
    (cache,) = (tmp_path / "home").rglob("gateway-models.json")
    models = json.loads(cache.read_text())["models"]
    assert all(model["id"].startswith("claude") for model in models), f"{models}\n{why}"
    named = {
        deployment: [m["id"] for m in models if deployment in m.get("display_name", "")] for deployment in set(TIERS.values())
    }
    assert all(named.values()), f"display names naming each deployment: {named}\n{why}"

    fake_azure.reset()
    fake_azure.enqueue(Text("hi from the small model"), deployment=SMALL_DEPLOYMENT)
    small = run_claude(
        latest_cli, bridge, fake_azure, tmp_path, workdir, "-p", "say hi", "--model", named[SMALL_DEPLOYMENT][0], **discovery
    )

    assert small.returncode == 0 and small.stdout.strip() == "hi from the small model", small.report()
    assert {r.deployment for r in small.requests} == {SMALL_DEPLOYMENT}, small.report()


# ----- signing in with Microsoft Entra ID through apiKeyHelper (CLIENT_AUTH=entra) ---------------------------------


@pytest.fixture(scope="module")
def entra_bridge(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """A bridge that signs callers in with Entra ID, each with a daily budget of one token (none for Bridge.Lead; a
    cent a day for Bridge.Frugal)."""
    overrides = "role:Bridge.Lead=daily:unlimited;role:Bridge.Frugal=daily:unlimited,daily_usd:0.01"
    env = bridge_env(fake_azure, **entra.bridge_settings(), BUDGET_DAILY_TOKENS="1", BUDGET_OVERRIDES=overrides)
    with running_bridge(env, tmp_path_factory.mktemp("entra-bridge") / "b.log") as served:
        yield served


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
    return [
        line for line in request_lines(run.bridge_log) if line.get("user_id") == user.object_id and line["route"] == "messages"
    ]


def test_cli_signs_in_through_an_api_key_helper(
    cli: Cli, entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """apiKeyHelper prints an Entra ID access token; the CLI works and the bridge knows who asked."""
    lead = new_user("Bridge.Lead")
    sign_in_with_helper(tmp_path, entra.token(lead))
    fake_azure.enqueue(Text("Signed in and answering."), deployment=MAIN_DEPLOYMENT)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(cli, entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", ANTHROPIC_AUTH_TOKEN="")

    assert run.returncode == 0, run.report()
    assert run.stdout.strip() == "Signed in and answering.", run.report()
    lines = user_lines(run, lead)
    assert lines and all((line["user_name"], line["auth"], line["status"]) == (lead.username, "entra", 200) for line in lines)


def test_cli_over_budget_shows_the_bridges_message_at_once(
    cli: Cli, entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
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
    run = run_claude(cli, entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", ANTHROPIC_AUTH_TOKEN="")
    took = time.monotonic() - started

    assert run.returncode != 0, run.report()
    assert "token budget used up" in run.stdout + run.stderr, run.report()
    assert "resets at" in run.stdout + run.stderr, run.report()
    refused = user_lines(run, spender)
    assert [line["status"] for line in refused] == [429], f"one request, no retries\n{run.report()}"
    assert len(fake_azure.requests) == calls_before, run.report()
    assert took < CLI_TIMEOUT / 4, f"shown at once (took {took:.1f} s)\n{run.report()}"


def test_cli_over_a_dollar_budget_shows_which_budget_and_when_it_resets(
    cli: Cli, entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """A cent a day, spent by one answer (10,000 input tokens of gpt-5 at $1.25 per million): the CLI shows the
    bridge's message naming the daily dollar budget, what was used of it and when it resets, and does not retry."""
    frugal = new_user("Bridge.Frugal")
    token = entra.token(frugal)
    fake_azure.enqueue(Text("That was the cent.", prompt_tokens=10_000), deployment=MAIN_DEPLOYMENT)
    spent = httpx.post(
        entra_bridge.url + "/v1/messages",
        headers={"x-api-key": token},
        json={"model": "claude-opus-4-8", "max_tokens": 20, "messages": [{"role": "user", "content": "spend it"}]},
        timeout=30,
    )
    assert spent.status_code == 200 and spent.headers["x-bridge-budget-remaining-usd-day"] == "0.01", spent.headers
    sign_in_with_helper(tmp_path, token)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(cli, entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", ANTHROPIC_AUTH_TOKEN="")

    shown = run.stdout + run.stderr
    assert run.returncode != 0, run.report()
    assert "Daily dollar budget used up: $0.01 of $0.01 today (UTC). It resets at " in shown, run.report()
    assert " 00:00 UTC" in shown, run.report()
    assert [line["status"] for line in user_lines(run, frugal)] == [429], f"one request, no retries\n{run.report()}"


def test_cli_model_discovery_with_an_api_key_helper_and_the_documented_workaround(
    latest_cli: Cli, entra_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """anthropics/claude-code#56675 (2.1.129 to at least 2.1.223, #84683): with sign-in only from an apiKeyHelper,
    Claude Code never asked GET /v1/models.  2.1.332 asks with the helper's token.  The workaround docs/gateway.md
    gives for the older versions, starting Claude Code with ANTHROPIC_AUTH_TOKEN from the same command as well, must
    not break 2.1.332: discovery then goes with that token or the helper's (2.1.332 resolves both at start, and which
    one the models request carries varies from run to run), and the messages always with the helper's (x-api-key,
    which the bridge reads first), so requests keep working after the token given at start has expired."""
    helper_user, start_user = new_user("Bridge.Lead"), new_user("Bridge.Lead")
    sign_in_with_helper(tmp_path, entra.token(helper_user))
    workdir = tmp_path / "work"
    workdir.mkdir()
    discovery = {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}

    def who_asked(run: CliRun) -> list[tuple[str, str]]:
        marker = "bridge.telemetry.request_log "
        lines = [json.loads(line.partition(marker)[2]) for line in run.bridge_log.splitlines() if marker + "{" in line]
        return [(line["route"], line["user_id"]) for line in lines if line["route"] in ("models", "messages")]

    fake_azure.enqueue(Text("hi"), deployment=MAIN_DEPLOYMENT)
    alone = run_claude(
        latest_cli, entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", ANTHROPIC_AUTH_TOKEN="", **discovery
    )
    assert alone.returncode == 0 and who_asked(alone) == [("models", helper_user.object_id), ("messages", helper_user.object_id)]

    fake_azure.enqueue(Text("hi"), deployment=MAIN_DEPLOYMENT)
    start_token = entra.token(start_user)
    both = run_claude(
        latest_cli, entra_bridge, fake_azure, tmp_path, workdir, "-p", "say hi", ANTHROPIC_AUTH_TOKEN=start_token, **discovery
    )
    assert both.returncode == 0, both.report()
    (models, asker), messages = who_asked(both)
    assert models == "models" and asker in (start_user.object_id, helper_user.object_id), both.report()
    assert messages == ("messages", helper_user.object_id), f"messages go with the helper's token\n{both.report()}"
