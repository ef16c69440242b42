"""Which upstream API serves a deployment, end to end: anthropic SDK → the bridge → fake Azure.

`bridge.serving.process.Bridge.api`: a tier's `*_API` setting, else Responses on Azure's v1 API or a dated
version from 2025-03-01-preview, chat/completions on older versions and OpenAI-compatible
upstreams; a deployment that answers it needs the other API is switched, and remembered.
Then the routing tiers (`bridge.serving.tiers`): THINK_MODEL, SMALL_MODEL, LONG_CONTEXT_MODEL and the
per-tier overrides, as the upstream sees them.

Each test starts its own bridge (learned APIs live in the bridge's process state; served in the test
process) and uses its own deployment names on the shared fake.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import Deployment, FakeAzure, RecordedRequest

OPUS = "claude-opus-4-8"
HAIKU = "claude-haiku-4-5"
ANSWER = "Hello from fake Azure."  # the fake's default reply, on either API
THINKING = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}
BASH = {
    "name": "Bash",
    "description": "Run a command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}
V1_CHAT = ("chat", "/openai/v1/chat/completions")
V1_RESPONSES = ("responses", "/openai/v1/responses")
STREAMING = pytest.mark.parametrize("stream", [False, True], ids=["non-streaming", "streaming"])

Start = Callable[..., RunningBridge]


@pytest.fixture
def start(fake_azure: FakeAzure, tmp_path: Path) -> Iterator[Start]:
    """`start(**overrides)`: a bridge of its own in front of the fake (`bridge_env` plus the overrides), stopped afterwards."""
    numbers = itertools.count()
    with ExitStack() as started:

        def run(**overrides: str) -> RunningBridge:
            log_path = tmp_path / f"b{next(numbers)}.log"
            return started.enter_context(running_bridge(bridge_env(fake_azure, **overrides), log_path, in_process=True))

        yield run


def deploy(fake: FakeAzure, name: str, **profile: Any) -> str:
    """Create deployment `name` on the fake (a reasoning model unless told otherwise); returns the name."""
    fake.add_deployment(Deployment(name, **{"reasoning": True, "max_output_tokens": 128000, **profile}))
    return name


def ask(bridge: RunningBridge, *, stream: bool = False, model: str = OPUS, prompt: str = "Say hello.", **extra: Any) -> Any:
    """One message through the bridge with the anthropic SDK; the final `Message`."""
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}], **extra}
    with anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as client:
        if stream:
            with client.messages.stream(**kwargs) as events:
                return events.get_final_message()
        return client.messages.create(**kwargs)


def text_of(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def seen(fake: FakeAzure, deployment: str) -> list[tuple[str, str]]:
    """(api, path) of every request the fake received for `deployment`, in order."""
    return [(r.api, r.path) for r in fake.requests if r.deployment == deployment]


def last(fake: FakeAzure, deployment: str) -> RecordedRequest:
    return [r for r in fake.requests if r.deployment == deployment][-1]


def report(bridge: RunningBridge, fake: FakeAzure) -> str:
    requests = "\n".join(f"  {r.api} {r.path} {dict(r.query)} deployment={r.deployment}" for r in fake.requests)
    return f"requests:\n{requests}\n--- bridge log ---\n{bridge.log()[-4000:]}"


# --- automatic default ------------------------------------------------------------------------------------------


def test_automatic_default_on_the_v1_api_is_responses(start: Start, fake_azure: FakeAzure) -> None:
    name = deploy(fake_azure, "auto-v1")
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="")

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [V1_RESPONSES], report(bridge, fake_azure)
    assert last(fake_azure, name).body["model"] == name


def test_automatic_default_on_an_old_dated_version_is_chat(start: Start, fake_azure: FakeAzure) -> None:
    name = deploy(fake_azure, "auto-dated-old")
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="", AZURE_OPENAI_API_VERSION="2024-10-21")

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [("chat", f"/openai/deployments/{name}/chat/completions")], report(bridge, fake_azure)
    assert last(fake_azure, name).query == {"api-version": "2024-10-21"}


def test_automatic_default_on_a_recent_dated_version_is_dated_responses(start: Start, fake_azure: FakeAzure) -> None:
    name = deploy(fake_azure, "auto-dated-new")
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="", AZURE_OPENAI_API_VERSION="2025-04-01-preview")

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [("responses", "/openai/responses")], report(bridge, fake_azure)
    request = last(fake_azure, name)
    assert request.query == {"api-version": "2025-04-01-preview"}
    assert request.body["model"] == name


@pytest.fixture
def openai_token(fake_azure: FakeAzure) -> Iterator[str]:
    """A key the fake accepts as `Authorization: Bearer` (an OpenAI-compatible server's)."""
    token = "sk-openai-compatible-test"
    fake_azure.bearer_tokens.add(token)
    yield token
    fake_azure.bearer_tokens.discard(token)


def openai_compatible(fake: FakeAzure, token: str, **overrides: str) -> dict[str, str]:
    """Settings for an OpenAI-compatible upstream (the fake's v1 API) and no Azure endpoint."""
    return {
        "AZURE_OPENAI_ENDPOINT": "",
        "AZURE_OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": f"{fake.url}/openai/v1",
        "OPENAI_API_KEY": token,
        **overrides,
    }


def test_automatic_default_on_an_openai_compatible_upstream_is_chat(
    start: Start, fake_azure: FakeAzure, openai_token: str
) -> None:
    name = deploy(fake_azure, "auto-openai")
    bridge = start(**openai_compatible(fake_azure, openai_token, BIG_MODEL=name, BIG_MODEL_API=""))

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [V1_CHAT], report(bridge, fake_azure)
    request = last(fake_azure, name)
    assert request.headers["authorization"] == f"Bearer {openai_token}"
    assert "api-key" not in request.headers


# --- explicit *_API ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "version", "expected"),
    [
        ("responses", "", V1_RESPONSES),
        ("responses", "2025-04-01-preview", ("responses", "/openai/responses")),
        ("chat", "", V1_CHAT),
        ("chat", "2025-04-01-preview", ("chat", "/openai/deployments/{name}/chat/completions")),
    ],
    ids=["responses-v1", "responses-dated", "chat-v1", "chat-new-dated"],
)
def test_explicit_api_setting_is_obeyed(
    start: Start, fake_azure: FakeAzure, api: str, version: str, expected: tuple[str, str]
) -> None:
    name = deploy(fake_azure, f"explicit-{api}-{version or 'v1'}")
    bridge = start(BIG_MODEL=name, BIG_MODEL_API=api, AZURE_OPENAI_API_VERSION=version)

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [(expected[0], expected[1].format(name=name))], report(bridge, fake_azure)


