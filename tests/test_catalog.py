"""Every catalogued Azure behaviour (`tests.support.fake_azure.catalog.ROWS`), driven through the bridge as a user hits it.

One case per catalog row (`test_catalog_row[<key>]`): a bridge in
front of the fake Azure (served in the test process; `python -m bridge` for the
rows that sign in with a managed identity, which reaches it through the
process environment), called with the anthropic SDK (or the openai SDK, or
Cursor's raw body, where the row concerns the OpenAI front), and the outcome
the user sees asserted: the answer after the bridge adapted (and, where it
learns, that the next request needs no retry: the fake's request log), the
stream or answer itself, or the client's error (status, type, a message that
says what to do, `x-should-retry: false` where retrying cannot help).
`docs/azure-behaviours.md` is the same list as a table.

One fake serves every case; each case uses deployments of its own (what a
bridge learns is per deployment), and bridges are started once per settings
combination (`BRIDGES`), only when a selected case needs them.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse
from tests.support.bridge import CHAT_TIERS, CLIENT_TOKEN, PROCESS_ONLY, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import (
    DEFAULT_DEPLOYMENTS,
    Deployment,
    Error,
    FakeAzure,
    RecordedRequest,
    ResponsesFailure,
    ResponsesText,
    ResponsesToolCalls,
    Search,
    Text,
    ToolCalls,
    like,
)
from tests.support.fake_azure.catalog import ROWS, ROWS_BY_KEY, Row
from tests.support.fake_azure.limits import prompt_tokens
from tests.support.fake_identity import FakeIdentity
from tests.support.paths import ROOT
from tests.support.serving import running

pytestmark = pytest.mark.slow  # every behaviour through bridges of a dozen settings, with the waits Azure names

DOC = ROOT / "docs" / "azure-behaviours.md"
ANSWER = "Hello from fake Azure."
THINKING = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}
NO_THINKING = {"thinking": {"type": "disabled"}}
SESSION = "3f1c2a9e-7d41-4b0e-9c55-0e2f7a6b1d20"
BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
SAFE_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
ORPHAN_RESULT = {
    "role": "user",
    "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01GoneAfterCompaction", "content": "42"},
        {"type": "text", "text": "What was the result?"},
    ],
}
"""A tool result whose call compaction removed."""


def reasoning(name: str, **profile: Any) -> Deployment:
    """A gpt-5-like reasoning deployment (any field overridden)."""
    return Deployment(name, **{"reasoning": True, "max_output_tokens": 128_000, **profile})


# --- deployments: each case's own, so what a bridge learns for one never helps another ------------------------

GPT5 = "cat-gpt-5"
SWITCH_FROM, SWITCH_TO = "cat-switch-from", "cat-switch-to"
PREVIEW_FROM, PREVIEW_TO = "cat-preview-from", "cat-preview-to"
CODEX_ON_CHAT = "cat-codex-chat-tier"
GPT54_ON_CHAT = "cat-gpt-5.4-chat-tier"
GPT56_ON_CHAT = "cat-gpt-5.6-chat-tier"
RESPONSES_ON_OLD_VERSION = "cat-responses-tier-2024-10-21"
MISSING = "cat-no-such-deployment"
MISSING_SMALL = "cat-no-such-small-deployment"

DEPLOYMENTS: tuple[Deployment, ...] = (
    *DEFAULT_DEPLOYMENTS,
    reasoning(GPT5, context_window=400_000, max_input_tokens=272_000, model="gpt-5-2025-08-07"),
    reasoning(SWITCH_FROM, model="gpt-5-2025-08-07"),
    like("gpt-5.1", SWITCH_TO),
    reasoning(PREVIEW_FROM, model="gpt-5-2025-08-07"),
    like("gpt-5.1", PREVIEW_TO),
    like("gpt-5.1-codex", CODEX_ON_CHAT),
    like("gpt-5.4", GPT54_ON_CHAT),
    reasoning(GPT56_ON_CHAT, efforts=("none", "low", "medium", "high", "xhigh"), effort_with_tools_on_chat=False),
    reasoning(RESPONSES_ON_OLD_VERSION),
)


def deploy(w: World, deployment: Deployment) -> str:
    w.fake.add_deployment(deployment)
    return deployment.name


# --- bridges: one per settings combination ---------------------------------------------------------------------

AUTOMATIC = dict.fromkeys(CHAT_TIERS, "")
"""No tier pinned to an API: Responses on Azure's v1 API (and on dated versions from 2025-03-01-preview)."""
BRIDGES: dict[str, dict[str, str]] = {
    "responses": {},
    "chat": {
        "AZURE_OPENAI_API_VERSION": "2024-10-21",
        "BIG_MODEL": RESPONSES_ON_OLD_VERSION,
        "BIG_MODEL_API": "responses",
        "SMALL_MODEL": MISSING_SMALL,
    },
    "chat-v1-tiers": {
        "BIG_MODEL": CODEX_ON_CHAT,
        "BIG_MODEL_API": "chat",
        "MIDDLE_MODEL": GPT54_ON_CHAT,
        "MIDDLE_MODEL_API": "chat",
        "SMALL_MODEL": GPT56_ON_CHAT,
        "SMALL_MODEL_API": "chat",
    },
    "chat-2024-06-01": {"AZURE_OPENAI_API_VERSION": "2024-06-01"},
    "responses-2025-03-01-preview": {"AZURE_OPENAI_API_VERSION": "2025-03-01-preview"},
    "pool": {"AZURE_OPENAI_ENDPOINT_2": "{localhost}", "AZURE_OPENAI_API_KEY_2": "{key}"},
    "pool-spent": {"AZURE_OPENAI_ENDPOINT_2": "{localhost}", "AZURE_OPENAI_API_KEY_2": "{key}"},
    "wrong-key": {"AZURE_OPENAI_API_KEY": "wrong-key-0123456789abcdef"},
    "wrong-path": {"AZURE_OPENAI_ENDPOINT": "{url}/not-the-resource-url"},
    "unknown-version": {"AZURE_OPENAI_API_VERSION": "2023-01-01"},
    "entra": {"AZURE_OPENAI_API_KEY": "", "HOME": "{home}", "IDENTITY_ENDPOINT": "{identity}", "IDENTITY_HEADER": "{secret}"},
}
"""Settings of each bridge, over `bridge_env` (the fake, its key, the client token, BIG/MIDDLE/SMALL_MODEL);
`{url}`, `{localhost}` (the fake by another host name), `{key}`, `{home}`, `{identity}` and `{secret}` are filled in.
`pool-spent` ends with both endpoints resting for a day, so it serves that case alone."""
PROCESS_ROWS = frozenset({"transport.entra_token_invalid", "transport.permission_denied"})
"""The rows served by the `entra` bridge: `python -m bridge`, its managed identity set in its environment."""


