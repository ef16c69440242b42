"""Internal `Request` → Azure OpenAI chat/completions body.

    internal                          chat/completions
    --------------------------------  ------------------------------------------------
    Message(system)                   {"role": "system", "content": "..."}
    Message(user) text / images       {"role": "user", "content": [text, image_url parts]}
    FilePart (a PDF, data: URL)       {"type": "file", "file": {filename, file_data}}
    FilePart (https URL)              text naming the document (chat cannot fetch a URL)
    Message(user) ToolResultPart      {"role": "tool", "tool_call_id", "content"}
    Message(assistant) text           {"role": "assistant", "content": "..."}
    Message(assistant) ToolCallPart   assistant "tool_calls" [{id, type: function, function}]
    ReasoningPart                     dropped (chat/completions cannot take it back)
    Tool                              {"type": "function", "function": {name, description, parameters}}
    ToolChoice auto|required|none     "auto" | "required" | "none"
    ToolChoice tool                   {"type": "function", "function": {"name"}}
    parallel_tool_calls               parallel_tool_calls (only with tools)
    max_tokens                        max_completion_tokens
    temperature, top_p, user          same names
    cache_key                         prompt_cache_key (dropped for a deployment that refuses it)
    reasoning_effort                  reasoning_effort (a deployment that refuses it, or
                                      the value, is adapted: see `adapt`)
    response_format                   response_format {type: json_schema, json_schema:
                                      {name, schema, strict}} (sent again not strict when
                                      Azure refuses the schema as strict: `loose_format`)
    web_search                        refused with a 400 that says so: web search runs
                                      only through the Responses API
    stop                              not sent: the bridge matches stop sequences itself
                                      (exact Anthropic semantics, and reasoning models
                                      refuse `stop`)
    stream                            stream: true, stream_options.include_usage: true
                                      (a non-streaming client without stop sequences:
                                      stream: false, one JSON answer)

Azure requires every assistant tool call to be answered by tool messages that
follow it directly: `tool_order.answered_in_order` puts the conversation in
that order first (held-back system messages, placeholder answers, orphan
results as user text), so no history is ever refused.
"""

from __future__ import annotations

from bridge.errors import invalid_request
from bridge.model import Body, FilePart, ImagePart, Media, Message, Request, TextPart, ToolCallPart, ToolResultPart
from bridge.upstreams.tool_order import answered_in_order, call_id, result_text


def _part(part: Media) -> Body:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "image_url", "image_url": {"url": part.url}}
    if part.url.startswith("data:"):
        return {"type": "file", "file": {"filename": part.filename, "file_data": part.url}}
    return {"type": "text", "text": f"[Document {part.filename}: {part.url}]"}


def _content(parts: list[Media]) -> str | list[Body]:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [_part(part) for part in parts]


def _message(message: Message) -> list[Body]:
    if message.role == "system":
        text = "\n\n".join(part.text for part in message.parts if isinstance(part, TextPart))
        return [{"role": "system", "content": text}] if text else []
    if message.role == "assistant":
        text = "".join(part.text for part in message.parts if isinstance(part, TextPart))
        calls = [part for part in message.parts if isinstance(part, ToolCallPart)]
        if not text and not calls:
            return []
        body: Body = {"role": "assistant", "content": text or None}
        if calls:
            body["tool_calls"] = [
                {"id": call_id(c.id), "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        return [body]
    results = [part for part in message.parts if isinstance(part, ToolResultPart)]
    if results:
        return [{"role": "tool", "tool_call_id": call_id(r.call_id), "content": result_text(r)} for r in results]
    visible = [part for part in message.parts if isinstance(part, (TextPart, ImagePart, FilePart))]
    return [{"role": "user", "content": _content(visible)}] if visible else []


def chat_messages(messages: list[Message]) -> list[Body]:
    chat = [body for message in answered_in_order(messages) for body in _message(message)]
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


def build_body(request: Request, model: str, stream: bool) -> Body:
    """The chat/completions body for `request`, sent to deployment `model`, streamed or not."""
    if request.web_search is not None:
        raise invalid_request(
            f"web_search: deployment '{model}' is called through chat/completions, where Azure OpenAI offers no web search. "
            "Serve this tier through the Responses API (its *_MODEL_API setting), or leave the web search tool out."
        )
    body: Body = {"model": model, "messages": chat_messages(request.messages)}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.max_tokens is not None:
        body["max_completion_tokens"] = request.max_tokens
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
    if request.cache_key is not None:
        body["prompt_cache_key"] = request.cache_key
    if request.response_format is not None:
        fmt = request.response_format
        schema = {"name": fmt.name, "schema": fmt.schema, "strict": fmt.strict}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    return body


def loose_format(body: Body) -> Body | None:
    """`body` with its structured-output format no longer strict, or None when it was not strict."""
    fmt = body.get("response_format")
    spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    if not isinstance(fmt, dict) or not isinstance(spec, dict) or spec.get("strict") is not True:
        return None
    return {**body, "response_format": {**fmt, "json_schema": {**spec, "strict": False}}}
