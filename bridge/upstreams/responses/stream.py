"""Azure OpenAI Responses stream events → internal events.

    Responses event                                  internal event
    -----------------------------------------------  ------------------------------------------
    response.created / in_progress / *.added parts   (nothing)
    output_item.added function_call                  ToolCallStart(slot=output_index, call_id, name)
    function_call_arguments.delta                    ToolCallDelta(slot=output_index)
    output_item.done function_call                   its arguments, when no delta carried them
    reasoning_summary_text.delta                     ReasoningDelta (parts after the first
    (reasoning_text.delta)                           start with a blank line)
    output_item.done reasoning                       ReasoningSignature(item id + encrypted_content,
                                                     see `signature`; "" when it has none, which
                                                     still ends the item's thinking); its summary
                                                     first, when no delta carried it
    output_text.delta / refusal.delta                TextDelta (a refusal finishes as refusal)
    output_item.done message                         its text, when no delta carried it
    output_text.annotation.added url_citation        Citation(url, title, the cited span)
    output_item.done web_search_call                 WebSearchCall(id, action.query) +
                                                     WebSearchResults(id, action.sources)
    response.completed                               Usage + Finish end_turn | tool_use | refusal
    response.incomplete max_output_tokens            Usage + Finish max_tokens
    response.incomplete content_filter               Usage + Finish refusal
    error, response.failed with its error            UpstreamError (the exchange's recovery step,
                                                     or the client's error event once begun)
    response.failed with `error: null`               waits for the `error` frame that follows (Azure's
                                                     content filter sends the reason only there)
    usage input_tokens (cached included)             Usage input (cached excluded), cached,
          output_tokens_details.reasoning_tokens     reasoning; web_search_call items counted

The stream ends at the first terminal event; a stream that ends before one is
reported as truncated.  The event type is read from the JSON (`type`), so the
`event:` lines may be missing.  `events_of` reads a whole (non-streamed)
response object through the same translator: each output item as its
`output_item.done`, then the terminal event its status names.
"""

from __future__ import annotations

from typing import Any

from bridge.model import (
    Citation,
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    ReasoningSignature,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    WebSearchCall,
    WebSearchResults,
    WebSource,
)
from bridge.upstreams.failures import IN_STREAM, ErrorReport, UpstreamError, truncated
from bridge.upstreams.responses.signature import encode

INCOMPLETE_REASONS: dict[str, FinishReason] = {"max_output_tokens": "max_tokens", "content_filter": "refusal"}