@dataclass
class World:
    fake: FakeAzure
    tmp: Path
    identity: FakeIdentity
    bridges: ExitStack
    running: dict[str, RunningBridge] = field(default_factory=dict)

    def bridge(self, name: str) -> RunningBridge:
        """The bridge of settings `name` (`BRIDGES`), started on first use."""
        if name not in self.running:
            url = str(self.fake.url)
            values = {
                "url": url,
                "localhost": url.replace("127.0.0.1", "localhost"),
                "key": self.fake.api_key or "",
                "home": str(self.tmp),
                "identity": self.identity.endpoint,
                "secret": self.identity.secret,
            }
            settings = {setting: value.format(**values) for setting, value in BRIDGES[name].items()}
            in_process = not PROCESS_ONLY & settings.keys()
            env = bridge_env(self.fake, **{**AUTOMATIC, **settings})
            self.running[name] = self.bridges.enter_context(running_bridge(env, self.tmp / f"{name}.log", in_process=in_process))
        return self.running[name]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    fake = FakeAzure(DEPLOYMENTS)
    identity = FakeIdentity(fake)
    with running(fake), running(identity), ExitStack() as bridges:
        yield World(fake, tmp_path_factory.mktemp("catalog"), identity, bridges)


# --- clients and what they see ---------------------------------------------------------------------------------


def anthropic_client(bridge: RunningBridge) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0, timeout=60)


def openai_client(bridge: RunningBridge) -> openai.OpenAI:
    return openai.OpenAI(base_url=bridge.url + "/v1", api_key=CLIENT_TOKEN, max_retries=0, timeout=60)


def ask(
    bridge: RunningBridge,
    model: str,
    prompt: str = "Say hello.",
    *,
    stream: bool = False,
    messages: list[dict[str, Any]] | None = None,
    max_tokens: int = 1024,
    **extra: Any,
) -> Any:
    """One Messages API request with the anthropic SDK; the final `Message`."""
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": messages or [{"role": "user", "content": prompt}],
        **extra,
    }
    with anthropic_client(bridge) as client:
        if stream:
            with client.messages.stream(**kwargs) as events:
                return events.get_final_message()
        return client.messages.create(**kwargs)


def streamed_events(bridge: RunningBridge, model: str, prompt: str = "Say hello.", **extra: Any) -> list[Any]:
    """A streamed request read raw: its events."""
    body = {"model": model, "max_tokens": 1024, "stream": True, "messages": [{"role": "user", "content": prompt}], **extra}
    response = httpx.post(bridge.url + "/v1/messages", json=body, headers={"x-api-key": CLIENT_TOKEN}, timeout=60)
    assert response.status_code == 200, response.text
    return parse_sse(response.content)


def streamed(bridge: RunningBridge, model: str, prompt: str = "Say hello.", **extra: Any) -> Any:
    """A streamed request read raw: the event grammar checked, then the message the SDK's accumulator builds."""
    events = streamed_events(bridge, model, prompt, **extra)
    check_grammar(events)
    return accumulate(events)


def refused(bridge: RunningBridge, model: str, status: int, kind: str, *fragments: str, **request: Any) -> Any:
    """The anthropic SDK's error for a request the bridge refuses: Anthropic's shape, `status`, `kind`, the
    message holding every fragment."""
    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(bridge, model, **request)
    error = caught.value
    assert error.status_code == status, error.response.text
    body = error.response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind, body
    message = body["error"]["message"]
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in error.response.text
    return error


def not_to_retry(error: Any) -> None:
    """`x-should-retry: false`: the SDKs (and so Claude Code) show the error at once instead of retrying."""
    assert error.response.headers.get("x-should-retry") == "false", dict(error.response.headers)


def text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def answer_of(completion: Any) -> str:
    """An OpenAI completion's answer, after the reasoning the bridge shows in a `<details>` section."""
    return str(completion.choices[0].message.content or "").rpartition("</details>")[2].strip()


def history(message: Any, *, keep: Callable[[Any], bool] | None = None) -> dict[str, Any]:
    """The assistant turn as Claude Code sends it back (only the blocks `keep` keeps, when given)."""
    return {"role": "assistant", "content": [block.to_dict() for block in message.content if keep is None or keep(block)]}


def received(w: World, deployment: str) -> list[RecordedRequest]:
    """What the fake received for `deployment`, in order."""
    return [r for r in w.fake.requests if r.deployment == deployment]


def bodies(w: World, deployment: str) -> list[dict[str, Any]]:
    return [r.body for r in received(w, deployment)]


def apis(w: World, deployment: str) -> list[str]:
    return [r.api for r in received(w, deployment)]


def input_types(body: dict[str, Any]) -> list[str]:
    return [item.get("type", "message") for item in body["input"]]


def report(w: World) -> str:
    logs = "\n".join(f"--- {name} ---\n{b.log()[-3000:]}" for name, b in w.running.items())
    sent = "\n".join(f"  {r.api} {r.path} {dict(r.query)} {r.deployment}" for r in w.fake.requests[-12:])
    return f"last requests:\n{sent}\n{logs}"


def learned(w: World, bridge: str, deployment: str, refusals: int = 1, **request: Any) -> tuple[Any, dict[str, Any]]:
    """A request answered after the bridge adapted `refusals` times, then the same request again, which must pass at
    once (the lesson is remembered for the deployment).  Returns the first answer and the body the second sent."""
    before = len(received(w, deployment))
    answer = ask(w.bridge(bridge), deployment, **request)
    assert len(received(w, deployment)) - before == refusals + 1, report(w)
    again = ask(w.bridge(bridge), deployment, **request)
    assert len(received(w, deployment)) - before == refusals + 2, f"the adaptation was not remembered\n{report(w)}"
    assert text_of(again) == text_of(answer)
    return answer, bodies(w, deployment)[-1]


def reasoning_turn(w: World, bridge: str, deployment: str, **request: Any) -> tuple[dict[str, Any], Any]:
    """A first turn on a reasoning deployment: the user's message and the answer with its thinking block."""
    ask_turn = {"role": "user", "content": "What is here?"}
    first = ask(w.bridge(bridge), deployment, messages=[ask_turn], **{**THINKING, **request})
    assert first.content[0].type == "thinking" and first.content[0].signature, first.content
    return ask_turn, first


# --- the cases, one per catalog row -----------------------------------------------------------------------------

Scenario = Callable[[World], None]
SCENARIOS: dict[str, Scenario] = {}


def row(key: str) -> Callable[[Scenario], Scenario]:
    assert key in ROWS_BY_KEY, f"not in the catalog index: {key}"

    def register(scenario: Scenario) -> Scenario:
        assert key not in SCENARIOS, f"two cases for {key}"
        SCENARIOS[key] = scenario
        return scenario

    return register