def test_explicit_responses_before_its_api_version_falls_back_to_chat_and_says_so(start: Start, fake_azure: FakeAzure) -> None:
    name = deploy(fake_azure, "explicit-responses-2024-10-21")
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="responses", AZURE_OPENAI_API_VERSION="2024-10-21")

    assert text_of(ask(bridge)) == ANSWER
    chat = ("chat", f"/openai/deployments/{name}/chat/completions")
    assert seen(fake_azure, name) == [("responses", "/openai/responses"), chat], report(bridge, fake_azure)
    problems = httpx.get(bridge.url + "/health").json()["problems"]
    assert any("BIG_MODEL_API" in problem and "2025-03-01-preview" in problem for problem in problems), problems


def test_explicit_responses_on_an_openai_compatible_upstream(start: Start, fake_azure: FakeAzure, openai_token: str) -> None:
    name = deploy(fake_azure, "explicit-openai-responses")
    bridge = start(**openai_compatible(fake_azure, openai_token, BIG_MODEL=name, BIG_MODEL_API="responses"))

    assert text_of(ask(bridge)) == ANSWER
    assert seen(fake_azure, name) == [V1_RESPONSES], report(bridge, fake_azure)


# --- learned: chat → Responses, Responses → chat -----------------------------------------------------------------


@STREAMING
def test_responses_only_deployment_switches_from_chat_and_is_remembered(
    start: Start, fake_azure: FakeAzure, stream: bool
) -> None:
    """A codex-like deployment answers chat/completions with OperationNotSupported: the bridge retries on Responses."""
    name = deploy(fake_azure, f"codex-like-{stream}", operations=("responses",))
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="chat")

    assert text_of(ask(bridge, stream=stream)) == ANSWER
    assert seen(fake_azure, name) == [V1_CHAT, V1_RESPONSES], report(bridge, fake_azure)
    fake_azure.reset()
    assert text_of(ask(bridge, stream=stream)) == ANSWER
    assert seen(fake_azure, name) == [V1_RESPONSES], report(bridge, fake_azure)


@STREAMING
def test_effort_with_tools_refused_on_chat_switches_to_responses_and_is_remembered(
    start: Start, fake_azure: FakeAzure, stream: bool
) -> None:
    """gpt-5.x: chat/completions refuses reasoning_effort with function tools, naming /v1/responses."""
    name = deploy(fake_azure, f"gpt-5x-like-{stream}", effort_with_tools_on_chat=False)
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="chat")

    message = ask(bridge, stream=stream, tools=[BASH], extra_body=THINKING)
    assert text_of(message) == ANSWER
    assert seen(fake_azure, name) == [V1_CHAT, V1_RESPONSES], report(bridge, fake_azure)
    refused, switched = (r.body for r in fake_azure.requests)
    assert refused["reasoning_effort"] == "high" and refused["tools"]
    assert switched["reasoning"]["effort"] == "high" and switched["tools"][0]["name"] == "Bash"
    assert [block.type for block in message.content] == ["thinking", "text"]

    fake_azure.reset()
    assert text_of(ask(bridge, stream=stream, tools=[BASH], extra_body=THINKING)) == ANSWER
    assert seen(fake_azure, name) == [V1_RESPONSES], report(bridge, fake_azure)


