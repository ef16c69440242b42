"""Scripted Responses API replies and their Azure-shaped event streams.

The shapes follow the recordings in `../shared/wire-corpus/recorded/azure-responses-*`
and `cursor-azure-responses/`: `event:` + `data:` framing, a `sequence_number`
on every event, `response.created` / `in_progress` carrying the response
object, then per output item `output_item.added`, its part and delta events,
`output_item.done`, and a terminal `response.completed` / `incomplete` with
usage (or `error` + `response.failed`).

What the request asked for shapes the reply as on the real service: a
reasoning item only on a reasoning deployment, its summary streamed only when
`reasoning.summary` was set, its `encrypted_content` only when `include` asks
for it (issued by `responses_rules.issue_encrypted`, so it can be checked when
it comes back), web-search sources only with `web_search_call.action.sources`.
As on Azure, the reasoning item's token in `output_item.added` differs from
the final one in `output_item.done` (and this fake's early one never verifies).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .responses_rules import issue_encrypted
from .rules import Deployment
from .streams import (
    JSON_CONTENT_TYPE,
    NO_FAULTS,
    SSE_CONTENT_TYPE,
    Faults,
    Rendered,
    Text,
    ToolCalls,
    random_id,
    split_randomly,
    split_text,
)


@dataclass(frozen=True, slots=True)
class Search:
    """One web search the model runs: its query and the pages found, as (url, title)."""

    query: str
    sources: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, slots=True)
class ResponsesText:
    """A text answer, after optional reasoning (summary parts) and web searches.

    `citations` are (cited span of `text`, url, title); `incomplete` is
    `max_output_tokens` or `content_filter` for a response cut short.
    """

    text: str = "Hello from fake Azure."
    reasoning: Sequence[str] = ("Thinking about the answer.",)
    searches: Sequence[Search] = ()
    citations: Sequence[tuple[str, str, str]] = ()
    incomplete: str | None = None
    pieces: int = 4
    cached_tokens: int = 0
    reasoning_tokens: int = 64
    faults: Faults = NO_FAULTS


@dataclass(frozen=True, slots=True)
class ResponsesToolCalls:
    """Function calls (name, arguments: a mapping JSON-encoded, a string verbatim), after reasoning and optional text."""

    calls: Sequence[tuple[str, Mapping[str, Any] | str]]
    text: str | None = None
    reasoning: Sequence[str] = ("I should call a tool.",)
    seed: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 64
    faults: Faults = NO_FAULTS


@dataclass(frozen=True, slots=True)
class ResponsesFailure:
    """A stream that fails after it started: some text, then `error` and `response.failed`."""

    message: str = "An error occurred while processing your request."
    code: str = "server_error"
    text: str = ""
    faults: Faults = NO_FAULTS


ResponsesReply = ResponsesText | ResponsesToolCalls | ResponsesFailure


def from_chat_reply(reply: Text | ToolCalls) -> ResponsesReply:
    """The Responses counterpart of a chat reply, so one script serves both APIs."""
    if isinstance(reply, Text):
        incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(reply.finish_reason)
        return ResponsesText(
            reply.text, incomplete=incomplete, pieces=reply.pieces, cached_tokens=reply.cached_tokens, faults=reply.faults
        )
    return ResponsesToolCalls(reply.calls, reply.text, seed=reply.seed, cached_tokens=reply.cached_tokens, faults=reply.faults)


def render_responses(reply: ResponsesReply, request: Mapping[str, Any], deployment: Deployment) -> Rendered:
    """Turn `reply` into the event stream Azure sends for the Responses `request` to `deployment`."""
    return Rendered(200, SSE_CONTENT_TYPE, {}, _Response(reply, request, deployment).events(), reply.faults)


def as_response_object(rendered: Rendered) -> Rendered:
    """The answer to a request that did not ask to stream: the terminal event's response object as one JSON body.

    A failed response becomes Azure's 500 with the error in its usual `{"error": …}` envelope.
    """
    terminal = json.loads(rendered.pieces[-1].split(b"data: ", 1)[1])
    response = terminal["response"]
    status, body = 200, response
    if terminal["type"] == "response.failed":
        error = response["error"]
        status, body = 500, {"error": {"code": error["code"], "message": error["message"], "param": None, "type": error["code"]}}
    encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Rendered(status, JSON_CONTENT_TYPE, {}, [encoded], rendered.faults)


@dataclass
class _Response:
    reply: ResponsesReply
    request: Mapping[str, Any]
    deployment: Deployment
    rng: random.Random = field(init=False)
    id: str = field(init=False)
    sequence: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.reply.seed if isinstance(self.reply, ResponsesToolCalls) else None)
        self.id = random_id("resp_", 48, self.rng)
        self.include = set(self.request.get("include") or ())
        reasoning = self.request.get("reasoning") if isinstance(self.request.get("reasoning"), dict) else {}
        self.summaries = bool(reasoning.get("summary"))

    def emit(self, kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        self.pieces.append(f"event: {kind}\ndata: {data}\n\n".encode())

    def response(self, status: str, **extra: Any) -> dict[str, Any]:
        request = self.request
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "background": False,
            "content_filters": None,
            "error": None,
            "incomplete_details": None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "max_tool_calls": request.get("max_tool_calls"),
            "model": self.deployment.model_name,
            "output": list(self.output) if status != "in_progress" else [],
            "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "prompt_cache_key": request.get("prompt_cache_key"),
            "reasoning": {"effort": None, "summary": None, **(request.get("reasoning") or {})},
            "safety_identifier": request.get("safety_identifier"),
            "service_tier": "default",
            "store": request.get("store", True),
            "temperature": request.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium", **(request.get("text") or {})},
            "tool_choice": request.get("tool_choice", "auto"),
            "tools": request.get("tools", []),
            "top_p": request.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
        }
        body.update(extra)
        return body

    def events(self) -> list[bytes]:
        self.emit("response.created", response=self.response("in_progress"))
        self.emit("response.in_progress", response=self.response("in_progress"))
        reply = self.reply
        if isinstance(reply, ResponsesFailure):
            if reply.text:
                self.message(reply.text, (), None)
            error = {"type": reply.code, "code": reply.code, "message": reply.message, "param": None}
            self.emit("error", error=error)
            self.emit("response.failed", response=self.response("failed", error={"code": reply.code, "message": reply.message}))
            return self.pieces
        if self.deployment.reasoning and reply.reasoning:
            self.reasoning(reply.reasoning)
        searches = reply.searches if isinstance(reply, ResponsesText) else ()
        for search in searches:
            self.web_search(search)
        produced = ""
        if isinstance(reply, ResponsesText):
            self.message(reply.text, reply.citations, reply.incomplete, reply.pieces)
            produced = reply.text
        else:
            if reply.text:
                self.message(reply.text, (), None)
                produced = reply.text
            for name, arguments in reply.calls:
                encoded = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
                self.function_call(name, encoded)
                produced += encoded
        usage = self.usage(produced, len(searches))
        incomplete = reply.incomplete if isinstance(reply, ResponsesText) else None
        if incomplete:
            response = self.response("incomplete", incomplete_details={"reason": incomplete}, usage=usage)
            self.emit("response.incomplete", response=response)
        else:
            self.emit("response.completed", response=self.response("completed", usage=usage))
        return self.pieces

    def usage(self, produced: str, searches: int) -> dict[str, Any]:
        prompt = max(1, len(json.dumps(self.request)) // 4)
        reasoning = (
            self.reply.reasoning_tokens if self.deployment.reasoning and not isinstance(self.reply, ResponsesFailure) else 0
        )
        output = max(1, len(produced) // 4) + reasoning + searches
        cached = min(getattr(self.reply, "cached_tokens", 0), prompt)
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + output,
        }

    def reasoning(self, parts: Sequence[str]) -> None:
        index = len(self.output)
        item_id = random_id("rs_", 48, self.rng)
        shown = list(parts) if self.summaries else []
        summary = "\n\n".join(shown)
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
        encrypted = "reasoning.encrypted_content" in self.include
        if encrypted:
            item["encrypted_content"] = issue_encrypted(item_id, summary, valid=False)
        self.emit("response.output_item.added", output_index=index, item=item)
        for position, text in enumerate(shown):
            part = {"type": "summary_text", "text": ""}
            common = {"item_id": item_id, "output_index": index, "summary_index": position}
            self.emit("response.reasoning_summary_part.added", **common, part=part)
            for piece in split_text(text, 4):
                self.emit("response.reasoning_summary_text.delta", **common, delta=piece, obfuscation=random_id("", 8, self.rng))
            self.emit("response.reasoning_summary_text.done", **common, text=text)
            self.emit("response.reasoning_summary_part.done", **common, part={"type": "summary_text", "text": text})
        done: dict[str, Any] = {
            "id": item_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": t} for t in shown],
        }
        if encrypted:
            done["encrypted_content"] = issue_encrypted(item_id, summary)
        self.output.append(done)
        self.emit("response.output_item.done", output_index=index, item=done)

    def web_search(self, search: Search) -> None:
        index = len(self.output)
        item_id = random_id("ws_", 48, self.rng)
        self.emit(
            "response.output_item.added",
            output_index=index,
            item={"id": item_id, "type": "web_search_call", "status": "in_progress", "action": {"type": "search"}},
        )
        for stage in ("in_progress", "searching", "completed"):
            self.emit(f"response.web_search_call.{stage}", output_index=index, item_id=item_id)
        action: dict[str, Any] = {"type": "search", "query": search.query}
        if "web_search_call.action.sources" in self.include:
            action["sources"] = [{"type": "url", "url": url} for url, _ in search.sources]
        done = {"id": item_id, "type": "web_search_call", "status": "completed", "action": action}
        self.output.append(done)
        self.emit("response.output_item.done", output_index=index, item=done)

    def message(self, text: str, citations: Sequence[tuple[str, str, str]], incomplete: str | None, pieces: int = 4) -> None:
        index = len(self.output)
        item_id = random_id("msg_", 48, self.rng)
        status = "incomplete" if incomplete else "completed"
        self.emit(
            "response.output_item.added",
            output_index=index,
            item={"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
        )
        common = {"item_id": item_id, "output_index": index, "content_index": 0}
        self.emit(
            "response.content_part.added", **common, part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        )
        for piece in split_text(text, pieces):
            self.emit("response.output_text.delta", **common, delta=piece, logprobs=[], obfuscation=random_id("", 8, self.rng))
        annotations = []
        for span, url, title in citations:
            start = text.index(span)
            annotation = {
                "type": "url_citation",
                "start_index": start,
                "end_index": start + len(span),
                "title": title,
                "url": url,
            }
            self.emit("response.output_text.annotation.added", **common, annotation_index=len(annotations), annotation=annotation)
            annotations.append(annotation)
        self.emit("response.output_text.done", **common, text=text, logprobs=[])
        part = {"type": "output_text", "annotations": annotations, "logprobs": [], "text": text}
        self.emit("response.content_part.done", **common, part=part)
        done = {"id": item_id, "type": "message", "status": status, "content": [part], "role": "assistant"}
        self.output.append(done)
        self.emit("response.output_item.done", output_index=index, item=done)

    def function_call(self, name: str, arguments: str) -> None:
        index = len(self.output)
        item_id = random_id("fc_", 48, self.rng)
        call_id = random_id("call_", 24, self.rng)
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": name,
        }
        self.emit("response.output_item.added", output_index=index, item=item)
        for piece in split_randomly(arguments, self.rng):
            self.emit(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=piece,
                obfuscation=random_id("", 8, self.rng),
            )
        self.emit("response.function_call_arguments.done", item_id=item_id, output_index=index, arguments=arguments)
        done = {**item, "status": "completed", "arguments": arguments}
        self.output.append(done)
        self.emit("response.output_item.done", output_index=index, item=done)