# Responses API: reasoning items and state ------------------------------------------------------------------------


@row("responses.reasoning_not_persisted")
def _(w: World) -> None:
    """Thinking blocks whose signature carries no encrypted reasoning (a foreign or cut signature) are never sent."""
    name = deploy(w, reasoning("cat-not-persisted"))
    turns = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "azure-reasoning.v1.rs_0123456789abcdef."},
                {"type": "thinking", "thinking": "hm", "signature": "EqQBCkYIBxgCKkBforeignAnthropicSignature"},
                {"type": "text", "text": "Hello."},
            ],
        },
        {"role": "user", "content": "Again."},
    ]
    assert text_of(ask(w.bridge("responses"), name, messages=turns)) == ANSWER
    [sent] = bodies(w, name)
    assert "reasoning" not in input_types(sent), sent["input"]


@row("responses.function_call_without_reasoning")
def _(w: World) -> None:
    """A tool call sent back without the thinking that preceded it: the bridge sends calls without item ids."""
    name = deploy(w, reasoning("cat-call-without-reasoning"))
    w.fake.enqueue(ResponsesToolCalls([("Bash", {"command": "ls"})]), deployment=name)
    user, first = reasoning_turn(w, "responses", name, tools=[BASH])
    call = first.content[-1]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "a.txt"}]}
    without_thinking = history(first, keep=lambda block: block.type != "thinking")
    answer = ask(w.bridge("responses"), name, messages=[user, without_thinking, result], tools=[BASH], **THINKING)
    assert text_of(answer) == ANSWER
    assert len(received(w, name)) == 2, report(w)
    sent = bodies(w, name)[-1]
    assert input_types(sent) == ["message", "function_call", "function_call_output"]
    assert "id" not in sent["input"][1]


@row("responses.reasoning_without_following_item")
def _(w: World) -> None:
    """A turn interrupted after its thinking (a thinking block and nothing after it): that reasoning is left out."""
    name = deploy(w, reasoning("cat-no-follower"))
    user, first = reasoning_turn(w, "responses", name)
    interrupted = history(first, keep=lambda block: block.type == "thinking")
    answer = ask(w.bridge("responses"), name, messages=[user, interrupted, {"role": "user", "content": "Go on."}], **THINKING)
    assert text_of(answer) == ANSWER
    assert len(received(w, name)) == 2, f"no retry needed\n{report(w)}"
    assert input_types(bodies(w, name)[-1]) == ["message", "message"]


@row("responses.orphan_function_call_output")
def _(w: World) -> None:
    """A tool result whose call is gone (compaction) travels as user text."""
    name = deploy(w, reasoning("cat-orphan-output"))
    assert text_of(ask(w.bridge("responses"), name, messages=[ORPHAN_RESULT])) == ANSWER
    [sent] = bodies(w, name)
    assert "function_call_output" not in input_types(sent)
    assert "toolu_01GoneAfterCompaction" in json.dumps(sent["input"]) and "42" in json.dumps(sent["input"])


@row("responses.duplicate_item")
def _(w: World) -> None:
    """The same thinking block twice in a conversation: its reasoning item is sent once."""
    name = deploy(w, reasoning("cat-duplicate-item"))
    user, first = reasoning_turn(w, "responses", name)
    turns = [user, history(first), {"role": "user", "content": "Again."}, history(first), {"role": "user", "content": "And?"}]
    assert text_of(ask(w.bridge("responses"), name, messages=turns, **THINKING)) == ANSWER
    assert len(received(w, name)) == 2, f"no retry needed\n{report(w)}"
    assert input_types(bodies(w, name)[-1]).count("reasoning") == 1


def _switch_models(w: World, bridge: str, source: str, target: str) -> None:
    """A conversation started on `source` goes on on `target` (Claude Code's /model, or another resource)."""
    user, first = reasoning_turn(w, bridge, source)
    again = ask(w.bridge(bridge), target, messages=[user, history(first), {"role": "user", "content": "More."}], **THINKING)
    assert text_of(again) == ANSWER
    refused_body, resent = bodies(w, target)
    assert "reasoning" in input_types(refused_body), report(w)
    assert "reasoning" not in input_types(resent)


@row("responses.encrypted_content_unverified")
def _(w: World) -> None:
    _switch_models(w, "responses", SWITCH_FROM, SWITCH_TO)


@row("responses.encrypted_content_null_code")
def _(w: World) -> None:
    _switch_models(w, "responses-2025-03-01-preview", PREVIEW_FROM, PREVIEW_TO)
    assert {r.path for r in received(w, PREVIEW_TO)} == {"/openai/responses"}


@row("responses.encrypted_content_old_message")
def _(w: World) -> None:
    """The older wording (`The encrypted content gAAA… could not be verified.`), scripted: the same recovery."""
    name = deploy(w, reasoning("cat-old-wording"))
    user, first = reasoning_turn(w, "responses", name)
    older = {"message": "The encrypted content gAAAAABo3x could not be verified.", "type": "invalid_request_error"}
    w.fake.enqueue(Error(400, {"error": {**older, "param": None, "code": None}}, pretty=True), deployment=name)
    again = ask(w.bridge("responses"), name, messages=[user, history(first), {"role": "user", "content": "More."}], **THINKING)
    assert text_of(again) == ANSWER
    assert ["reasoning" in input_types(body) for body in bodies(w, name)[1:]] == [True, False], report(w)


@row("responses.encrypted_content_unsupported")
def _(w: World) -> None:
    """o4-mini (and gpt-4.1-mini, gpt-5-chat) refuse encrypted reasoning: it is left out of `include`, the rest kept."""
    o4 = deploy(w, like("o4-mini", "cat-o4-mini-responses"))
    _, sent = learned(w, "responses", o4, **THINKING)
    assert "include" not in sent and sent["reasoning"]["effort"] == "high"
    ask(w.bridge("responses"), o4, tools=[WEB_SEARCH], **THINKING)
    assert bodies(w, o4)[-1]["include"] == ["web_search_call.action.sources"], "the other include values stay"
    assert len(received(w, o4)) == 4, report(w)
    mini = deploy(w, like("gpt-4.1-mini", "cat-gpt-4.1-mini"))
    _, sent = learned(w, "responses", mini, refusals=2, **THINKING)
    assert "include" not in sent and "reasoning" not in sent


@row("responses.summary_unverified_organization")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-unverified-org", summaries="unverified_organization"))
    _, sent = learned(w, "responses", name, **THINKING)
    assert sent["reasoning"] == {"effort": "high"}


@row("responses.summary_unsupported")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-no-summaries", summaries="unsupported", model="o1-mini"))
    _, sent = learned(w, "responses", name, **THINKING)
    assert sent["reasoning"] == {"effort": "high"}


