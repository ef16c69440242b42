"""Internal `Request` → Azure OpenAI Responses API body.

    internal                          Responses
    --------------------------------  ----------------------------------------------------
    leading Message(system)s          instructions (joined by blank lines)
    later Message(system)             {"type": "message", "role": "developer", content}
    Message(user) text / images       {"type": "message", "role": "user", content:
                                      [input_text, input_image]} (a lone text as a string)
    FilePart (a PDF)                  input_file {filename, file_data} | {file_url}
    ToolResultPart                    {"type": "function_call_output", call_id, output};
                                      images of a result follow in a user message
    Message(assistant) text           {"type": "message", "role": "assistant", content}
    ToolCallPart                      {"type": "function_call", call_id, name, arguments}
    ReasoningPart, our signature      {"type": "reasoning", id, summary: [summary_text],
                                      encrypted_content} (see `signature`), only where Azure
                                      takes it back: followed by the model's output (a call
                                      or assistant text), and once per item id
    ReasoningPart, any other          dropped (never sent to Azure)
    Tool                              {"type": "function", name, description, parameters,
                                      strict: false}
    WebSearch                         {"type": "web_search", filters.allowed_domains,
                                      user_location}; max_uses → max_tool_calls
    WebSearch.blocked_domains         refused with a 400 that says so: Azure's web search
                                      cannot exclude sites (only allow a list)
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
    stream                            stream (false for a non-streaming client without
                                      stop sequences: one JSON answer)
    (always)                          store: false, include: ["reasoning.encrypted_content"]

`tool_order.answered_in_order` puts the conversation in the order the API
requires first: every function call gets an output (a placeholder when the
client sent none), an output whose call is not in the conversation becomes
user text, call ids keep Azure's length rule; so no history is ever refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.errors import invalid_request
from bridge.model import (
    Body,
    FilePart,
    ImagePart,
    Media,
    Message,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    WebSearch,
)
from bridge.upstreams.adapt import ENCRYPTED_REASONING
from bridge.upstreams.responses.signature import decode
from bridge.upstreams.tool_order import answered_in_order, call_id, result_text

MIN_OUTPUT_TOKENS = 16
WEB_SEARCH_SOURCES = "web_search_call.action.sources"
SUMMARY = "auto"
RENAMED = (("temperature", "temperature"), ("top_p", "top_p"), ("user", "safety_identifier"), ("cache_key", "prompt_cache_key"))


def _text(parts: Sequence[object]) -> str:
    return "\n\n".join(part.text for part in parts if isinstance(part, TextPart))


def _input_part(part: Media) -> Body:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "input_image", "image_url": part.url, "detail": "auto"}
    if part.url.startswith("data:"):
        return {"type": "input_file", "filename": part.filename, "file_data": part.url}
    return {"type": "input_file", "file_url": part.url}


def _user_content(parts: list[Media]) -> str | list[Body]:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [_input_part(part) for part in parts]


def _reasoning(part: ReasoningPart) -> Body | None:
    item = decode(part.signature)
    if item is None:
        return None
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"type": "reasoning", "id": item.id, "summary": summary, "encrypted_content": item.encrypted_content}


def _assistant(message: Message) -> list[Body]:
    items: list[Body] = []
    text: list[str] = []

    def flush() -> None:
        if "".join(text):
            items.append({"type": "message", "role": "assistant", "content": "".join(text)})
        text.clear()

    for part in message.parts:
        if isinstance(part, TextPart):
            text.append(part.text)
            continue
        flush()
        if isinstance(part, ReasoningPart):
            item = _reasoning(part)
            if item is not None:
                items.append(item)
        elif isinstance(part, ToolCallPart):
            items.append(
                {"type": "function_call", "call_id": call_id(part.id), "name": part.name, "arguments": part.arguments or "{}"}
            )
    flush()
    return items


def _items(message: Message) -> list[Body]:
    if message.role == "assistant":
        return _assistant(message)
    if message.role == "system":
        text = _text(message.parts)
        return [{"type": "message", "role": "developer", "content": text}] if text else []
    results = [part for part in message.parts if isinstance(part, ToolResultPart)]
    if results:
        return [{"type": "function_call_output", "call_id": call_id(r.call_id), "output": result_text(r)} for r in results]
    visible = [part for part in message.parts if isinstance(part, (TextPart, ImagePart, FilePart))]
    return [{"type": "message", "role": "user", "content": _user_content(visible)}] if visible else []


def _split_instructions(messages: list[Message]) -> tuple[str, list[Message]]:
    leading = 0
    while leading < len(messages) and messages[leading].role == "system":
        leading += 1
    instructions = "\n\n".join(text for text in (_text(m.parts) for m in messages[:leading]) if text)
    return instructions, messages[leading:]


def _follows_model_output(items: list[Body], index: int) -> bool:
    """Whether the first item after `index` that is not reasoning is the model's own (a call, assistant text)."""
    for item in items[index + 1 :]:
        if item["type"] == "function_call" or (item["type"] == "message" and item["role"] == "assistant"):
            return True
        if item["type"] != "reasoning":
            return False
    return False


def _returnable(items: list[Body]) -> list[Body]:
    """`items` without the reasoning items Azure refuses back: one with no model output after it (a turn
    interrupted after its thinking) or one whose id came already (a repeated thinking block)."""
    seen: set[str] = set()
    kept: list[Body] = []
    for index, item in enumerate(items):
        if item["type"] == "reasoning":
            if item["id"] in seen or not _follows_model_output(items, index):
                continue
            seen.add(item["id"])
        kept.append(item)
    return kept


def input_items(messages: list[Message]) -> list[Body]:
    items = _returnable([item for message in answered_in_order(messages) for item in _items(message)])
    if not any(item["type"] != "reasoning" for item in items):
        raise invalid_request("messages: nothing to send: the request holds no text, image or tool content")
    return items


def _web_search_tool(search: WebSearch) -> Body:
    if search.blocked_domains:
        raise invalid_request(
            "web_search: blocked_domains cannot be honoured: Azure OpenAI's web search can only be limited to a list of "
            "sites (allowed_domains), not told to avoid some. Use allowed_domains, or leave blocked_domains out."
        )
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


def build_body(request: Request, model: str, stream: bool) -> Body:
    """The Responses body for `request`, sent to deployment `model`, streamed or not."""
    instructions, rest = _split_instructions(request.messages)
    body: Body = {"model": model, "input": input_items(rest), "stream": stream, "store": False}
    if instructions:
        body["instructions"] = instructions
    include = [ENCRYPTED_REASONING]
    if request.web_search is not None:
        include.append(WEB_SEARCH_SOURCES)
    body["include"] = include
    if request.max_tokens is not None:
        body["max_output_tokens"] = max(request.max_tokens, MIN_OUTPUT_TOKENS)
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


def has_reasoning(body: Body) -> bool:
    return any(item.get("type") == "reasoning" for item in body["input"])


def has_web_search(body: Body) -> bool:
    return any(tool.get("type") == "web_search" for tool in body.get("tools") or ())


def loose_format(body: Body) -> Body | None:
    """`body` with its structured-output format no longer strict, or None when it was not strict."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(text, dict) or not isinstance(fmt, dict) or fmt.get("strict") is not True:
        return None
    return {**body, "text": {**text, "format": {**fmt, "strict": False}}}
