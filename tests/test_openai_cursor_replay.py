"""Real Cursor traffic replayed through the bridge, with the BIG tier on the Responses API.

Each scenario of `../shared/wire-corpus/cursor-azure-responses/` holds what
Cursor sent (`downstream_request.json`) and what Azure's Responses API answered
(`upstream_response.sse`).  Over HTTP, the request goes verbatim to
`python -m bridge` while the fake Azure answers `/openai/v1/responses` with the
recorded stream; in process, the recorded stream goes through the Responses
translator and this front's chunk writer.  Either way the openai SDK's own
accumulator must build a valid completion with the recording's text and tool
calls (ids, names, arguments that parse as JSON where the recording's did),
or meet the recording's error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from bridge.fronts.openai.reasoning import OPEN, strip_thinking
from bridge.fronts.openai.stream import OpenAIStreamRenderer
from tests.support.anthropic_grammar import render as render_stream
from tests.support.anthropic_grammar import sse_events, upstream_stream
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import DEFAULT_DEPLOYMENTS, Deployment, FakeAzure, RawSSE
from tests.support.fake_azure.replay import SHARED_DIR
from tests.support.serving import running

CORPUS = SHARED_DIR / "wire-corpus" / "cursor-azure-responses"
SCENARIOS = (
    sorted(path.name for path in CORPUS.iterdir() if (path / "downstream_request.json").is_file()) if CORPUS.is_dir() else []
)
pytestmark = pytest.mark.skipif(not SCENARIOS, reason="../shared/wire-corpus not present (a user's clone): Cursor replay skipped")


@dataclass
class Recorded:
    """What the recorded Responses stream says, computed independently of the bridge."""

    text: str = ""
    summary: dict[int, str] = field(default_factory=dict)
    """Reasoning summary parts by summary_index."""
    calls: list[dict[str, str]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    error: str | None = None


def recorded(raw: bytes) -> Recorded:
    out = Recorded()
    calls: dict[int, dict[str, str]] = {}
    for _, payload in sse_events(raw):
        data = json.loads(payload)
        kind = data.get("type")
        if kind == "response.output_text.delta":
            out.text += data["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            out.summary[data["summary_index"]] = out.summary.get(data["summary_index"], "") + data["delta"]
        elif kind == "response.output_item.done" and data["item"]["type"] == "function_call":
            item = data["item"]
            calls[data["output_index"]] = {"id": item["call_id"], "name": item["name"], "arguments": item["arguments"]}
        elif kind == "response.completed":
            out.usage = data["response"]["usage"]
        elif kind in ("error", "response.failed") and out.error is None:
            error = data.get("error") or data["response"]["error"]
            out.error = error["message"]
    out.calls = [calls[index] for index in sorted(calls)]
    return out


def scenario(name: str) -> tuple[dict[str, Any], bytes]:
    folder = CORPUS / name
    return json.loads((folder / "downstream_request.json").read_text()), (folder / "upstream_response.sse").read_bytes()


@pytest.fixture(scope="module")
def cursor_fake() -> Iterator[FakeAzure]:
    fake = FakeAzure([*DEFAULT_DEPLOYMENTS, Deployment("gpt-5.1-codex", reasoning=True, max_output_tokens=128000)])
    with running(fake):
        yield fake


@pytest.fixture(scope="module")
def responses_bridge(cursor_fake: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    with running_bridge(
        bridge_env(cursor_fake, BIG_MODEL_API="responses"), tmp_path_factory.mktemp("cursor") / "bridge.log", in_process=True
    ) as bridge:
        yield bridge


@pytest.fixture
def cursor(responses_bridge: RunningBridge, cursor_fake: FakeAzure) -> Iterator[openai.OpenAI]:
    cursor_fake.reset()
    with openai.OpenAI(base_url=responses_bridge.url + "/v1", api_key=CLIENT_TOKEN, max_retries=0) as sdk:
        yield sdk


def replay(client: openai.OpenAI, request: dict[str, Any]) -> tuple[list[Any], Any]:
    """Send Cursor's body verbatim; the chunks as they came, and the SDK's accumulated completion."""
    rest = {key: value for key, value in request.items() if key not in ("model", "messages", "stream")}
    with client.chat.completions.stream(model=request["model"], messages=request["messages"], extra_body=rest) as stream:
        chunks = [event.chunk for event in stream if event.type == "chunk"]
        return chunks, stream.get_final_completion()


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def check(request: dict[str, Any], expected: Recorded, chunks: list[Any], completion: Any) -> None:
    assert completion.object == "chat.completion" and completion.model == request["model"]
    choice = completion.choices[0]
    content = choice.message.content or ""
    assert strip_thinking(content) == expected.text
    if expected.summary:
        assert content.startswith(OPEN) and all(part in content for part in expected.summary.values())
    calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in choice.message.tool_calls or []]
    assert calls == expected.calls
    for got, want in zip(calls, expected.calls, strict=True):
        assert json_or_none(got["arguments"]) == json_or_none(want["arguments"])
    headers = [call.index for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or [] if call.id]
    assert headers == list(range(len(expected.calls))), "one index per tool call"
    assert choice.finish_reason == ("tool_calls" if expected.calls else "stop")


def render(raw: bytes, model: str, include_usage: bool = False) -> list[str]:
    """The recorded stream through the Responses translator and the chunk writer: the data of each SSE event."""

    async def body() -> bytes:
        writer = OpenAIStreamRenderer("chatcmpl-replay", model, 0, include_usage)
        return await render_stream(writer, upstream_stream(raw, 997, "responses"))

    return [data for _, data in sse_events(asyncio.run(body()))]


@pytest.mark.parametrize("name", SCENARIOS)
def test_recorded_stream_through_the_chunk_writer(name: str) -> None:
    request, upstream = scenario(name)
    expected = recorded(upstream)
    events = render(upstream, request["model"])
    payloads = [json.loads(data) for data in events if data != "[DONE]"]
    if expected.error is not None:
        assert payloads[-1]["error"]["type"] == "server_error" and expected.error in payloads[-1]["error"]["message"]
        return
    assert events[-1] == "[DONE]"
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    chunks = [ChatCompletionChunk.model_validate(payload) for payload in payloads]
    for chunk in chunks:
        state.handle_chunk(chunk)
    check(request, expected, chunks, state.get_final_completion())


@pytest.mark.parametrize("name", SCENARIOS)
def test_cursor_request_replayed(cursor: openai.OpenAI, cursor_fake: FakeAzure, name: str) -> None:
    request, upstream = scenario(name)
    expected = recorded(upstream)
    if expected.error is not None:
        cursor_fake.enqueue(*[RawSSE(upstream)] * 4)
        before = len(cursor_fake.requests)
        with pytest.raises(openai.APIError) as failed:
            replay(cursor, request)
        assert expected.error in failed.value.message
        assert len(cursor_fake.requests) >= before + 4, "a failure before any output is retried, then reported"
        return
    cursor_fake.enqueue(RawSSE(upstream))
    chunks, completion = replay(cursor, request)
    assert cursor_fake.requests[-1].api == "responses"
    assert cursor_fake.requests[-1].body["reasoning"]["effort"] == request["reasoning"]["effort"]
    check(request, expected, chunks, completion)


USAGE_SCENARIOS = [name for name in ("reply_single_tool_call", "context_parallel_tool_call") if name in SCENARIOS]


def check_usage(last: Any, usage: dict[str, Any]) -> None:
    assert last.choices == [] and last.usage is not None
    assert last.usage.prompt_tokens == usage["input_tokens"] and last.usage.completion_tokens == usage["output_tokens"]
    assert last.usage.prompt_tokens_details.cached_tokens == usage["input_tokens_details"]["cached_tokens"]
    assert last.usage.completion_tokens_details.reasoning_tokens == usage["output_tokens_details"]["reasoning_tokens"]


@pytest.mark.parametrize("name", USAGE_SCENARIOS)
def test_usage_chunk_in_process(name: str) -> None:
    request, upstream = scenario(name)
    usage = recorded(upstream).usage
    assert usage is not None
    events = render(upstream, request["model"], include_usage=True)
    assert events[-1] == "[DONE]"
    check_usage(ChatCompletionChunk.model_validate_json(events[-2]), usage)


@pytest.mark.parametrize("name", USAGE_SCENARIOS)
def test_usage_chunk_carries_cached_and_reasoning_tokens(cursor: openai.OpenAI, cursor_fake: FakeAzure, name: str) -> None:
    request, upstream = scenario(name)
    usage = recorded(upstream).usage
    assert usage is not None
    cursor_fake.enqueue(RawSSE(upstream))
    chunks, _ = replay(cursor, {**request, "stream_options": {"include_usage": True}})
    check_usage(chunks[-1], usage)


def test_corpus_covers_the_cases_the_issue_names() -> None:
    names = set(SCENARIOS)
    assert {"sse_without_closing_new_lines", "reply_parallel_tool_call", "reply_single_tool_call", "response_error"} <= names
    assert not (CORPUS / "sse_without_closing_new_lines" / "upstream_response.sse").read_bytes().endswith(b"\n")
