"""Every recorded chat/completions stream in ../shared/wire-corpus/recorded, replayed through the bridge.

Each recording goes through the translator in-process and, over HTTP, through
`python -m bridge` with the fake Azure replaying it byte for byte; the
anthropic SDK's own accumulator must build a valid message with the source's
text, tool calls and usage.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse, render_upstream, sse_events
from tests.support.fake_azure import FakeAzure, RawSSE, load_transcript, recorded_dir

RECORDED = recorded_dir()
CHAT_STREAMS = sorted(
    path.name
    for path in (RECORDED.iterdir() if RECORDED else ())
    if "chat-stream" in path.name and path.name.endswith((".sse", ".chunks.jsonl"))
)
pytestmark = pytest.mark.skipif(
    RECORDED is None, reason="../shared/wire-corpus not present (a user's clone): recorded-traffic tests skipped"
)


def expected_from_source(raw: bytes) -> dict[str, Any]:
    """What the recording says, computed independently of the bridge."""
    text, calls, finish, usage, refused = "", {}, None, None, False
    for _, data in sse_events(raw):
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text += (delta.get("content") or "") + (delta.get("refusal") or "")
            refused = refused or bool(delta.get("refusal"))
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"id": None, "name": "", "arguments": ""})
                entry["id"] = entry["id"] or call.get("id")
                entry["name"] += (call.get("function") or {}).get("name") or ""
                entry["arguments"] += (call.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return {"text": text, "calls": [calls[i] for i in sorted(calls)], "finish": finish, "usage": usage, "refused": refused}


def assert_matches_source(message: Any, expected: dict[str, Any]) -> None:
    texts = "".join(block.text for block in message.content if block.type == "text")
    assert texts == expected["text"]
    calls = [block for block in message.content if block.type == "tool_use"]
    assert [(c.id, c.name) for c in calls] == [(e["id"], e["name"]) for e in expected["calls"]]
    assert [c.input for c in calls] == [json.loads(e["arguments"]) for e in expected["calls"]]
    reason = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}[
        expected["finish"]
    ]
    assert message.stop_reason == ("refusal" if expected["refused"] else reason)
    if expected["usage"]:
        cached = (expected["usage"].get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        assert message.usage.output_tokens == expected["usage"]["completion_tokens"]
        assert message.usage.input_tokens == expected["usage"]["prompt_tokens"] - cached
        assert message.usage.cache_read_input_tokens == cached


@pytest.mark.parametrize("name", CHAT_STREAMS)
@pytest.mark.parametrize("split", [1, 7, 4096])
def test_translator_replays_recording(name: str, split: int) -> None:
    raw = load_transcript(name)
    events = parse_sse(asyncio.run(render_upstream(raw, split, "chat")))
    check_grammar(events)
    assert_matches_source(accumulate(events), expected_from_source(raw))


@pytest.mark.parametrize("name", CHAT_STREAMS)
def test_sdk_over_http_replays_recording(name: str, client: anthropic.Anthropic, fake_azure: FakeAzure) -> None:
    raw = load_transcript(name)
    fake_azure.enqueue(RawSSE(raw))
    with client.messages.stream(
        model="claude-opus-4-8", max_tokens=100, messages=[{"role": "user", "content": "replay"}]
    ) as stream:
        message = stream.get_final_message()
    assert_matches_source(message, expected_from_source(raw))


def test_corpus_has_chat_streams() -> None:
    assert len(CHAT_STREAMS) >= 10, CHAT_STREAMS
    assert Path(RECORDED, "SOURCES.md").exists()  # type: ignore[arg-type]