@row("responses.effort_unsupported")
def _(w: World) -> None:
    """Thinking disabled asks for `minimal`; gpt-5.1 has none lower than `low` but `none`: stepped to `none`."""
    name = deploy(w, like("gpt-5.1", "cat-gpt-5.1-minimal"))
    _, sent = learned(w, "responses", name, extra_body=NO_THINKING)
    assert sent["reasoning"]["effort"] == "none"


@row("chat.effort_invalid_value")
def _(w: World) -> None:
    """o4-mini on chat/completions offers low, medium, high: `minimal` is stepped up to `low`."""
    name = deploy(w, like("o4-mini", "cat-o4-mini-chat"))
    _, sent = learned(w, "chat", name, extra_body=NO_THINKING)
    assert sent["reasoning_effort"] == "low"


def _temperature_dropped(w: World, bridge: str) -> None:
    """Claude Code's temperature to a reasoning deployment: left out, learned."""
    _, sent = learned(w, bridge, deploy(w, reasoning(f"cat-temperature-{bridge}")), extra_body={"temperature": 0.2})
    assert "temperature" not in sent


@row("responses.sampling_on_reasoning")
def _(w: World) -> None:
    _temperature_dropped(w, "responses")


@row("responses.output_only_field")
def _(w: World) -> None:
    """Cursor sends Responses-shaped input with output-only fields (`status`) and foreign ids: the bridge rebuilds
    every item, so none of them reaches Azure."""
    name = deploy(w, reasoning("cat-output-only-field"))
    body = {
        "model": name,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_cursor1", "summary": [], "status": "completed"},
            {
                "type": "function_call",
                "id": "fc_cursor1",
                "call_id": "call_1",
                "name": "Bash",
                "arguments": "{}",
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt", "status": "completed"},
        ],
        "tools": [{"type": "function", "name": "Bash", "parameters": BASH["input_schema"]}],
    }
    bridge = w.bridge("responses")
    response = httpx.post(
        bridge.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {CLIENT_TOKEN}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].endswith(ANSWER)
    [sent] = bodies(w, name)
    assert input_types(sent) == ["message", "function_call", "function_call_output"]
    assert all("status" not in item and "id" not in item for item in sent["input"]), sent["input"]


@row("responses.foreign_id_prefix")
def _(w: World) -> None:
    """Claude Code's `toolu_` ids travel as call ids only, never as item ids."""
    name = deploy(w, reasoning("cat-foreign-id"))
    call = {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "Bash", "input": {"command": "ls"}}
    turns = [
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a.txt"}]},
    ]
    assert text_of(ask(w.bridge("responses"), name, messages=turns, tools=[BASH])) == ANSWER
    [sent] = bodies(w, name)
    function_call = sent["input"][1]
    assert function_call["call_id"] == call["id"] and "id" not in function_call


# Responses API: parameters, tools, inputs --------------------------------------------------------------------------


@row("responses.max_output_tokens_minimum")
def _(w: World) -> None:
    """Claude Code's model probe (`max_tokens: 1`) is sent with Azure's minimum, 16."""
    name = deploy(w, reasoning("cat-probe"))
    message = ask(w.bridge("responses"), name, max_tokens=1)
    assert message.type == "message"
    [sent] = bodies(w, name)
    assert sent["max_output_tokens"] == 16


def _tool_name_round_trip(w: World, bridge: str, name: str, tool_name: str) -> None:
    """A tool whose name Azure refuses works: Azure sees a safe name, the client gets its own name back."""
    tool = {**BASH, "name": tool_name}
    assert text_of(ask(w.bridge(bridge), name, tools=[tool])) == ANSWER, report(w)
    sent = bodies(w, name)[-1]["tools"][0]
    upstream = sent.get("name") or sent["function"]["name"]
    assert SAFE_TOOL_NAME.match(upstream), upstream
    w.fake.enqueue(ToolCalls([(upstream, {"command": "ls"})]), deployment=name)
    [call] = [block for block in ask(w.bridge(bridge), name, tools=[tool]).content if block.type == "tool_use"]
    assert call.name == tool_name


@row("tools.name_pattern")
def _(w: World) -> None:
    for bridge in ("responses", "chat"):
        _tool_name_round_trip(w, bridge, deploy(w, Deployment(f"cat-dotted-tool-{bridge}")), "github.create_issue")


@row("tools.name_too_long")
def _(w: World) -> None:
    long_name = "mcp__a_server_with_a_rather_long_name__and_a_tool_with_an_even_longer_name"
    assert len(long_name) > 64
    for bridge in ("responses", "chat"):
        _tool_name_round_trip(w, bridge, deploy(w, Deployment(f"cat-long-tool-{bridge}")), long_name)


@row("tools.strict_schema_not_closed")
def _(w: World) -> None:
    """An OpenAI client's `strict: true` tool with an open schema: the bridge never sends tools as strict."""
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}, "strict": True},
    }
    for bridge in ("responses", "chat"):
        name = deploy(w, reasoning(f"cat-strict-tool-{bridge}"))
        with openai_client(w.bridge(bridge)) as client:
            answer = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}], tools=[tool])
        assert answer_of(answer) == ANSWER
        [sent] = bodies(w, name)
        assert sent["tools"][0].get("strict", sent["tools"][0].get("function", {}).get("strict")) in (False, None)


@row("text_format.strict_schema_not_closed")
def _(w: World) -> None:
    """An OpenAI client's strict json_schema that Azure refuses as strict: sent again not strict, answered."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}
    for bridge, strict_of in (
        ("responses", lambda body: body["text"]["format"]["strict"]),
        ("chat", lambda body: body["response_format"]["json_schema"]["strict"]),
    ):
        name = deploy(w, reasoning(f"cat-loose-schema-{bridge}"))
        w.fake.enqueue(Text('{"city": "Oslo"}'), deployment=name)
        with openai_client(w.bridge(bridge)) as client:
            answer = client.chat.completions.create(
                model=name, messages=[{"role": "user", "content": "Where?"}], response_format=response_format
            )
        assert json.loads(answer_of(answer)) == {"city": "Oslo"}
        assert [strict_of(body) for body in bodies(w, name)] == [True, False], report(w)


@row("responses.web_search_server_error")
def _(w: World) -> None:
    """Azure's web search failing with a 500 (2025): after the pool's retries, an error that names the cause."""
    name = deploy(w, reasoning("cat-search-fails", web_search_outcome="server_error"))
    error = refused(w.bridge("responses"), name, 500, "api_error", "web_search", "leave the tool out", tools=[WEB_SEARCH])
    not_to_retry(error)


@row("responses.web_search_searching")
def _(w: World) -> None:
    """Search items left `searching` in a completed answer still become the search blocks and the cited answer."""
    name = deploy(w, Deployment("cat-search-stuck", web_search_outcome="searching", model="gpt-4.1-mini"))
    found = [("https://example.com/oslo", "Oslo")]
    w.fake.enqueue(ResponsesText("Oslo is the capital.", searches=[Search("capital of norway", found)]), deployment=name)
    message = ask(w.bridge("responses"), name, stream=True, tools=[WEB_SEARCH])
    kinds = [block.type for block in message.content]
    assert kinds[:2] == ["server_tool_use", "web_search_tool_result"], kinds
    assert message.content[0].input == {"query": "capital of norway"}
    assert text_of(message) == "Oslo is the capital." and message.stop_reason == "end_turn"


def _image(data: str, media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _image_refused(w: World, case: str, image: dict[str, Any], *fragments: str) -> None:
    """An image Azure cannot use: a 400 in Anthropic's wording (which Claude Code recognises), on both APIs."""
    for bridge in ("responses", "chat"):
        name = deploy(w, Deployment(f"cat-image-{case}-{bridge}"))
        content = [{"type": "text", "text": "What is this?"}, image]
        error = refused(
            w.bridge(bridge), name, 400, "invalid_request_error", *fragments, messages=[{"role": "user", "content": content}]
        )
        not_to_retry(error)


