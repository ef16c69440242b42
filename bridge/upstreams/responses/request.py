"""Internal `Request` → Azure OpenAI Responses API body.

    internal                          Responses
    --------------------------------  ----------------------------------------------------
    leading Message(system)s          instructions (joined by blank lines)
    later Message(system)             {"type": "message", "role": "developer", content}
    Message(user) text / images       {"type": "message", "role": "user", content:
                                      [input_text, input_image]} (a lone text as a string)
    ToolResultPart                    {"type": "function_call_output", call_id, output};
                                      images of a result follow in a user message
    Message(assistant) text           {"type": "message", "role": "assistant", content}
    ToolCallPart                      {"type": "function_call", call_id, name, arguments}
    ReasoningPart, our signature      {"type": "reasoning", id, summary: [summary_text],
                                      encrypted_content} (see `signature`)
    ReasoningPart, any other          dropped (never sent to Azure)
    Tool                              {"type": "function", name, description, parameters,
                                      strict: false}
    WebSearch                         {"type": "web_search", filters.allowed_domains,
                                      user_location}; max_uses → max_tool_calls
                                      (blocked_domains has no Responses counterpart)
    ToolChoice auto|required|none     "auto" | "required" | "none"
    ToolChoice tool                   {"type": "function", "name"}
    parallel_tool_calls               parallel_tool_calls (only with tools)
    max_tokens                        max_output_tokens (at least 16, Azure's minimum)
    temperature, top_p                same names
    user                              safety_identifier
    cache_key                         prompt_cache_key
    reasoning_effort                  reasoning.effort
    reasoning_summary                 reasoning.summary "auto" (absent: no summaries)
    response_format                   text.format {type: json_schema, name, schema, strict}
    stop                              not sent: the bridge matches stop sequences itself
    (always)                          stream: true, store: false,
                                      include: ["reasoning.encrypted_content"]

Call ids keep Azure's length rule (`chat.request.call_id`, the same ids as on
chat/completions).  Every function call gets an output (a placeholder when the
client sent none) and an output whose call is not in the conversation becomes
user text, so no history is ever refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.errors import invalid_request
from bridge.model import (
    ImagePart,
    Message,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    WebSearch,
)
from bridge.upstreams.chat.request import EMPTY_RESULT, UNANSWERED_CALL, call_id
from bridge.upstreams.responses.signature import decode

MIN_OUTPUT_TOKENS = 16
ENCRYPTED_REASONING = "reasoning.encrypted_content"
WEB_SEARCH_SOURCES = "web_search_call.action.sources"
SUMMARY = "auto"
RENAMED = (("temperature", "temperature"), ("top_p", "top_p"), ("user", "safety_identifier"), ("cache_key", "prompt_cache_key"))

Body = dict[str, Any]


def _text(parts: Sequence[object]) -> str:
    return "\n\n".join(part.text for part in parts if isinstance(part, TextPart))


def _user_content(parts: list[TextPart | ImagePart]) -> str | list[Body]:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [
        {"type": "input_text", "text": part.text}
        if isinstance(part, TextPart)
        else {"type": "input_image", "image_url": part.url, "detail": "auto"}
        for part in parts
    ]


def _result_output(result: ToolResultPart) -> str:
    text = "\n".join(part.text for part in result.content if isinstance(part, TextPart)) or EMPTY_RESULT
    return f"Error: {text}" if result.is_error else text


def _reasoning(part: ReasoningPart) -> Body | None:
    item = decode(part.signature)
    if item is None:
        return None
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"type": "reasoning", "id": item.id, "summary": summary, "encrypted_content": item.encrypted_content}


class _Input:
    """Builds the input item list, keeping every function call answered."""

    def __init__(self) -> None:
        self.items: list[Body] = []
        self._pending: dict[str, None] = {}

    def add(self, message: Message) -> None:
        if message.role == "assistant":
            self._assistant(message)
        elif message.role == "system":
            text = _text(message.parts)
            if text:
                self.items.append({"type": "message", "role": "developer", "content": text})
        else:
            self._user(message)

    def finish(self) -> list[Body]:
        self._answer_all()
        return self.items

    def _assistant(self, message: Message) -> None:
        self._answer_all()
        text: list[str] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                text.append(part.text)
                continue
            self._flush_text(text)
            if isinstance(part, ReasoningPart):
                item = _reasoning(part)
                if item is not None:
                    self.items.append(item)
            elif isinstance(part, ToolCallPart):
                key = call_id(part.id)
                self._pending[key] = None
                arguments = part.arguments or "{}"
                self.items.append({"type": "function_call", "call_id": key, "name": part.name, "arguments": arguments})
        self._flush_text(text)

    def _flush_text(self, text: list[str]) -> None:
        joined = "".join(text)
        if joined:
            self.items.append({"type": "message", "role": "assistant", "content": joined})
        text.clear()

    def _user(self, message: Message) -> None:
        visible: list[TextPart | ImagePart] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                visible.extend(self._result(part))
            elif isinstance(part, (TextPart, ImagePart)):
                visible.append(part)
        if visible:
            self.items.append({"type": "message", "role": "user", "content": _user_content(visible)})

    def _result(self, result: ToolResultPart) -> list[TextPart | ImagePart]:
        """Emit the output item; return what must travel as user content instead."""
        images = [part for part in result.content if isinstance(part, ImagePart)]
        key = call_id(result.call_id)
        if key not in self._pending:
            return [TextPart(f"Result of tool call {result.call_id}:\n{_result_output(result)}"), *images]
        del self._pending[key]
        self.items.append({"type": "function_call_output", "call_id": key, "output": _result_output(result)})
        return [TextPart(f"Images returned by tool call {result.call_id}:"), *images] if images else []

    def _answer_all(self) -> None:
        for key in self._pending:
            self.items.append({"type": "function_call_output", "call_id": key, "output": UNANSWERED_CALL})
        self._pending = {}


def _split_instructions(messages: list[Message]) -> tuple[str, list[Message]]:
    leading = 0
    while leading < len(messages) and messages[leading].role == "system":
        leading += 1
    instructions = "\n\n".join(text for text in (_text(m.parts) for m in messages[:leading]) if text)
    return instructions, messages[leading:]


def input_items(messages: list[Message]) -> list[Body]:
    builder = _Input()
    for message in messages:
        builder.add(message)
    items = builder.finish()
    if not any(item["type"] != "reasoning" for item in items):
        raise invalid_request("messages: nothing to send: the request holds no text, image or tool content")
    return items


def _web_search_tool(search: WebSearch) -> Body:
    tool: Body = {"type": "web_search"}
    if search.allowed_domains:
        tool["filters"] = {"allowed_domains": list(search.allowed_domains)}
    if search.user_location:
        location = {key: value for key, value in search.user_location.items() if key != "type" and value is not None}
        tool["user_location"] = {"type": "approximate", **location}
    return tool


def _tools(request: Request, body: Body) -> None:
    tools: list[Body] = [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": False}
        for t in request.tools
    ]
    if request.web_search is not None:
        tools.append(_web_search_tool(request.web_search))
        if request.web_search.max_uses is not None:
            body["max_tool_calls"] = request.web_search.max_uses
    if not tools:
        return
    body["tools"] = tools
    choice = request.tool_choice
    if choice is not None:
        body["tool_choice"] = {"type": "function", "name": choice.name} if choice.mode == "tool" else choice.mode
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls


def build_body(request: Request, model: str, max_tokens: int | None) -> Body:
    """The Responses body for `request`, asking `model` for at most `max_tokens`."""
    instructions, rest = _split_instructions(request.messages)
    body: Body = {"model": model, "input": input_items(rest), "stream": True, "store": False}
    if instructions:
        body["instructions"] = instructions
    include = [ENCRYPTED_REASONING]
    if request.web_search is not None:
        include.append(WEB_SEARCH_SOURCES)
    body["include"] = include
    if max_tokens is not None:
        body["max_output_tokens"] = max(max_tokens, MIN_OUTPUT_TOKENS)
    _tools(request, body)
    reasoning: Body = {}
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    if request.reasoning_summary:
        reasoning["summary"] = SUMMARY
    if reasoning:
        body["reasoning"] = reasoning
    if request.response_format is not None:
        fmt = request.response_format
        body["text"] = {"format": {"type": "json_schema", "name": fmt.name, "schema": fmt.schema, "strict": fmt.strict}}
    for key, name in RENAMED:
        value = getattr(request, key)
        if value is not None:
            body[name] = value
    return body


def without_reasoning(body: Body) -> Body:
    """`body` minus its reasoning items (for a deployment that cannot read them)."""
    return {**body, "input": [item for item in body["input"] if item.get("type") != "reasoning"]}
