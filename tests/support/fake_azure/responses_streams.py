"""Scripted Responses API replies and their Azure-shaped event streams.

The shapes follow the recordings in `../shared/wire-corpus/recorded/azure-responses-*`
and `cursor-azure-responses/`: `event:` + `data:` framing, a `sequence_number`
on every event, `response.created` / `in_progress` carrying the response
object, then per output item `output_item.added`, its part and delta events,
`output_item.done`, and a terminal `response.completed` / `incomplete` with
usage (or a failure: `ResponsesFailure`).

What the request asked for shapes the reply as on the real service: a
reasoning item only on a reasoning deployment, its summary streamed only when
`reasoning.summary` was set, its `encrypted_content` only when `include` asks
for it (sealed by the resource's `Vault`, so it can be checked when it comes
back), web-search sources only with `web_search_call.action.sources`.  Azure's
quirks are kept: `content_filters` on the response, `obfuscation` on deltas,
an `encrypted_content` in `output_item.added` that differs from the one in
`output_item.done` (this fake's early one never verifies) and from the one in
`response.completed` (both verify), and, on a deployment whose
`web_search_outcome` is `searching`, search items left `searching` in the
completed output.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import errors
from .deployment import Deployment
from .encrypted import DEFAULT_VAULT, Vault
from .limits import CONTEXT_WINDOW_MESSAGE, prompt_tokens
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

Frames = Literal["error_then_failed", "failed_only", "error_only", "failed_then_error"]


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
    prompt_tokens: int | None = None
    """The input tokens Azure reports (None: the fake's count of the request body)."""
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
    prompt_tokens: int | None = None
    faults: Faults = NO_FAULTS


@dataclass(frozen=True, slots=True)
class ResponsesFailure:
    """A stream that fails after HTTP 200: the frames Azure sends and the error they carry.

    `frames`:
        error_then_failed  created, in_progress, (`text`), `error`, `response.failed` with {code, message}
        failed_only        created, `response.failed` with {code, message}; no `error` event
        error_only         created, in_progress, (`text`), `error`; the stream just ends
        failed_then_error  created, `response.failed` with `"error": null`, then `error`: only the last says why
    The `error` event carries {type (`error_type`, default the code), code, message, param}.  A request
    that is not streamed gets that error object as a JSON body with `status` instead.
    """

    message: str = "An error occurred while processing your request."
    code: str | None = "server_error"
    text: str = ""
    faults: Faults = NO_FAULTS
    error_type: str | None = None
    param: str | None = None
    frames: Frames = "error_then_failed"

    @property
    def error(self) -> dict[str, Any]:
        """The `error` event's error object."""
        kind = self.error_type if self.error_type is not None else self.code
        return {"type": kind, "code": self.code, "message": self.message, "param": self.param}

    @property
    def status(self) -> int:
        """The HTTP status the same failure has when the request is not streamed."""
        if self.error["type"] == "invalid_request_error":
            return 400
        return 429 if self.code in ("rate_limit_exceeded", "insufficient_quota") else 500

    @classmethod
    def insufficient_quota(cls) -> ResponsesFailure:
        """A quota refusal after acceptance: `error`, then `response.failed` with the same error."""
        return cls(
            "You exceeded your current quota, please check your plan and billing details. For more information on this "
            "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
        )

    @classmethod
    def rate_limited(cls, retry_after: int = 60, api_version: str = "2025-04-01-preview") -> ResponsesFailure:
        """The token rate limit inside the stream: `response.created`, then `response.failed` only."""
        message = errors.rate_limited(retry_after, api="responses", api_version=api_version).body["error"]["message"]
        return cls(message, "rate_limit_exceeded", frames="failed_only")

    @classmethod
    def server_error(cls, text: str = "") -> ResponsesFailure:
        """A transient server error mid-stream (after `text`): one `error` event, `code: null`."""
        return cls("An error occurred while processing the request.", None, text, error_type="server_error", frames="error_only")

    @classmethod
    def context_length_exceeded(cls) -> ResponsesFailure:
        """Input over the context window, reported inside the stream."""
        return cls(CONTEXT_WINDOW_MESSAGE, "context_length_exceeded", error_type="invalid_request_error", param="input")

    @classmethod
    def content_policy_violation(cls) -> ResponsesFailure:
        """Azure's content filter on v1 (gpt-5.1): `response.failed` with a null error, then the `error` that says why."""
        return cls(
            "Image processing blocked due to content policy violation.",
            "content_policy_violation",
            error_type="invalid_request_error",
            param="input",
            frames="failed_then_error",
        )


ResponsesReply = ResponsesText | ResponsesToolCalls | ResponsesFailure


def from_chat_reply(reply: Text | ToolCalls) -> ResponsesReply:
    """The Responses counterpart of a chat reply, so one script serves both APIs."""
    if isinstance(reply, Text):
        incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(reply.finish_reason)
        return ResponsesText(
            reply.text,
            incomplete=incomplete,
            pieces=reply.pieces,
            cached_tokens=reply.cached_tokens,
            prompt_tokens=reply.prompt_tokens,
            faults=reply.faults,
        )
    return ResponsesToolCalls(
        reply.calls,
        reply.text,
        seed=reply.seed,
        cached_tokens=reply.cached_tokens,
        prompt_tokens=reply.prompt_tokens,
        faults=reply.faults,
    )


TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def render_responses(
    reply: ResponsesReply, request: Mapping[str, Any], deployment: Deployment, vault: Vault = DEFAULT_VAULT
) -> Rendered:
    """Turn `reply` into what Azure sends for the Responses `request` to `deployment` (sealing with `vault`): its
    event stream, or, for `stream: false`, the final response object (a failure: its error and status)."""
    if isinstance(reply, ResponsesFailure) and request.get("stream") is not True:
        body = json.dumps({"error": reply.error}, indent=2, ensure_ascii=False).encode()
        return Rendered(reply.status, JSON_CONTENT_TYPE, {}, [body], reply.faults)
    pieces = _Response(reply, request, deployment, vault).events()
    if request.get("stream") is True:
        return Rendered(200, SSE_CONTENT_TYPE, {}, pieces, reply.faults)
    events = [json.loads(piece.split(b"data: ", 1)[1]) for piece in pieces]
    final = next((event for event in reversed(events) if event["type"] in TERMINAL), None)
    if final is not None and final["type"] != "response.failed":
        body = json.dumps(final["response"], ensure_ascii=False).encode()
        return Rendered(200, JSON_CONTENT_TYPE, {}, [body], reply.faults)
    failure = final["response"]["error"] if final is not None else next(e["error"] for e in events if e["type"] == "error")
    return Rendered(500, JSON_CONTENT_TYPE, {}, [json.dumps({"error": failure}).encode()], reply.faults)


@dataclass
class _Response:
    reply: ResponsesReply
    request: Mapping[str, Any]
    deployment: Deployment
    vault: Vault
    rng: random.Random = field(init=False)
    id: str = field(init=False)
    sequence: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.reply.seed if isinstance(self.reply, ResponsesToolCalls) else None)
        self.id = random_id("resp_", 48, self.rng)
        self.include = set(self.request.get("include") or ())
        reasoning = self.request.get("reasoning")
        self.summaries = isinstance(reasoning, dict) and bool(reasoning.get("summary"))

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
        if isinstance(self.reply, ResponsesFailure) and self.reply.frames in ("failed_only", "failed_then_error"):
            return self.failure(self.reply)
        self.emit("response.in_progress", response=self.response("in_progress"))
        reply = self.reply
        if isinstance(reply, ResponsesFailure):
            return self.failure(reply)
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
        output = self.resealed()
        if incomplete:
            response = self.response("incomplete", incomplete_details={"reason": incomplete}, usage=usage, output=output)
            self.emit("response.incomplete", response=response)
        else:
            self.emit("response.completed", response=self.response("completed", usage=usage, output=output))
        return self.pieces

    def failure(self, reply: ResponsesFailure) -> list[bytes]:
        """The frames of a failed stream (after `response.created`, and `in_progress` where it belongs)."""
        failed = {"code": reply.code, "message": reply.message}
        if reply.frames == "failed_only":
            self.emit("response.failed", response=self.response("failed", error=failed))
            return self.pieces
        if reply.frames == "failed_then_error":
            self.emit("response.failed", response=self.response("failed"))
            self.emit("error", error=reply.error)
            return self.pieces
        if reply.text:
            self.message(reply.text, (), None)
        self.emit("error", error=reply.error)
        if reply.frames == "error_then_failed":
            self.emit("response.failed", response=self.response("failed", error=failed))
        return self.pieces

    def resealed(self) -> list[dict[str, Any]]:
        """The output as `response.completed` carries it: reasoning sealed afresh (a different, valid token)."""
        return [{**item, "encrypted_content": self.seal(item)} if "encrypted_content" in item else item for item in self.output]

    def seal(self, item: Mapping[str, Any]) -> str:
        summary = "\n\n".join(part["text"] for part in item["summary"])
        return self.vault.seal(item["id"], summary, self.deployment.model_name)

    def usage(self, produced: str, searches: int) -> dict[str, Any]:
        reported = getattr(self.reply, "prompt_tokens", None)
        prompt = reported if reported is not None else prompt_tokens(self.request)
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
            item["encrypted_content"] = self.vault.seal(item_id, summary, self.deployment.model_name, valid=False)
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
            done["encrypted_content"] = self.seal(done)
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
        searching = self.deployment.web_search_outcome == "searching"
        for stage in ("in_progress", "searching") if searching else ("in_progress", "searching", "completed"):
            self.emit(f"response.web_search_call.{stage}", output_index=index, item_id=item_id)
        action: dict[str, Any] = {"type": "search", "query": search.query}
        if "web_search_call.action.sources" in self.include:
            action["sources"] = [{"type": "url", "url": url} for url, _ in search.sources]
        status = "searching" if searching else "completed"
        done = {"id": item_id, "type": "web_search_call", "status": status, "action": action}
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
        annotations: list[dict[str, Any]] = []
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
