"""A checker for the Anthropic Messages streaming grammar, and the helpers every stream test shares.

message_start ping? ( content_block_start content_block_delta* content_block_stop )*
message_delta message_stop
(ping anywhere after message_start; or, after message_start, one final `error` event)

block                   starts as                                  deltas
----------------------  -----------------------------------------  ---------------------------------
text                    {text: ""}                                 text_delta, citations_delta
thinking                {thinking: "", signature: ""}              thinking_delta*, signature_delta?
                                                                   (the signature last)
redacted_thinking       {data}                                     none
tool_use                {id, name, input: {}}                      input_json_delta
server_tool_use         {id, name, input: {}}                      input_json_delta
web_search_tool_result  {tool_use_id (an earlier server_tool_use),  none
                        content: [web_search_result] | error}
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event

from bridge.deadline import Deadline
from bridge.fronts.anthropic.stream import AnthropicStreamRenderer
from bridge.model import Api, Target
from bridge.serving.outbound import StreamRenderer, stream_body
from bridge.upstreams.exchange import APIS
from bridge.upstreams.stops import StopSequences
from bridge.upstreams.stream import StreamDecoder, UpstreamStream
from bridge.upstreams.transport import Reply

STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
DELTA_FOR_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "redacted_thinking": set(),
    "web_search_tool_result": set(),
}


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """The (event name, data) of each server-sent event in `raw`, read as a client reads them."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in [*raw.decode().replace("\r\n", "\n").split("\n"), ""]:
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
    return events


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    parsed = []
    for name, payload in sse_events(raw):
        data = json.loads(payload)
        assert name == data["type"], f"event name {name!r} differs from data type {data['type']!r}"
        parsed.append((name, data))
    return parsed


def check_grammar(events: list[tuple[str, dict[str, Any]]], *, allow_error: bool = False) -> None:
    """Raise AssertionError naming the first event that breaks the grammar."""
    assert events, "empty stream"
    assert events[0][0] == "message_start", f"first event is {events[0][0]}"
    message = events[0][1]["message"]
    assert message["id"].startswith("msg_") and message["role"] == "assistant" and message["content"] == []
    next_index = 0
    open_block: dict[str, Any] | None = None
    signed = False
    server_calls: set[str] = set()
    state = "blocks"
    for position, (name, data) in enumerate(events[1:], start=1):
        where = f"event {position} ({name})"
        if name == "ping":
            assert state != "stopped", f"{where}: ping after message_stop"
            continue
        if name == "error":
            assert allow_error, f"{where}: unexpected error event {data}"
            assert position == len(events) - 1, f"{where}: events after the error event"
            assert data["error"]["type"] and data["error"]["message"]
            return
        assert state != "stopped", f"{where}: event after message_stop"
        if name == "content_block_start":
            assert state == "blocks" and open_block is None, f"{where}: block opened while another is open"
            assert data["index"] == next_index, f"{where}: index {data['index']}, expected {next_index}"
            open_block = data["content_block"]
            assert open_block["type"] in DELTA_FOR_BLOCK, f"{where}: unknown block type {open_block['type']}"
            if open_block["type"] in ("tool_use", "server_tool_use"):
                assert open_block["id"] and open_block["name"] and open_block["input"] == {}, f"{where}: {open_block}"
            if open_block["type"] == "server_tool_use":
                server_calls.add(open_block["id"])
            if open_block["type"] == "thinking":
                assert open_block["thinking"] == "" and open_block["signature"] == "", f"{where}: {open_block}"
            if open_block["type"] == "web_search_tool_result":
                assert open_block["tool_use_id"] in server_calls, f"{where}: result for an unknown server tool call"
                assert isinstance(open_block["content"], (list, dict)), f"{where}: {open_block}"
            signed = False
        elif name == "content_block_delta":
            assert open_block is not None and data["index"] == next_index, f"{where}: delta outside its block"
            assert data["delta"]["type"] in DELTA_FOR_BLOCK[open_block["type"]], (
                f"{where}: {data['delta']['type']} in {open_block['type']}"
            )
            assert not signed, f"{where}: delta after the thinking block's signature"
            signed = data["delta"]["type"] == "signature_delta"
        elif name == "content_block_stop":
            assert open_block is not None and data["index"] == next_index, f"{where}: stop without an open block"
            open_block = None
            next_index += 1
        elif name == "message_delta":
            assert state == "blocks" and open_block is None, f"{where}: message_delta with a block open"
            assert data["delta"]["stop_reason"] in STOP_REASONS, f"{where}: stop_reason {data['delta']['stop_reason']}"
            assert isinstance(data["usage"]["output_tokens"], int)
            state = "delta"
        elif name == "message_stop":
            assert state == "delta", f"{where}: message_stop without message_delta"
            state = "stopped"
        else:
            raise AssertionError(f"{where}: unknown event")
    assert state == "stopped", "stream ended without message_stop"


def accumulate(events: list[tuple[str, dict[str, Any]]]) -> Any:
    """The message the anthropic SDK's own stream accumulator builds from `events`."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for _, data in events:
        if data["type"] in ("ping", "message_stop"):
            continue
        snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=buffers)
    return snapshot


async def in_pieces(raw: bytes, size: int) -> AsyncIterator[bytes]:
    """`raw` as an upstream body arriving `size` bytes at a time."""
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def upstream_stream(raw: bytes, size: int, api: Api, stops: list[str] | None = None) -> UpstreamStream:
    """An upstream SSE body arriving `size` bytes at a time, as the exchange hands it on."""
    decoder = StreamDecoder(APIS[api].translator(), StopSequences(stops) if stops else None)
    reply = Reply(200, {}, in_pieces(raw, size), lambda: None)
    return UpstreamStream(reply, decoder, Target("gpt-5", "BIG_MODEL"), api)


def opened(stream: UpstreamStream) -> asyncio.Future[UpstreamStream]:
    """An exchange that has already started."""
    future: asyncio.Future[UpstreamStream] = asyncio.get_running_loop().create_future()
    future.set_result(stream)
    return future


async def render(renderer: StreamRenderer, stream: UpstreamStream) -> bytes:
    """What a client receives when `renderer` renders `stream`."""
    return b"".join([part async for part in stream_body(renderer, opened(stream), Deadline.after(30), 10.0)])


async def render_upstream(raw: bytes, size: int, api: Api) -> bytes:
    """An upstream SSE body through the `api` translator and the Anthropic stream writer, as the client receives it."""
    return await render(AnthropicStreamRenderer("msg_replay", "claude-opus-4-8"), upstream_stream(raw, size, api))
