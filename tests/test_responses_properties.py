"""Property-based tests of the Responses translators: valid input always gives valid output.

Any valid Anthropic request becomes a Responses body the fake Azure's rules
accept; any well-formed Responses event stream (reasoning summaries with
encrypted content, text with url citations, web searches, function calls with
arguments cut anywhere, any end), cut into chunks anywhere, renders as a
stream that obeys the Anthropic grammar and keeps every piece of content.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.fronts.anthropic.request import parse_request
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.upstreams.adapt import Adaptation
from bridge.upstreams.responses.request import build_body
from bridge.upstreams.responses.signature import decode, encode
from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse, render, upstream_stream
from tests.support.fake_azure import Deployment, Vault
from tests.support.fake_azure.responses_rules import validate_responses_request
from tests.support.strategies import JSON_VALUE, NAME, examples, messages_request

ANY_REASONING = Deployment(
    "any", reasoning=True, max_output_tokens=1_000_000, efforts=("none", "minimal", "low", "medium", "high", "xhigh")
)
NO_SAMPLING = Adaptation(dropped=frozenset({"temperature", "top_p"}))
"""What the bridge learns from a reasoning deployment's first 400s."""
STOPS = {"completed": None, "max_output_tokens": "max_tokens", "content_filter": "refusal"}


@given(messages_request())
@settings(max_examples=examples(300), deadline=None)
def test_every_valid_request_becomes_a_responses_body_azure_accepts(body: dict[str, Any]) -> None:
    request = parse_request(body)
    responses = NO_SAMPLING.apply(build_body(request, "any", True))
    error = validate_responses_request(responses, ANY_REASONING)
    assert error is None, (error, json.dumps(responses)[:2000])
    assert not any(item["type"] == "reasoning" for item in responses["input"]), "the strategies' signatures are not the bridge's"


VAULT = Vault("properties")


@st.composite
def reasoned_request(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request whose thinking blocks carry the bridge's signatures, for a few item ids (so some repeat)."""
    body: dict[str, Any] = draw(messages_request())
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else ():
            if block["type"] == "thinking":
                item_id = draw(st.sampled_from(["rs_one", "rs_two"]))
                block["signature"] = encode(item_id, VAULT.seal(item_id, block["thinking"], ANY_REASONING.name))
    return body


@given(reasoned_request())
@settings(max_examples=examples(200), deadline=None)
def test_reasoning_goes_back_only_where_azure_takes_it(body: dict[str, Any]) -> None:
    """Never a reasoning item without the model's output after it, never one item twice, whatever the history."""
    responses = NO_SAMPLING.apply(build_body(parse_request(body), "any", True))
    error = validate_responses_request(responses, ANY_REASONING, VAULT)
    assert error is None, (error, json.dumps(responses["input"])[:2000])


def _cuts(draw: st.DrawFn, text: str) -> list[str]:
    points = sorted(draw(st.sets(st.integers(1, max(len(text) - 1, 1)), max_size=5)))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True) if text[a:b]]


