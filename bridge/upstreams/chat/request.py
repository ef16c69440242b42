"""Internal `Request` → Azure OpenAI chat/completions body.

    internal                          chat/completions
    --------------------------------  ------------------------------------------------
    Message(system)                   {"role": "system", "content": "..."}
    Message(user) text / images       {"role": "user", "content": [text, image_url parts]}
    Message(user) ToolResultPart      {"role": "tool", "tool_call_id", "content"} placed
                                      right after the assistant message that called it;
                                      images of a result follow in a user message
    Message(assistant) text           {"role": "assistant", "content": "..."}
    Message(assistant) ToolCallPart   assistant "tool_calls" [{id, type: function, function}]
    ReasoningPart                     dropped (chat/completions cannot take it back)
    Tool                              {"type": "function", "function": {name, description, parameters}}
    ToolChoice auto|required|none     "auto" | "required" | "none"
    ToolChoice tool                   {"type": "function", "function": {"name"}}
    parallel_tool_calls               parallel_tool_calls (only with tools)
    max_tokens                        max_completion_tokens
    temperature, top_p, user          same names
    reasoning_effort                  reasoning_effort (a deployment that refuses it, or
                                      the value, is adapted: see `adapt`)
    response_format                   response_format {type: json_schema, json_schema:
                                      {name, schema, strict}}
    stop                              not sent: the bridge matches stop sequences itself
                                      (exact Anthropic semantics, and reasoning models
                                      refuse `stop`)
    (always)                          stream: true, stream_options.include_usage: true

Azure requires every assistant tool call to be answered by tool messages that
follow it directly.  Whatever the client sent in between (a mid-conversation
system message, user text) is held back until the calls are answered; a call
left unanswered gets a placeholder answer, and a result whose call is not in
the conversation becomes user text, so no history is ever refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bridge.errors import invalid_request
from bridge.model import ImagePart, Message, Request, TextPart, ToolCallPart, ToolResultPart

MAX_CALL_ID_LENGTH = 40
UNANSWERED_CALL = "No result was returned for this tool call."
EMPTY_RESULT = "(no output)"

Body = dict[str, Any]


def call_id(original: str) -> str:
    """A tool-call id Azure accepts (at most 40 characters), stable for the same input."""
    if len(original) <= MAX_CALL_ID_LENGTH:
        return original
    return "call_" + hashlib.sha256(original.encode()).hexdigest()[: MAX_CALL_ID_LENGTH - 5]


def _parts(parts: list[TextPart | ImagePart]) -> list[Body]:
    out: list[Body] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        else:
            out.append({"type": "image_url", "image_url": {"url": part.url}})
    return out


def _content(parts: list[TextPart | ImagePart]) -> str | list[Body]:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return _parts(parts)


def _result_text(result: ToolResultPart) -> str:
    text = "\n".join(part.text for part in result.content if isinstance(part, TextPart)) or EMPTY_RESULT
    return f"Error: {text}" if result.is_error else text


class _Conversation:
    """Builds the chat message list, keeping tool calls and their answers together."""

    def __init__(self) -> None:
        self.messages: list[Body] = []
        self._pending: dict[str, None] = {}
        self._held: list[Body] = []

    def add(self, message: Message) -> None:
        if message.role == "assistant":
            self._assistant(message)
        elif message.role == "system":
            self._emit_or_hold(self._system(message))
        else:
            self._user(message)

    def finish(self) -> list[Body]:
        self._answer_all()
        return self.messages

    def _system(self, message: Message) -> Body | None:
        text = "\n\n".join(part.text for part in message.parts if isinstance(part, TextPart))
        return {"role": "system", "content": text} if text else None

    def _assistant(self, message: Message) -> None:
        self._answer_all()
        text = "".join(part.text for part in message.parts if isinstance(part, TextPart))
        calls = [part for part in message.parts if isinstance(part, ToolCallPart)]
        if not text and not calls:
            return
        body: Body = {"role": "assistant", "content": text or None}
        if calls:
            body["tool_calls"] = [
                {"id": call_id(c.id), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ]
            self._pending = {call_id(c.id): None for c in calls}
        self.messages.append(body)

    def _user(self, message: Message) -> None:
        visible: list[TextPart | ImagePart] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                visible.extend(self._result(part))
            elif isinstance(part, (TextPart, ImagePart)):
                visible.append(part)
        if visible:
            self._emit_or_hold({"role": "user", "content": _content(visible)})

    def _result(self, result: ToolResultPart) -> list[TextPart | ImagePart]:
        """Emit the tool message; return what must travel as user content instead."""
        images = [part for part in result.content if isinstance(part, ImagePart)]
        key = call_id(result.call_id)
        if key not in self._pending:
            return [TextPart(f"Result of tool call {result.call_id}:\n{_result_text(result)}"), *images]
        del self._pending[key]
        self.messages.append({"role": "tool", "tool_call_id": key, "content": _result_text(result)})
        if not self._pending:
            self._release()
        return [TextPart(f"Images returned by tool call {result.call_id}:"), *images] if images else []

    def _emit_or_hold(self, body: Body | None) -> None:
        if body is None:
            return
        (self._held if self._pending else self.messages).append(body)

    def _answer_all(self) -> None:
        for key in self._pending:
            self.messages.append({"role": "tool", "tool_call_id": key, "content": UNANSWERED_CALL})
        self._pending = {}
        self._release()

    def _release(self) -> None:
        self.messages.extend(self._held)
        self._held = []


def chat_messages(messages: list[Message]) -> list[Body]:
    conversation = _Conversation()
    for message in messages:
        conversation.add(message)
    chat = conversation.finish()
    if not chat:
        raise invalid_request("messages: nothing to send: the request holds no text, image or tool content")
    return chat


def _tool_choice(request: Request) -> str | Body | None:
    choice = request.tool_choice
    if choice is None or not request.tools:
        return None
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def build_body(request: Request, model: str, max_tokens: int | None) -> Body:
    """The chat/completions body for `request`, asking `model` for at most `max_tokens`."""
    body: Body = {
        "model": model,
        "messages": chat_messages(request.messages),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    for key in ("temperature", "top_p", "user", "reasoning_effort"):
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    if request.response_format is not None:
        fmt = request.response_format
        schema = {"name": fmt.name, "schema": fmt.schema, "strict": fmt.strict}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    return body

