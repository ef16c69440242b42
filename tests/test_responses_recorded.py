"""Every recorded Responses stream in ../shared/wire-corpus, replayed through the Responses translator.

Recordings: `recorded/azure-responses-stream-*`, `recorded/responses-stream-*`
(`.sse`, and `.chunks.jsonl` framed again; a file holding several responses is
cut at each `response.created`) and `cursor-azure-responses/*/upstream_response.sse`.
Each goes through the translator and the Anthropic stream writer, cut into
chunks of several sizes; the anthropic SDK's accumulator must build a valid
message with the source's thinking (and signature), text, tool calls, usage
and stop reason, computed from the source independently of the bridge.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bridge.upstreams.responses.signature import decode
from tests.support.anthropic_grammar import accumulate, check_grammar, parse_sse, render_upstream, sse_events
from tests.support.fake_azure import load_transcript, recorded_dir

RECORDED = recorded_dir()
CURSOR = RECORDED.parent / "cursor-azure-responses" if RECORDED else None
FILES = sorted(
    path.name
    for path in (RECORDED.iterdir() if RECORDED else ())
    if "responses-stream" in path.name and path.name.endswith((".sse", ".chunks.jsonl"))
)
CURSOR_FILES = sorted(path.parent.name for path in (CURSOR.glob("*/upstream_response.sse") if CURSOR else ()))
STOP = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}
pytestmark = pytest.mark.skipif(
    RECORDED is None, reason="../shared/wire-corpus not present (a user's clone): recorded-traffic tests skipped"
)


def split_responses(raw: bytes) -> list[bytes]:
    """The separate responses of a body (some fixtures hold a whole agent loop)."""
    streams: list[bytes] = []
    for event in raw.split(b"\n\n"):
        if not event.strip():
            continue
        if b'"type":"response.created"' in event or not streams:
            streams.append(b"")
        streams[-1] += event + b"\n\n"
    return streams


def recordings() -> list[tuple[str, int, bytes]]:
    out: list[tuple[str, int, bytes]] = []
    for name in FILES:
        out += [(name, i, body) for i, body in enumerate(split_responses(load_transcript(name)))]
    for folder in CURSOR_FILES:
        assert CURSOR is not None
        out.append((f"cursor/{folder}", 0, (CURSOR / folder / "upstream_response.sse").read_bytes()))
    return out


RECORDINGS = recordings()


def expected_from_source(raw: bytes) -> dict[str, Any]:
    """What the recording says, read straight from its events."""
    thinking: list[dict[str, Any]] = []
    text, calls, usage, finish, error, searches = "", [], None, None, None, 0
    for _, data in sse_events(raw):
        event = json.loads(data)
        kind = event["type"]
        if kind == "response.reasoning_summary_text.delta":
            if not thinking or thinking[-1]["id"] != event["item_id"] or thinking[-1]["signature"]:
                thinking.append({"id": event["item_id"], "text": "", "part": event["summary_index"], "signature": ""})
            if event["summary_index"] != thinking[-1]["part"]:
                thinking[-1]["text"] += "\n\n"
                thinking[-1]["part"] = event["summary_index"]
            thinking[-1]["text"] += event["delta"]
        elif kind == "response.output_text.delta":
            text += event["delta"]
        elif kind == "response.output_item.done" and event["item"]["type"] == "reasoning":
            item = event["item"]
            if item.get("encrypted_content"):
                if not thinking or thinking[-1]["id"] != item["id"]:
                    thinking.append({"id": item["id"], "text": "", "part": 0, "signature": ""})
                thinking[-1]["signature"] = item["encrypted_content"]
        elif kind == "response.output_item.done" and event["item"]["type"] == "function_call":
            item = event["item"]
            calls.append((item["call_id"], item["name"], json.loads(item["arguments"])))
        elif kind == "response.output_item.done" and event["item"]["type"] == "web_search_call":
            searches += 1
        elif kind in ("response.completed", "response.incomplete"):
            usage = event["response"]["usage"]
            reason = (event["response"].get("incomplete_details") or {}).get("reason")
            finish = STOP.get(reason, "tool_use" if calls else "end_turn")
            break
        elif kind in ("error", "response.failed"):
            error = event.get("error") or event["response"]["error"]
            break
    return {
        "thinking": thinking,
        "text": text,
        "calls": calls,
        "usage": usage,
        "finish": finish,
        "error": error,
        "searches": searches,
    }


def assert_matches_source(message: Any, expected: dict[str, Any]) -> None:
    thinking = [block for block in message.content if block.type == "thinking"]
    assert [block.thinking for block in thinking] == [t["text"] for t in expected["thinking"]]
    for block, source in zip(thinking, expected["thinking"], strict=True):
        carried = decode(block.signature)
        assert (
            (carried.id, carried.encrypted_content) == (source["id"], source["signature"]) if carried else not source["signature"]
        )
    assert "".join(block.text for block in message.content if block.type == "text") == expected["text"]
    assert [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"] == expected["calls"]
    assert message.stop_reason == expected["finish"]
    usage = expected["usage"]
    cached = usage["input_tokens_details"]["cached_tokens"]
    assert message.usage.input_tokens == usage["input_tokens"] - cached
    assert message.usage.cache_read_input_tokens == cached
    assert message.usage.output_tokens == usage["output_tokens"]
    reasoning = usage["output_tokens_details"]["reasoning_tokens"]
    details = message.usage.output_tokens_details
    assert (details.thinking_tokens if details else 0) == reasoning


@pytest.mark.parametrize("raw", [raw for _, _, raw in RECORDINGS], ids=[f"{n}#{p}" for n, p, _ in RECORDINGS])
@pytest.mark.parametrize("split", [1, 7, 4096])
def test_translator_replays_recording(raw: bytes, split: int) -> None:
    expected = expected_from_source(raw)
    events = parse_sse(asyncio.run(render_upstream(raw, split, "responses")))
    if expected["error"]:
        check_grammar(events, allow_error=True)
        assert events[-1][0] == "error" and expected["error"]["message"] in events[-1][1]["error"]["message"]
        return
    check_grammar(events)
    assert_matches_source(accumulate(events), expected)


def test_corpus_has_every_kind_of_responses_stream() -> None:
    kinds = {json.loads(data)["type"] for _, _, raw in RECORDINGS for _, data in sse_events(raw)}
    for kind in (
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.incomplete",
        "response.failed",
        "error",
    ):
        assert kind in kinds
    assert len(RECORDINGS) >= 25 and "sse_without_closing_new_lines" in CURSOR_FILES
    assert not (CURSOR / "sse_without_closing_new_lines" / "upstream_response.sse").read_bytes().endswith(b"\n")  # type: ignore[operator]
    assert Path(RECORDED, "SOURCES.md").exists()  # type: ignore[arg-type]