@row("images.bad_data_url")
def _(w: World) -> None:
    _image_refused(w, "bad-data-url", _image(""), "Could not process image", "PNG, JPEG, GIF and WebP")


@row("images.download_timeout")
def _(w: World) -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://images.example.invalid/cat.png"}}
    _image_refused(w, "unreachable", image, "Could not process image", "could not download", "base64")


@row("images.too_large")
def _(w: World) -> None:
    """Claude Code words its advice from `image exceeds ... maximum` (its own check of Anthropic's 5 MB limit)."""
    too_large = base64.b64encode(PNG + b"\0" * (20 * 1024 * 1024)).decode()
    name = deploy(w, Deployment("cat-image-too-large"))
    content = [{"type": "text", "text": "What is this?"}, _image(too_large)]
    error = refused(
        w.bridge("responses"),
        name,
        400,
        "invalid_request_error",
        "image exceeds",
        "maximum",
        messages=[{"role": "user", "content": content}],
    )
    not_to_retry(error)


@row("images.unsupported_format")
def _(w: World) -> None:
    not_an_image = base64.b64encode(b"this is a text file, not an image").decode()
    _image_refused(w, "wrong-format", _image(not_an_image), "Could not process image", "PNG, JPEG, GIF and WebP")


@row("responses.prompt_cache_retention_unsupported")
def _(w: World) -> None:
    """The bridge never sends `prompt_cache_retention`: a model without it answers as any other."""
    name = deploy(w, reasoning("cat-no-retention", prompt_cache_retention=False))
    assert text_of(ask(w.bridge("responses"), name, extra_headers={"x-claude-code-session-id": SESSION})) == ANSWER
    [sent] = bodies(w, name)
    assert "prompt_cache_retention" not in sent and sent["prompt_cache_key"] == SESSION


@row("responses.prompt_cache_key_foundry")
def _(w: World) -> None:
    """A model that does not know `prompt_cache_key` (scripted: the fake serves OpenAI models only): dropped, learned."""
    name = deploy(w, reasoning("cat-foundry-like"))
    refusal = {"message": "Unrecognized request argument supplied: prompt_cache_key", "type": "invalid_request_error"}
    w.fake.enqueue(Error(400, {"error": {**refusal, "param": None, "code": None}}, pretty=True), deployment=name)
    before = len(received(w, name))
    session = {"extra_headers": {"x-claude-code-session-id": SESSION}}
    assert text_of(ask(w.bridge("responses"), name, **session)) == ANSWER
    assert text_of(ask(w.bridge("responses"), name, **session)) == ANSWER
    sent = bodies(w, name)[before:]
    assert ["prompt_cache_key" in body for body in sent] == [True, False, False], report(w)


# Responses streams: errors inside HTTP 200 -----------------------------------------------------------------------


@row("stream.insufficient_quota")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-no-quota"))
    w.fake.enqueue(ResponsesFailure.insufficient_quota(), deployment=name)
    error = refused(w.bridge("responses"), name, 429, "rate_limit_error", "quota", "raise", stream=True)
    not_to_retry(error)
    assert len(received(w, name)) == 1


@row("stream.rate_limit_failed")
def _(w: World) -> None:
    """`response.failed` with rate_limit_exceeded: retried like a 429 (after Azure's wait), and failed over."""
    name = deploy(w, reasoning("cat-stream-rate-limit"))
    w.fake.enqueue(ResponsesFailure.rate_limited(retry_after=1), deployment=name)
    assert text_of(ask(w.bridge("responses"), name, stream=True)) == ANSWER
    assert len(received(w, name)) == 2, report(w)
    pooled = deploy(w, reasoning("cat-stream-rate-limit-pool"))
    w.fake.enqueue(ResponsesFailure.rate_limited(retry_after=30), deployment=pooled)
    started = time.monotonic()
    assert text_of(ask(w.bridge("pool"), pooled, stream=True)) == ANSWER
    assert time.monotonic() - started < 10, "the other endpoint answers at once"
    hosts = [r.headers["host"].split(":")[0] for r in received(w, pooled)]
    assert sorted(hosts) == ["127.0.0.1", "localhost"], hosts


@row("stream.server_error")
def _(w: World) -> None:
    """Before any content: retried (no byte had reached the client).  After some text: that text, then an error
    event (what was streamed cannot be taken back)."""
    name = deploy(w, reasoning("cat-stream-server-error"))
    w.fake.enqueue(ResponsesFailure.server_error(), deployment=name)
    assert text_of(ask(w.bridge("responses"), name, stream=True)) == ANSWER
    assert len(received(w, name)) == 2, report(w)
    w.fake.enqueue(ResponsesFailure.server_error(text="Partial answer"), deployment=name)
    events = streamed_events(w.bridge("responses"), name)
    check_grammar(events, allow_error=True)
    deltas = "".join(data["delta"].get("text", "") for kind, data in events if kind == "content_block_delta")
    assert deltas == "Partial answer"
    kind, data = events[-1]
    assert kind == "error" and data["error"]["type"] == "api_error", events[-1]
    assert "An error occurred while processing the request." in data["error"]["message"]
    assert len(received(w, name)) == 3, "nothing is retried once the client has content"


@row("stream.context_length_exceeded")
def _(w: World) -> None:
    """Over the window, streamed (an `error` event) or not (a 400): Anthropic's `prompt is too long`, which makes
    Claude Code compact."""
    name = deploy(w, reasoning("cat-small-window", context_window=2_000))
    long_prompt = "word " * 3_000
    for stream in (True, False):
        error = refused(w.bridge("responses"), name, 400, "invalid_request_error", prompt=long_prompt, stream=stream)
        assert error.response.json()["error"]["message"].startswith("prompt is too long"), error.response.text
        not_to_retry(error)


