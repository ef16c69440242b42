"""Internal events → the Anthropic Messages streaming grammar.

message_start
( content_block_start  content_block_delta*  content_block_stop )*   indexes 0, 1, 2, ...
message_delta (stop_reason, stop_sequence, usage)
message_stop
ping may appear anywhere after message_start; a failure after the start is
one `error` event, and the stream ends there.

internal event          Anthropic
----------------------  -------------------------------------------------------------
TextDelta               text block, text_delta
Citation                citations_delta {web_search_result_location} in the text block
ReasoningDelta          thinking block {thinking: "", signature: ""}, thinking_delta
ReasoningSignature      signature_delta, last in its thinking block (a block with no
                        text when the reasoning was not shown; none for ""); reasoning
                        after it opens a new thinking block
ToolCallStart           tool_use block {id, name, input: {}} (each call its own block)
ToolCallDelta           input_json_delta with the fragment as it arrives
WebSearchCall           server_tool_use block {id, name: web_search, input: {}},
                        input_json_delta {"query": ...}
WebSearchResults        web_search_tool_result block {tool_use_id, content:
                        [web_search_result]} (complete at start, no deltas)
Usage                   message_delta.usage (with server_tool_use.web_search_requests
                        and output_tokens_details.thinking_tokens when non-zero)
Finish                  closes the open block, message_delta + message_stop
"""

from __future__ import annotations

import json
import logging

from bridge.errors import BridgeError
from bridge.fronts.anthropic.message import citation_body, usage_body, web_search_results_block, web_search_use_block
from bridge.model import (
    Citation,
    Event,
    Finish,
    ReasoningDelta,
    ReasoningSignature,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    WebSearchCall,
    WebSearchResults,
)
from bridge.sse import encode

PING = encode("ping", {"type": "ping"})
log = logging.getLogger(__name__)


def error_event(error: BridgeError) -> bytes:
    return encode("error", {"type": "error", "error": {"type": error.kind, "message": error.message}})


class AnthropicStreamRenderer:
    """Renders one message's events; keeps the block bookkeeping."""

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self.index = -1
        self.open_kind: str | None = None
        self.open_slot: int | None = None
        self.signed = False
        self.usage = Usage()
        self.finished = False
        self.error_kind: str | None = None

    def heartbeat(self) -> bytes:
        return PING

    def error(self, error: BridgeError) -> bytes:
        self.error_kind = error.kind
        return error_event(error)

    def opening(self) -> bytes:
        message: dict[str, object] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_body(self.usage),
        }
        return encode("message_start", {"type": "message_start", "message": message}) + PING

    def _close(self, out: list[bytes]) -> None:
        if self.open_kind is not None:
            out.append(encode("content_block_stop", {"type": "content_block_stop", "index": self.index}))
            self.open_kind = None
            self.open_slot = None

    def _open(self, kind: str, block: dict[str, object], out: list[bytes], slot: int | None = None) -> None:
        self._close(out)
        self.index += 1
        self.open_kind = kind
        self.open_slot = slot
        self.signed = False
        out.append(encode("content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block}))

    def _delta(self, delta: dict[str, object], out: list[bytes]) -> None:
        out.append(encode("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta}))

    def render(self, events: list[Event]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if isinstance(event, TextDelta):
                if self.open_kind != "text":
                    self._open("text", {"type": "text", "text": ""}, out)
                self._delta({"type": "text_delta", "text": event.text}, out)
            elif isinstance(event, ToolCallDelta):
                if self.open_kind == "tool_use" and self.open_slot == event.slot:
                    self._delta({"type": "input_json_delta", "partial_json": event.arguments}, out)
                else:
                    log.warning("dropped arguments for tool call slot %s that arrived after its block closed", event.slot)
            elif isinstance(event, ToolCallStart):
                self._open("tool_use", {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}, out, event.slot)
            elif isinstance(event, ReasoningDelta):
                self._thinking(out)
                self._delta({"type": "thinking_delta", "thinking": event.text}, out)
            elif isinstance(event, ReasoningSignature):
                if event.signature:
                    self._thinking(out)
                    self._delta({"type": "signature_delta", "signature": event.signature}, out)
                self.signed = True
            elif isinstance(event, Citation):
                if self.open_kind != "text":
                    self._open("text", {"type": "text", "text": ""}, out)
                self._delta({"type": "citations_delta", "citation": citation_body(event)}, out)
            elif isinstance(event, WebSearchCall):
                self._open("server_tool_use", web_search_use_block(event.id, {}), out)
                query = json.dumps({"query": event.query}, ensure_ascii=False)
                self._delta({"type": "input_json_delta", "partial_json": query}, out)
                self._close(out)
            elif isinstance(event, WebSearchResults):
                self._open("web_search_tool_result", web_search_results_block(event), out)
                self._close(out)
            elif isinstance(event, Usage):
                self.usage = event
            elif isinstance(event, Finish):
                self._close(out)
                out.append(
                    encode(
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": event.reason, "stop_sequence": event.stop_sequence},
                            "usage": usage_body(self.usage),
                        },
                    )
                )
                out.append(encode("message_stop", {"type": "message_stop"}))
                self.finished = True
        return b"".join(out)

    def _thinking(self, out: list[bytes]) -> None:
        """Make sure an unsigned thinking block is open (a signed one is complete)."""
        if self.open_kind != "thinking" or self.signed:
            self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