@STREAMING
def test_chat_only_deployment_falls_back_from_responses_and_is_remembered(
    start: Start, fake_azure: FakeAzure, stream: bool
) -> None:
    """A model not offered through the Responses API, under the automatic default: served through chat."""
    name = deploy(fake_azure, f"chat-only-{stream}", reasoning=False, max_output_tokens=16384, operations=("chat",))
    bridge = start(BIG_MODEL=name, BIG_MODEL_API="")

    assert text_of(ask(bridge, stream=stream)) == ANSWER
    assert seen(fake_azure, name) == [V1_RESPONSES, V1_CHAT], report(bridge, fake_azure)
    fake_azure.reset()
    assert text_of(ask(bridge, stream=stream)) == ANSWER
    assert seen(fake_azure, name) == [V1_CHAT], report(bridge, fake_azure)


def test_learned_api_is_per_deployment(start: Start, fake_azure: FakeAzure) -> None:
    """Switching the opus deployment leaves the haiku deployment on its own API."""
    big = deploy(fake_azure, "per-deployment-codex", operations=("responses",))
    small = deploy(fake_azure, "per-deployment-small")
    bridge = start(BIG_MODEL=big, SMALL_MODEL=small, BIG_MODEL_API="chat", SMALL_MODEL_API="chat")

    ask(bridge)
    ask(bridge, model=HAIKU)
    assert seen(fake_azure, big) == [V1_CHAT, V1_RESPONSES], report(bridge, fake_azure)
    assert seen(fake_azure, small) == [V1_CHAT], report(bridge, fake_azure)


# --- routing tiers ----------------------------------------------------------------------------------------------


def test_routing_tiers_end_to_end(start: Start, fake_azure: FakeAzure) -> None:
    big, small, think, long = (deploy(fake_azure, f"tiers-{tier}") for tier in ("big", "small", "think", "long"))
    bridge = start(
        BIG_MODEL=big,
        MIDDLE_MODEL="",
        SMALL_MODEL=small,
        THINK_MODEL=think,
        LONG_CONTEXT_MODEL=long,
        LONG_CONTEXT_THRESHOLD="50",
    )
    long_prompt = " ".join(f"word{i}" for i in range(400))

    routed = []
    for model, prompt, extra in (
        (OPUS, "Say hello.", {"extra_body": THINKING}),  # asks for thinking → THINK_MODEL
        (OPUS, "Say hello.", {}),  # no thinking → BIG_MODEL
        ("claude-sonnet-4-6", "Say hello.", {}),  # MIDDLE_MODEL unset → BIG_MODEL
        (HAIKU, "Say hello.", {"extra_body": THINKING}),  # haiku wins over thinking → SMALL_MODEL
        (HAIKU, long_prompt, {}),  # haiku wins over length too
        (OPUS, long_prompt, {"extra_body": THINKING}),  # length wins over thinking → LONG_CONTEXT_MODEL
    ):
        fake_azure.reset()
        assert text_of(ask(bridge, model=model, prompt=prompt, **extra)) == ANSWER
        routed.append([(r.deployment, r.api) for r in fake_azure.requests])

    # BIG/SMALL are pinned to chat by bridge_env; THINK and LONG_CONTEXT have no *_API: automatic (Responses on v1).
    assert routed == [
        [(think, "responses")],
        [(big, "chat")],
        [(big, "chat")],
        [(small, "chat")],
        [(small, "chat")],
        [(long, "responses")],
    ], report(bridge, fake_azure)

    assert "tiers" not in httpx.get(bridge.url + "/health", timeout=10).json(), "details only with the client token"
    health = httpx.get(bridge.url + "/health", headers={"x-api-key": CLIENT_TOKEN}, timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["tiers"] == {
        "BIG_MODEL": {"deployment": big, "api": "chat"},
        "SMALL_MODEL": {"deployment": small, "api": "chat"},
        "THINK_MODEL": {"deployment": think, "api": "auto"},
        "LONG_CONTEXT_MODEL": {"deployment": long, "api": "auto"},
    }


@pytest.mark.parametrize(
    ("api", "path", "max_key"),
    [("chat", V1_CHAT[1], "max_completion_tokens"), ("responses", V1_RESPONSES[1], "max_output_tokens")],
)
def test_tier_overrides_reach_the_upstream_body(start: Start, fake_azure: FakeAzure, api: str, path: str, max_key: str) -> None:
    name = deploy(fake_azure, f"overrides-{api}", reasoning=False, max_output_tokens=16384)
    bridge = start(BIG_MODEL=name, BIG_MODEL_API=api, BIG_MODEL_TEMPERATURE="0.2", BIG_MODEL_MAX_TOKENS="123")

    assert text_of(ask(bridge, extra_body={"temperature": 0.9})) == ANSWER  # the client's value loses
    request = last(fake_azure, name)
    assert (request.api, request.path) == (api, path), report(bridge, fake_azure)
    assert (request.body["temperature"], request.body[max_key]) == (0.2, 123), request.body