@row("stream.content_policy_violation")
def _(w: World) -> None:
    """Three frames, the reason only in the last: the client hears that the content filter blocked the request."""
    name = deploy(w, reasoning("cat-stream-content-filter"))
    w.fake.enqueue(ResponsesFailure.content_policy_violation(), deployment=name)
    error = refused(
        w.bridge("responses"), name, 400, "invalid_request_error", "content filter", "Image processing blocked", stream=True
    )
    not_to_retry(error)


@row("stream.incomplete")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-incomplete"))
    for cause, stop_reason in (("max_output_tokens", "max_tokens"), ("content_filter", "refusal")):
        w.fake.enqueue(ResponsesText("Cut short", incomplete=cause), deployment=name)
        message = ask(w.bridge("responses"), name, stream=True)
        assert (text_of(message), message.stop_reason) == ("Cut short", stop_reason)


@row("stream.quirk_content_filters_field")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-quirk-filters"))
    message = streamed(w.bridge("responses"), name, **THINKING)
    assert [block["type"] for block in message.to_dict()["content"]] == ["thinking", "text"]
    assert text_of(message) == ANSWER


@row("stream.quirk_encrypted_content_differs")
def _(w: World) -> None:
    """The reasoning kept is the one of `output_item.done` (the early one in `.added` never verifies): the next turn of
    a tool loop is accepted at once."""
    name = deploy(w, reasoning("cat-quirk-encrypted"))
    w.fake.enqueue(ResponsesToolCalls([("Bash", {"command": "ls"})]), deployment=name)
    user, first = reasoning_turn(w, "responses", name, tools=[BASH])
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[-1].id, "content": "a.txt"}]}
    assert text_of(ask(w.bridge("responses"), name, messages=[user, history(first), result], tools=[BASH], **THINKING)) == ANSWER
    assert len(received(w, name)) == 2, report(w)
    assert input_types(bodies(w, name)[-1]) == ["message", "reasoning", "function_call", "function_call_output"]


@row("stream.quirk_no_reasoning_item")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-quirk-no-reasoning"))
    w.fake.enqueue(ResponsesText("No thoughts shown.", reasoning=()), deployment=name)
    message = streamed(w.bridge("responses"), name, **THINKING)
    assert [block["type"] for block in message.to_dict()["content"]] == ["text"]
    assert text_of(message) == "No thoughts shown."


@row("stream.quirk_obfuscation")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-quirk-obfuscation"))
    text = "The quick brown fox jumps over the lazy dog."
    w.fake.enqueue(ResponsesText(text, pieces=9), deployment=name)
    assert text_of(streamed(w.bridge("responses"), name)) == text


# chat/completions on Azure -----------------------------------------------------------------------------------------


@row("chat.max_tokens_on_reasoning")
def _(w: World) -> None:
    """The bridge sends `max_completion_tokens`, which reasoning models take: no refusal at all."""
    name = deploy(w, reasoning("cat-chat-max-tokens"))
    assert text_of(ask(w.bridge("chat"), name, max_tokens=32_000)) == ANSWER
    [sent] = bodies(w, name)
    assert sent["max_completion_tokens"] == 32_000 and "max_tokens" not in sent


@row("chat.max_completion_tokens_old_api_version")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-2024-06-01"))
    _, sent = learned(w, "chat-2024-06-01", name)
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent


@row("chat.max_tokens_above_cap")
def _(w: World) -> None:
    """Claude Code's 32000 to a 16384-token model: capped (on both APIs), remembered."""
    for bridge, key in (("chat", "max_completion_tokens"), ("responses", "max_output_tokens")):
        name = deploy(w, Deployment(f"cat-cap-{bridge}", reasoning=bridge == "responses", max_output_tokens=16_384))
        _, sent = learned(w, bridge, name, max_tokens=32_000)
        assert sent[key] == 16_384


@row("chat.temperature_on_reasoning")
def _(w: World) -> None:
    _temperature_dropped(w, "chat")


@row("chat.unknown_argument")
def _(w: World) -> None:
    """The plural form (scripted: an older resource or version) lists several arguments: all are left out, learned."""
    name = deploy(w, reasoning("cat-chat-unknown-arguments"))
    refusal = "Unrecognized request arguments supplied: parallel_tool_calls, reasoning_effort"
    body = {"message": refusal, "type": "invalid_request_error", "param": None, "code": None}
    w.fake.enqueue(Error(400, {"error": body}, pretty=True), deployment=name)
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    _, sent = learned(w, "chat", name, tools=[BASH], tool_choice=choice, **THINKING)
    assert "parallel_tool_calls" not in sent and "reasoning_effort" not in sent


@row("chat.parallel_tool_calls_o_series")
def _(w: World) -> None:
    name = deploy(w, like("o4-mini", "cat-o4-mini-parallel"))
    _, sent = learned(w, "chat", name, tools=[BASH], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert "parallel_tool_calls" not in sent


@row("chat.effort_with_function_tools")
def _(w: World) -> None:
    """gpt-5.4 refuses effort with tools on chat/completions, naming /v1/responses: switched for good."""
    first = ask(w.bridge("chat-v1-tiers"), GPT54_ON_CHAT, tools=[BASH], **THINKING)
    assert text_of(first) == ANSWER
    assert apis(w, GPT54_ON_CHAT) == ["chat", "responses"], report(w)
    ask(w.bridge("chat-v1-tiers"), GPT54_ON_CHAT, tools=[BASH], **THINKING)
    assert apis(w, GPT54_ON_CHAT) == ["chat", "responses", "responses"]


@row("chat.tool_message_without_call")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-orphan-result"))
    assert text_of(ask(w.bridge("chat"), name, messages=[ORPHAN_RESULT])) == ANSWER
    [sent] = bodies(w, name)
    assert [m["role"] for m in sent["messages"]] == ["user"] and "42" in json.dumps(sent["messages"])


@row("chat.tool_calls_unanswered")
def _(w: World) -> None:
    """An interrupted tool call (no result) is answered with a placeholder."""
    name = deploy(w, Deployment("cat-chat-unanswered"))
    call = {"type": "tool_use", "id": "toolu_01Interrupted", "name": "Bash", "input": {"command": "sleep 99"}}
    turns = [
        {"role": "user", "content": "Wait a bit."},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": "Never mind, say hello."},
    ]
    assert text_of(ask(w.bridge("chat"), name, messages=turns, tools=[BASH])) == ANSWER
    [sent] = bodies(w, name)
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "user"]


