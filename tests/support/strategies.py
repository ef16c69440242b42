"""Hypothesis strategies: valid Anthropic Messages requests, and Azure chat/completions streams; how many examples."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import strategies as st

DEV_PROFILE = "dev"
"""The fast loop's profile (HYPOTHESIS_PROFILE=dev, registered in tests/conftest.py): a quarter of the examples."""


def examples(count: int) -> int:
    """How many examples a property test runs: `count`, or a quarter of it (at least 10) in the `dev` profile.

    A test's own `@settings(max_examples=...)` wins over any profile, so the count goes through here; scripts/test
    and CI never set the profile, so what they run is `count`.
    """
    return max(count // 4, 10) if os.environ.get("HYPOTHESIS_PROFILE") == DEV_PROFILE else count


NAME = st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True)
TEXT = st.text(min_size=1, max_size=40)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
IMAGE = st.sampled_from(
    [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ]
)
DOCUMENT = st.sampled_from(
    [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
        {"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"}},
    ]
)
UNKNOWN_BLOCK = st.fixed_dictionaries(
    {"type": st.sampled_from(["future_block", "redacted_thinking", "server_tool_use"]), "data": TEXT}
)
CACHE = st.sampled_from([{}, {"cache_control": {"type": "ephemeral"}}])


def text_block() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda text, cache: {"type": "text", "text": text, **cache}, TEXT, CACHE)


@st.composite
def conversation(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Alternating turns; assistant tool calls answered (or not) by the next user turn."""
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    counter = 0
    for turn in range(draw(st.integers(1, 7))):
        if turn % 2 == 0:
            blocks: list[dict[str, Any]] = []
            for call_id in pending:
                if draw(st.booleans()) or draw(st.booleans()):
                    content = draw(st.one_of(TEXT, st.lists(st.one_of(text_block(), IMAGE, DOCUMENT), max_size=3), st.none()))
                    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "is_error": draw(st.booleans())}
                    if content is not None:
                        result["content"] = content
                    blocks.append(result)
            pending = []
            blocks += draw(st.lists(st.one_of(text_block(), IMAGE, DOCUMENT), min_size=0 if blocks else 1, max_size=3))
            if draw(st.booleans()):
                blocks.insert(draw(st.integers(0, len(blocks))), draw(UNKNOWN_BLOCK))
            if draw(st.booleans()) and all(b["type"] == "text" for b in blocks) and len(blocks) == 1:
                messages.append({"role": "user", "content": blocks[0]["text"]})
            else:
                messages.append({"role": "user", "content": blocks})
            if draw(st.integers(0, 5)) == 0:
                messages.append({"role": "system", "content": draw(TEXT)})
        else:
            blocks = []
            if draw(st.booleans()):
                blocks.append({"type": "thinking", "thinking": draw(TEXT), "signature": "sig"})
            blocks += draw(st.lists(text_block(), max_size=2))
            for _ in range(draw(st.integers(0, 3))):
                counter += 1
                call_id = f"toolu_{counter:04d}" + draw(st.sampled_from(["", "x" * 40]))
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call_id,
                        "name": draw(NAME),
                        "input": draw(st.dictionaries(st.text(max_size=5), JSON_VALUE, max_size=3)),
                    }
                )
                pending.append(call_id)
            messages.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "ok"}]})
    return messages


@st.composite
def messages_request(draw: st.DrawFn) -> dict[str, Any]:
    tools = draw(
        st.lists(
            st.fixed_dictionaries(
                {"name": NAME, "input_schema": st.just({"type": "object", "properties": {}})}, optional={"description": TEXT}
            ),
            max_size=4,
            unique_by=lambda t: t["name"],
        )
    )
    if draw(st.booleans()):
        tools.append({"type": "web_search_20250305", "name": "web_search", "max_uses": 3})
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"])),
        "max_tokens": draw(st.integers(1, 16384)),
        "messages": draw(conversation()),
    }
    optional = {
        "system": st.one_of(TEXT, st.lists(text_block(), min_size=1, max_size=3)),
        "temperature": st.floats(0, 1),
        "top_p": st.floats(0.01, 1),
        "top_k": st.integers(1, 500),
        "stop_sequences": st.lists(TEXT, max_size=3),
        "metadata": st.fixed_dictionaries({"user_id": st.text(min_size=1, max_size=200)}),
        "thinking": st.sampled_from([{"type": "adaptive"}, {"type": "enabled", "budget_tokens": 2048}, {"type": "disabled"}]),
        "output_config": st.just({"effort": "high"}),
        "context_management": st.just({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}),
        "some_future_field": JSON_VALUE,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    if tools:
        body["tools"] = tools
        if draw(st.booleans()):
            choice = draw(st.sampled_from(["auto", "any", "none", "tool"]))
            body["tool_choice"] = {"type": choice, "disable_parallel_tool_use": draw(st.booleans())}
            if choice == "tool":
                body["tool_choice"]["name"] = tools[0]["name"]
    return body


@st.composite
def upstream_stream(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Azure chunks for some text and tool calls, arguments cut anywhere; and what they should add up to."""
    text = draw(st.text(max_size=60))
    calls = draw(st.lists(st.tuples(NAME, st.dictionaries(st.text(max_size=5), JSON_VALUE, max_size=3)), max_size=3))
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length", "content_filter"]))
    chunks: list[dict[str, Any]] = [{"choices": [], "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}]

    def delta(value: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": value, "finish_reason": finish_reason, "content_filter_results": {}}]}

    chunks.append(delta({"role": "assistant", "content": ""}))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(text) - 1, 1)), max_size=5)))
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        if text[start:end]:
            chunks.append(delta({"content": text[start:end]}))
    for index, (name, arguments) in enumerate(calls):
        encoded = json.dumps(arguments)
        chunks.append(
            delta(
                {
                    "tool_calls": [
                        {"index": index, "id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": ""}}
                    ]
                }
            )
        )
        points = sorted(draw(st.sets(st.integers(1, max(len(encoded) - 1, 1)), max_size=6)))
        for start, end in zip([0, *points], [*points, len(encoded)], strict=True):
            if encoded[start:end]:
                chunks.append(delta({"tool_calls": [{"index": index, "function": {"arguments": encoded[start:end]}}]}))
    chunks.append(delta({}, finish))
    if draw(st.booleans()):
        chunks.append({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
    return chunks, {"text": text, "calls": [(f"call_{i}", name, args) for i, (name, args) in enumerate(calls)], "finish": finish}