@st.composite
def responses_stream(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Responses events for reasoning, searches, text and calls; and what they should add up to."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {"status": "in_progress"}}]
    expected: dict[str, Any] = {"thinking": [], "searches": [], "text": "", "citations": [], "calls": []}
    index = 0
    for _ in range(draw(st.integers(0, 2))):
        item_id, parts = f"rs_{index}", draw(st.lists(st.text(min_size=1, max_size=30), max_size=3))
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {"id": item_id, "type": "reasoning", "summary": []},
            }
        )
        for position, part in enumerate(parts):
            events.append({"type": "response.reasoning_summary_part.added", "item_id": item_id, "summary_index": position})
            events += [
                {"type": "response.reasoning_summary_text.delta", "item_id": item_id, "summary_index": position, "delta": cut}
                for cut in _cuts(draw, part)
            ]
        encrypted = draw(st.sampled_from(["gAAAAAB" + "x" * 20, ""]))
        done = {
            "id": item_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": p} for p in parts],
            "encrypted_content": encrypted,
        }
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        if parts or encrypted:
            expected["thinking"].append(("\n\n".join(parts), encrypted))
        index += 1
    for _ in range(draw(st.integers(0, 2))):
        query = draw(st.text(max_size=20))
        action = {"type": "search", "query": query, "sources": [{"type": "url", "url": "https://example.com/"}]}
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": index,
                "item": {"id": f"ws_{index}", "type": "web_search_call", "status": "completed", "action": action},
            }
        )
        expected["searches"].append(query)
        index += 1
    text = draw(st.text(max_size=60))
    if text:
        item_id = f"msg_{index}"
        events += [
            {"type": "response.output_text.delta", "item_id": item_id, "output_index": index, "content_index": 0, "delta": cut}
            for cut in _cuts(draw, text)
        ]
        if expected["searches"] and draw(st.booleans()):
            start = draw(st.integers(0, len(text) - 1))
            annotation = {
                "type": "url_citation",
                "start_index": start,
                "end_index": len(text),
                "url": "https://example.com/",
                "title": "Example",
            }
            events.append(
                {
                    "type": "response.output_text.annotation.added",
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": 0,
                    "annotation": annotation,
                }
            )
            expected["citations"].append(text[start:])
        expected["text"] = text
        index += 1
    for name, arguments in draw(
        st.lists(st.tuples(NAME, st.dictionaries(st.text(max_size=5), JSON_VALUE, max_size=3)), max_size=3)
    ):
        encoded = json.dumps(arguments)
        item = {"id": f"fc_{index}", "type": "function_call", "call_id": f"call_{index}", "name": name, "arguments": ""}
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events += [
            {"type": "response.function_call_arguments.delta", "output_index": index, "delta": cut}
            for cut in _cuts(draw, encoded)
        ]
        events.append({"type": "response.output_item.done", "output_index": index, "item": {**item, "arguments": encoded}})
        expected["calls"].append((f"call_{index}", name, arguments))
        index += 1
    end = draw(st.sampled_from(sorted(STOPS)))
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3},
    }
    if end == "completed":
        events.append({"type": "response.completed", "response": {"status": "completed", "usage": usage}})
        expected["stop"] = "tool_use" if expected["calls"] else "end_turn"
    else:
        events.append(
            {
                "type": "response.incomplete",
                "response": {"status": "incomplete", "incomplete_details": {"reason": end}, "usage": usage},
            }
        )
        expected["stop"] = STOPS[end]
    return events, expected


async def _render(events: list[dict[str, Any]], split: int, framed: bool) -> bytes:
    raw = b"".join(
        (f"event: {e['type']}\n" if framed else "").encode() + b"data: " + json.dumps(e).encode() + b"\n\n" for e in events
    )
    return await render(AnthropicStreamRenderer("msg_prop", "claude-opus-4-8"), upstream_stream(raw, split, "responses"))


@given(responses_stream(), st.integers(1, 300), st.booleans())
@settings(max_examples=examples(300), deadline=None)
def test_every_responses_stream_obeys_the_grammar_and_keeps_the_content(
    stream: tuple[list[dict[str, Any]], dict[str, Any]], split: int, framed: bool
) -> None:
    events, expected = stream
    rendered = parse_sse(asyncio.run(_render(events, split, framed)))
    check_grammar(rendered)
    message = accumulate(rendered)
    thinking = [(b.thinking, decode(b.signature)) for b in message.content if b.type == "thinking"]
    assert [(text, carried.encrypted_content if carried else "") for text, carried in thinking] == expected["thinking"]
    assert [b.input["query"] for b in message.content if b.type == "server_tool_use"] == expected["searches"]
    assert len([b for b in message.content if b.type == "web_search_tool_result"]) == len(expected["searches"])
    texts = [b for b in message.content if b.type == "text"]
    assert "".join(b.text for b in texts) == expected["text"]
    assert [c.cited_text for b in texts for c in b.citations or ()] == expected["citations"]
    assert [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"] == expected["calls"]
    assert message.stop_reason == expected["stop"]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (6, 4, 7)
    assert message.usage.output_tokens_details.thinking_tokens == 3