def usage_of(raw: dict[str, Any], web_searches: int) -> Usage:
    total = raw.get("input_tokens") or 0
    cached = (raw.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (raw.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        input_tokens=max(total - cached, 0),
        output_tokens=raw.get("output_tokens") or 0,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
        web_search_requests=web_searches,
    )


def failure(error: Any, fallback: str) -> UpstreamError:
    """The failure an `error` event or a failed response's `error` object reports."""
    return UpstreamError(ErrorReport.of(IN_STREAM, error, fallback=fallback))


def _sources(action: Any) -> list[WebSource]:
    raw = action.get("sources") if isinstance(action, dict) else None
    return [
        WebSource(source["url"], source.get("title") or source["url"])
        for source in raw or ()
        if isinstance(source, dict) and isinstance(source.get("url"), str)
    ]


def _query(action: Any) -> str:
    if not isinstance(action, dict):
        return ""
    if isinstance(action.get("query"), str):
        return str(action["query"])
    queries = action.get("queries")
    return " ".join(q for q in queries if isinstance(q, str)) if isinstance(queries, list) else ""


class ResponsesStreamTranslator:
    """Feed decoded events one by one; `finished` turns true at the terminal event."""

    def __init__(self) -> None:
        self.finished = False
        self._failed = False
        """`response.failed` came without its error: the reason follows in an `error` frame."""
        self._calls: dict[int, bool] = {}
        """Started function calls by output index: whether argument deltas arrived."""
        self._streamed: set[str] = set()
        """Items (reasoning, message) whose text arrived as deltas."""
        self._texts: dict[tuple[str, int], str] = {}
        self._web_searches = 0
        self._refused = False

    def feed(self, event: dict[str, Any]) -> list[Event]:
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        return handler(self, event) if handler is not None else []

    def end(self) -> list[Event]:
        if self._failed:
            raise failure(None, "the response failed")
        if not self.finished:
            raise truncated()
        return []

    def _item_added(self, event: dict[str, Any]) -> list[Event]:
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            return self._start_call(event.get("output_index", 0), item)
        return []

    def _start_call(self, slot: int, item: dict[str, Any]) -> list[Event]:
        if slot in self._calls:
            return []
        self._calls[slot] = False
        return [ToolCallStart(slot, item.get("call_id") or item.get("id") or f"call_{slot}", item.get("name") or "")]

    def _arguments(self, event: dict[str, Any]) -> list[Event]:
        slot = event.get("output_index", 0)
        delta = event.get("delta")
        if slot not in self._calls or not delta:
            return []
        self._calls[slot] = True
        return [ToolCallDelta(slot, delta)]

    def _summary_part(self, event: dict[str, Any]) -> list[Event]:
        if event.get("summary_index", 0) > 0 and event.get("item_id") in self._streamed:
            return [ReasoningDelta("\n\n")]
        return []

    def _reasoning_delta(self, event: dict[str, Any]) -> list[Event]:
        delta = event.get("delta")
        if not delta:
            return []
        self._streamed.add(event.get("item_id") or "")
        return [ReasoningDelta(delta)]

    def _text_delta(self, event: dict[str, Any]) -> list[Event]:
        delta = event.get("delta")
        if not delta:
            return []
        item_id = event.get("item_id") or ""
        self._streamed.add(item_id)
        key = (item_id, event.get("content_index", 0))
        self._texts[key] = self._texts.get(key, "") + delta
        if event.get("type") == "response.refusal.delta":
            self._refused = True
        return [TextDelta(delta)]

    def _annotation(self, event: dict[str, Any]) -> list[Event]:
        annotation = event.get("annotation") or {}
        if (
            not isinstance(annotation, dict)
            or annotation.get("type") != "url_citation"
            or not isinstance(annotation.get("url"), str)
        ):
            return []
        text = self._texts.get((event.get("item_id") or "", event.get("content_index", 0)), "")
        start, end = annotation.get("start_index"), annotation.get("end_index")
        cited = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
        return [Citation(annotation["url"], annotation.get("title") or annotation["url"], cited)]

    def _item_done(self, event: dict[str, Any]) -> list[Event]:
        item = event.get("item") or {}
        kind = item.get("type")
        if kind == "function_call":
            slot = event.get("output_index", 0)
            events = self._start_call(slot, item)
            if not self._calls[slot] and item.get("arguments"):
                self._calls[slot] = True
                events.append(ToolCallDelta(slot, item["arguments"]))
            return events
        if kind == "reasoning":
            return self._reasoning_done(item)
        if kind == "message":
            return self._message_done(item)
        if kind == "web_search_call":
            self._web_searches += 1
            call_id = item.get("id") or f"ws_{self._web_searches}"
            action = item.get("action")
            return [WebSearchCall(call_id, _query(action)), WebSearchResults(call_id, _sources(action))]
        return []

    def _reasoning_done(self, item: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if item.get("id") not in self._streamed:
            parts = [part.get("text") for part in item.get("summary") or () if isinstance(part, dict)]
            text = "\n\n".join(part for part in parts if isinstance(part, str) and part)
            if text:
                events.append(ReasoningDelta(text))
        encrypted = item.get("encrypted_content")
        if isinstance(encrypted, str) and encrypted and isinstance(item.get("id"), str):
            events.append(ReasoningSignature(encode(item["id"], encrypted)))
        elif events or item.get("id") in self._streamed:
            events.append(ReasoningSignature(""))
        return events

    def _message_done(self, item: dict[str, Any]) -> list[Event]:
        if item.get("id") in self._streamed:
            return []
        events: list[Event] = []
        item_id = item.get("id") or ""
        for index, part in enumerate(item.get("content") or ()):
            if not isinstance(part, dict):
                continue
            if part.get("type") == "refusal" and part.get("refusal"):
                self._refused = True
                events.append(TextDelta(part["refusal"]))
            elif part.get("type") == "output_text" and part.get("text"):
                self._texts[(item_id, index)] = part["text"]
                events.append(TextDelta(part["text"]))
                for annotation in part.get("annotations") or ():
                    events += self._annotation({"item_id": item_id, "content_index": index, "annotation": annotation})
        return events

    def _terminal(self, event: dict[str, Any]) -> list[Event]:
        response = event.get("response") or {}
        if event.get("type") == "response.failed":
            if not response.get("error"):
                self._failed = True
                return []
            self.finished = True
            raise failure(response.get("error"), "the response failed")
        self.finished = True
        events: list[Event] = []
        if isinstance(response.get("usage"), dict):
            events.append(usage_of(response["usage"], self._web_searches))
        elif self._web_searches:
            events.append(Usage(web_search_requests=self._web_searches))
        reason: FinishReason = "tool_use" if self._calls else "end_turn"
        if event.get("type") == "response.incomplete":
            cause = (response.get("incomplete_details") or {}).get("reason")
            reason = INCOMPLETE_REASONS.get(str(cause), reason)
        if self._refused:
            reason = "refusal"
        events.append(Finish(reason))
        return events

    def _error(self, event: dict[str, Any]) -> list[Event]:
        self.finished = True
        raise failure(event.get("error") or event, "the upstream reported an error")


_HANDLERS = {
    "response.output_item.added": ResponsesStreamTranslator._item_added,
    "response.function_call_arguments.delta": ResponsesStreamTranslator._arguments,
    "response.reasoning_summary_part.added": ResponsesStreamTranslator._summary_part,
    "response.reasoning_summary_text.delta": ResponsesStreamTranslator._reasoning_delta,
    "response.reasoning_text.delta": ResponsesStreamTranslator._reasoning_delta,
    "response.output_text.delta": ResponsesStreamTranslator._text_delta,
    "response.refusal.delta": ResponsesStreamTranslator._text_delta,
    "response.output_text.annotation.added": ResponsesStreamTranslator._annotation,
    "response.output_item.done": ResponsesStreamTranslator._item_done,
    "response.completed": ResponsesStreamTranslator._terminal,
    "response.incomplete": ResponsesStreamTranslator._terminal,
    "response.failed": ResponsesStreamTranslator._terminal,
    "error": ResponsesStreamTranslator._error,
}


TERMINAL_OF_STATUS = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}


def events_of(response: Any) -> list[Event]:
    """The events of a whole response object (a non-streamed answer)."""
    if not isinstance(response, dict):
        raise truncated()
    translator = ResponsesStreamTranslator()
    events: list[Event] = []
    for index, item in enumerate(response.get("output") or ()):
        events += translator.feed({"type": "response.output_item.done", "output_index": index, "item": item})
    terminal = TERMINAL_OF_STATUS.get(str(response.get("status")), "response.completed")
    events += translator.feed({"type": terminal, "response": response})
    return events + translator.end()