@row("chat.tool_call_id_too_long")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-long-call-id"))
    call_id = "toolu_" + "x" * 54
    call = {"type": "tool_use", "id": call_id, "name": "Bash", "input": {"command": "ls"}}
    turns = [
        {"role": "user", "content": "List."},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "a.txt"}]},
    ]
    assert text_of(ask(w.bridge("chat"), name, messages=turns, tools=[BASH])) == ANSWER
    [sent] = bodies(w, name)
    sent_id = sent["messages"][1]["tool_calls"][0]["id"]
    assert len(sent_id) <= 40 and sent["messages"][2]["tool_call_id"] == sent_id


def _too_long(w: World, name: str, limit: int) -> None:
    """Anthropic's wording with Azure's numbers; an OpenAI client gets the same words in its shape."""
    long_prompt = "word " * 2_000
    error = refused(w.bridge("chat"), name, 400, "invalid_request_error", prompt=long_prompt)
    message = error.response.json()["error"]["message"]
    assert re.fullmatch(rf"prompt is too long: \d+ tokens > {limit} maximum", message), message
    not_to_retry(error)
    with openai_client(w.bridge("chat")) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": long_prompt}])
    assert caught.value.response.json()["error"]["message"].startswith("prompt is too long")


@row("chat.context_length_exceeded")
def _(w: World) -> None:
    _too_long(w, deploy(w, Deployment("cat-chat-window", context_window=500)), 500)


@row("chat.input_tokens_exceeded")
def _(w: World) -> None:
    _too_long(w, deploy(w, reasoning("cat-chat-input-cap", context_window=1_000, max_input_tokens=500)), 500)


@row("chat.prompt_content_filter")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-prompt-filter"))
    w.fake.enqueue(Error.content_filtered(), deployment=name)
    error = refused(w.bridge("chat"), name, 400, "invalid_request_error", "content filter", "self_harm (medium)", "Rephrase")
    not_to_retry(error)


@row("chat.stream_prompt_filter_results")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-stream-shape"))
    message = streamed(w.bridge("chat"), name)
    assert (text_of(message), message.stop_reason) == (ANSWER, "end_turn")


@row("chat.stream_async_filter")
def _(w: World) -> None:
    """The asynchronous filter's annotation chunks (after the finish, no delta) change nothing in the answer."""
    name = deploy(w, Deployment("cat-chat-async-filter", content_filter="async"))
    w.fake.enqueue(Text("Streamed without per-chunk filter results.", pieces=6), deployment=name)
    message = streamed(w.bridge("chat"), name)
    assert (text_of(message), message.stop_reason) == ("Streamed without per-chunk filter results.", "end_turn")


@row("chat.stream_content_filter_finish")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-chat-filtered-output"))
    w.fake.enqueue(Text("Partial answer", finish_reason="content_filter"), deployment=name)
    message = streamed(w.bridge("chat"), name)
    assert (text_of(message), message.stop_reason) == ("Partial answer", "refusal")


@row("chat.codex_operation_not_supported")
def _(w: World) -> None:
    """A codex deployment on a tier pinned to chat/completions: switched to Responses for good."""
    assert text_of(ask(w.bridge("chat-v1-tiers"), CODEX_ON_CHAT, tools=[BASH])) == ANSWER
    assert apis(w, CODEX_ON_CHAT) == ["chat", "responses"], report(w)
    ask(w.bridge("chat-v1-tiers"), CODEX_ON_CHAT, tools=[BASH])
    assert apis(w, CODEX_ON_CHAT) == ["chat", "responses", "responses"]


# Transport, versions, auth -----------------------------------------------------------------------------------------


def retried(w: World, name: str, *replies: Any) -> None:
    """Azure answers `replies` first (rate limits, server errors), then its answer: the client gets the answer, and
    Azure was asked once more per reply."""
    w.fake.enqueue(*replies, deployment=name)
    assert text_of(ask(w.bridge("responses"), name)) == ANSWER
    assert len(received(w, name)) == len(replies) + 1, report(w)


@row("transport.rate_limit_429")
def _(w: World) -> None:
    """A short wait: retried after Azure's retry-after.  A long one on every endpoint: the client gets Azure's 429,
    its retry-after, and no invitation to retry at once."""
    retried(w, deploy(w, reasoning("cat-429-short")), Error.rate_limited(1, api="responses"))
    spent = deploy(w, reasoning("cat-429-spent"))
    w.fake.enqueue(*[Error.rate_limited(86_400, api="responses")] * 2, deployment=spent)
    error = refused(w.bridge("pool-spent"), spent, 429, "rate_limit_error", "Please retry after 86400 seconds")
    assert error.response.headers["retry-after"] == "86400"
    not_to_retry(error)


@row("transport.rate_limit_short")
def _(w: World) -> None:
    retried(w, deploy(w, reasoning("cat-429-try-again")), Error.rate_limit_exceeded(1))


@row("transport.rate_limit_headers")
def _(w: World) -> None:
    """429s with only `x-ratelimit-reset-tokens`, or no header at all: retried after a short backoff."""
    retried(
        w,
        deploy(w, reasoning("cat-429-headers")),
        Error.rate_limited(1, api="responses", headers="reset-tokens"),
        Error.rate_limited(1, api="responses", headers="none"),
    )


@row("transport.server_error_500")
def _(w: World) -> None:
    retried(w, deploy(w, reasoning("cat-500")), Error.server_error())


@row("transport.timeout_408")
def _(w: World) -> None:
    retried(w, deploy(w, reasoning("cat-408")), Error.timeout())


@row("transport.deployment_not_found")
def _(w: World) -> None:
    """Dated path (404 DeploymentNotFound) and v1 (400 unknown_model): a 404 naming the deployment and its setting."""
    for bridge in ("chat", "responses"):
        error = refused(w.bridge(bridge), MISSING, 404, "not_found_error", f"'{MISSING}'", "the request's model name")
        not_to_retry(error)
    error = refused(w.bridge("chat"), "claude-haiku-4-5", 404, "not_found_error", f"'{MISSING_SMALL}'", "SMALL_MODEL")
    not_to_retry(error)


@row("transport.resource_not_found")
def _(w: World) -> None:
    error = refused(w.bridge("wrong-path"), GPT5, 500, "api_error", "AZURE_OPENAI_ENDPOINT", "Resource not found")
    not_to_retry(error)


@row("transport.api_version_not_supported")
def _(w: World) -> None:
    error = refused(w.bridge("unknown-version"), GPT5, 500, "api_error", "AZURE_OPENAI_API_VERSION", "API version not supported")
    not_to_retry(error)


@row("transport.responses_api_version")
def _(w: World) -> None:
    """A tier set to Responses on 2024-10-21: Azure refuses, the bridge falls back to chat/completions for good."""
    assert text_of(ask(w.bridge("chat"), RESPONSES_ON_OLD_VERSION)) == ANSWER
    assert apis(w, RESPONSES_ON_OLD_VERSION) == ["responses", "chat"], report(w)
    ask(w.bridge("chat"), RESPONSES_ON_OLD_VERSION)
    assert apis(w, RESPONSES_ON_OLD_VERSION) == ["responses", "chat", "chat"]


@row("transport.wrong_api_key")
def _(w: World) -> None:
    error = refused(w.bridge("wrong-key"), GPT5, 500, "api_error", "AZURE_OPENAI_API_KEY", "Access denied")
    not_to_retry(error)
    assert "wrong-key-0123456789abcdef" not in error.response.text


@row("transport.entra_token_invalid")
def _(w: World) -> None:
    """A token Azure stopped accepting (expired, revoked): the bridge signs in again.  Every token refused (another
    tenant, a wrong audience): what to check, no retry."""
    bridge = w.bridge("entra")
    assert text_of(ask(bridge, GPT5)) == ANSWER
    issued = len(w.identity.issued)
    w.identity.expire(w.identity.issued[-1])
    assert text_of(ask(bridge, GPT5)) == ANSWER
    assert len(w.identity.issued) == issued + 1, "a new token replaced the refused one"
    w.identity.register = False
    w.fake.bearer_tokens.clear()
    try:
        error = refused(bridge, GPT5, 500, "api_error", "Entra ID", "identity", "https://cognitiveservices.azure.com")
        not_to_retry(error)
    finally:
        w.identity.register = True
        w.fake.bearer_tokens.update(w.identity.issued)


@row("transport.permission_denied")
def _(w: World) -> None:
    bridge = w.bridge("entra")
    assert text_of(ask(bridge, GPT5)) == ANSWER
    w.fake.roleless_tokens.update(w.identity.issued)
    try:
        error = refused(bridge, GPT5, 500, "api_error", "Cognitive Services OpenAI User", "lacks the required data action")
        not_to_retry(error)
    finally:
        w.fake.roleless_tokens.clear()


@row("transport.key_auth_disabled")
def _(w: World) -> None:
    name = deploy(w, Deployment("cat-keys-disabled"))
    w.fake.enqueue(Error.key_auth_disabled(), deployment=name)
    error = refused(w.bridge("responses"), name, 500, "api_error", "unset AZURE_OPENAI_API_KEY", "Entra ID")
    not_to_retry(error)


@row("transport.v1_api")
def _(w: World) -> None:
    name = deploy(w, reasoning("cat-v1"))
    ask(w.bridge("responses"), name)
    assert ask(w.bridge("chat-v1-tiers"), GPT56_ON_CHAT).type == "message"
    calls = [(r.path, dict(r.query), r.body["model"]) for r in [*received(w, name), *received(w, GPT56_ON_CHAT)]]
    assert calls == [("/openai/v1/responses", {}, name), ("/openai/v1/chat/completions", {}, GPT56_ON_CHAT)], calls


# Models and limits -------------------------------------------------------------------------------------------------


@row("models.gpt_5_4_family")
def _(w: World) -> None:
    """gpt-5.4 takes `xhigh` (Claude's `max` effort) as it is, and caps output at 128k tokens."""
    name = deploy(w, like("gpt-5.4", "cat-gpt-5.4"))
    _, sent = learned(w, "responses", name, max_tokens=200_000, extra_body={"output_config": {"effort": "max"}})
    assert sent["max_output_tokens"] == 128_000 and sent["reasoning"]["effort"] == "xhigh"


@row("models.gpt_5_6_tools_effort_none")
def _(w: World) -> None:
    """Tools with thinking disabled: the effort steps to `none`, which gpt-5.6 takes with tools on chat/completions."""
    _, sent = learned(w, "chat-v1-tiers", GPT56_ON_CHAT, tools=[BASH], extra_body=NO_THINKING)
    assert sent["reasoning_effort"] == "none" and sent["tools"]
    assert set(apis(w, GPT56_ON_CHAT)) == {"chat"}


@row("models.gpt_6_1_sol_tools_responses_only")
def _(w: World) -> None:
    """With no tier pinned to chat, tools go to the Responses API from the first request."""
    name = deploy(w, reasoning("cat-gpt-6.1-sol", efforts=("none", "low", "medium", "high", "xhigh")))
    assert text_of(ask(w.bridge("responses"), name, tools=[BASH], **THINKING)) == ANSWER
    assert apis(w, name) == ["responses"]


@row("models.gpt_5_1_family")
def _(w: World) -> None:
    """gpt-5.1 and its codex: Claude Code's usual request (64k output, high effort, tools) passes at once."""
    for model in ("gpt-5.1", "gpt-5.1-codex"):
        name = deploy(w, like(model, f"cat-{model}"))
        assert text_of(ask(w.bridge("responses"), name, max_tokens=64_000, tools=[BASH], **THINKING)) == ANSWER
        assert apis(w, name) == ["responses"], report(w)


@row("models.prompt_caching")
def _(w: World) -> None:
    """The session is the prompt cache key; Azure's cached tokens come back as `cache_read_input_tokens`, and input
    plus cached tokens make Azure's prompt count."""
    name = deploy(w, reasoning("cat-prompt-caching"))
    w.fake.enqueue(ResponsesText(cached_tokens=1024), deployment=name)
    headers = {"x-claude-code-session-id": SESSION}
    message = ask(w.bridge("responses"), name, "word " * 1_500, stream=True, extra_headers=headers)
    [sent] = bodies(w, name)
    assert sent["prompt_cache_key"] == SESSION
    usage = message.usage
    assert usage.cache_read_input_tokens == 1024
    assert usage.input_tokens + usage.cache_read_input_tokens == prompt_tokens(sent)


# --- the parametrized case, and the index's own checks -------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [pytest.param(entry, id=entry.key, marks=[pytest.mark.process] if entry.key in PROCESS_ROWS else []) for entry in ROWS],
)
def test_catalog_row(world: World, entry: Row) -> None:
    scenario = SCENARIOS.get(entry.key)
    assert scenario is not None, f"no case drives catalog row {entry.key} through the bridge"
    scenario(world)


def test_the_doc_has_one_line_per_row() -> None:
    """docs/azure-behaviours.md: a table line per catalog row, naming its case."""
    text = DOC.read_text()
    for entry in ROWS:
        lines = [line for line in text.splitlines() if line.startswith("|") and f"`{entry.key}`" in line]
        assert len(lines) == 1, f"{entry.key}: {len(lines)} table lines"
        assert f"test_catalog_row[{entry.key}]" in lines[0], lines[0]
    readme = (ROOT / "README.md").read_text()
    assert "docs/azure-behaviours.md" in readme, "the README links the table"
