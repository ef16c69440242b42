"""Anthropic Messages API request → internal `Request`.

    Anthropic                                   internal
    ------------------------------------------  -----------------------------------------
    system (string | text blocks)               leading Message(role="system")
    messages[].role user|assistant|system       Message.role (mid-conversation system kept)
    text block                                  TextPart
    image block (base64 | url)                  ImagePart (data: URL | https URL)
    document block: text | content source       TextPart
    document block: base64 (PDF) | url source   FilePart
    tool_use {id, name, input}                  ToolCallPart (input as JSON text)
    tool_result {tool_use_id, content, is_error} ToolResultPart
    tool_reference {tool_name} (in a result)    ToolReference (tool search found that tool)
    thinking {thinking, signature}              ReasoningPart (the signature kept verbatim)
    tools[] {name, description, input_schema}   Tool (other server tools skipped)
    tools[].defer_loading: true                 Tool.deferred
    tools[] {type: web_search_*, max_uses,      web_search = WebSearch(max_uses, allowed_domains,
      allowed_domains, blocked_domains,           blocked_domains, user_location)
      user_location}
    tool_choice auto | any | tool | none        ToolChoice auto | required | tool | none
    tool_choice.disable_parallel_tool_use       parallel_tool_calls = False
    stop_sequences / temperature / top_p        stop / temperature / top_p
    metadata.user_id                            user (SHA-256 when over 64 characters)
    metadata.user_id's session id               cache_key (the X-Claude-Code-Session-Id
                                                  header wins: `inbound.cache_key_of`)
    max_tokens, stream                          max_tokens, stream
    output_config.format {type: json_schema}    response_format (strict when the schema allows it)
      (or the older top-level output_format)
    top_k, context_management,                  ignored: accepted, never rejected
    cache_control, others
    safeguards (auto mode's safety check, sent  400 invalid_request_error naming `safeguards`: Azure cannot
      to a gateway)                               run it; Claude Code retries without it and runs the check
                                                  itself (the gateway protocol's rule)

Claude Code's start-up quota probe (max_tokens 1, one user message "quota", not streamed) is recognized
(`is_quota_probe`): the bridge answers it itself, with no upstream call.

Thinking and effort → `reasoning_effort` (the upstream steps a value the
deployment refuses down to the nearest one it accepts):

    thinking / output_config.effort             reasoning_effort
    ------------------------------------------  -----------------
    disabled (whatever the effort)              minimal
    output_config.effort low|medium|high|xhigh  the same
    output_config.effort max                    xhigh
    adaptive (no effort)                        high (Anthropic's default effort)
    enabled, budget_tokens < 4096               low     ("think" is 4000)
    enabled, budget_tokens < 16384              medium  ("think hard" is 10000)
    enabled, budget_tokens >= 16384             high    ("ultrathink" is 31999)
    absent                                      None: the deployment's default
    display: "omitted"                          reasoning_summary = False

The volatile `x-anthropic-billing-header: ...` system line (it changes every
request) is removed so the upstream's cached prompt prefix stays stable.

Validation names the offending field the way Anthropic does
(`messages.2.content.0.tool_use_id: Field required`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bridge.errors import BridgeError, invalid_request
from bridge.model import (
    MAX_MODEL_NAME_LENGTH,
    FilePart,
    ImagePart,
    Media,
    Message,
    Part,
    ReasoningEffort,
    ReasoningPart,
    Request,
    ResponseFormat,
    ResultContent,
    Role,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolReference,
    ToolResultPart,
    WebSearch,
    bounded,
)
from bridge.sse import dumps

BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"
WEB_SEARCH_TOOL_PREFIX = "web_search_"
_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "system": "system"}
EFFORT_OF_NAME: dict[str, ReasoningEffort] = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}
BUDGET_EFFORTS: tuple[tuple[int, ReasoningEffort], ...] = ((4096, "low"), (16384, "medium"))
ADAPTIVE_EFFORT: ReasoningEffort = "high"
DISABLED_EFFORT: ReasoningEffort = "minimal"
SAFEGUARDS = "safeguards"
SAFEGUARDS_REFUSAL = (
    "safeguards: auto mode's safety check cannot run on this bridge's Azure OpenAI deployments; send the request "
    "without `safeguards` (Claude Code does so by itself, and runs the check with ordinary requests)"
)
QUOTA_PROBE_TEXT = "quota"
_SESSION_IN_USER_ID = re.compile(r"_session_([0-9A-Za-z-]+)$")


def _require(body: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in body or body[key] is None:
        raise invalid_request(f"{path}{key}: Field required")
    return body[key]


def _typed(value: Any, kind: type | tuple[type, ...], path: str, expected: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise invalid_request(f"{path}: Input should be {expected}")
    return value


def _string(body: Mapping[str, Any], key: str, path: str) -> str:
    """`body[key]`, which must be a string; errors name it `path.key` (built only for an error: this runs for
    every block of a conversation)."""
    value = body.get(key)
    if isinstance(value, str):
        return value
    if value is None:
        raise invalid_request(f"{path}.{key}: Field required")
    raise invalid_request(f"{path}.{key}: Input should be a valid string")


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    return float(_typed(value, (int, float), key, "a valid number"))


def _text_of(blocks: Any, path: str) -> list[str]:
    if isinstance(blocks, str):
        return [blocks]
    _typed(blocks, list, path, "a valid string or list of blocks")
    return [
        block["text"]
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]


def _image(block: Mapping[str, Any], path: str) -> ImagePart | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise invalid_request(f"{path}.source: Field required")
    kind = source.get("type")
    if kind == "base64":
        media_type = _string(source, "media_type", f"{path}.source")
        data = _string(source, "data", f"{path}.source")
        return ImagePart(f"data:{media_type};base64,{data}")
    if kind == "url":
        return ImagePart(_string(source, "url", f"{path}.source"))
    return None


def _document(block: Mapping[str, Any], path: str) -> Media | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise invalid_request(f"{path}.source: Field required")
    title = block.get("title")
    filename = title if isinstance(title, str) and title.strip() else "document.pdf"
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        return TextPart(source["data"])
    if kind == "base64":
        media_type = source.get("media_type") if isinstance(source.get("media_type"), str) else "application/pdf"
        data = _string(source, "data", f"{path}.source")
        return FilePart(f"data:{media_type};base64,{data}", filename)
    if kind == "url":
        url = _string(source, "url", f"{path}.source")
        return FilePart(url, filename if title else url.rsplit("/", 1)[-1] or filename)
    if kind == "content" and isinstance(source.get("content"), list):
        return TextPart("\n".join(_text_of(source["content"], f"{path}.source.content")))
    return None


def _tool_result_content(content: Any, path: str) -> list[ResultContent]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    _typed(content, list, path, "a valid string or list of blocks")
    parts: list[ResultContent] = []
    for i, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "tool_reference":
            name = _string(block, "tool_name", f"{path}.{i}")
            parts.append(ToolReference(name))
            continue
        part = _block(block, f"{path}.{i}")
        if isinstance(part, (TextPart, ImagePart, FilePart)):
            parts.append(part)
    return parts


def _block(block: Any, path: str) -> Part | None:
    """One content block; None for block types the bridge does not carry upstream."""
    if not isinstance(block, dict):
        raise invalid_request(f"{path}: Input should be a valid dictionary")
    kind = block.get("type")
    if kind == "text":
        return TextPart(_string(block, "text", path))
    if kind == "image":
        return _image(block, path)
    if kind == "tool_use":
        call_id = _string(block, "id", path)
        name = _string(block, "name", path)
        arguments = block.get("input")
        return ToolCallPart(call_id, name, "{}" if arguments is None else dumps(arguments).decode())
    if kind == "tool_result":
        call_id = _string(block, "tool_use_id", path)
        content = _tool_result_content(block.get("content"), f"{path}.content")
        return ToolResultPart(call_id, content, is_error=block.get("is_error") is True)
    if kind == "thinking":
        text = block.get("thinking")
        signature = block.get("signature")
        return ReasoningPart(text if isinstance(text, str) else "", signature if isinstance(signature, str) else None)
    if kind == "document":
        return _document(block, path)
    return None


def _content(content: Any, path: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise invalid_request(f"{path}: Input should be a valid string or list of blocks")
    parts: list[Part] = []
    for i, block in enumerate(content):
        part = _block(block, f"{path}.{i}")
        if part is not None:
            parts.append(part)
    return parts


def _without_billing_header(text: str) -> str:
    if BILLING_HEADER_PREFIX not in text:
        return text
    return "\n".join(line for line in text.split("\n") if not line.startswith(BILLING_HEADER_PREFIX)).strip("\n")


def _system(system: Any) -> list[Message]:
    if system is None:
        return []
    texts = [kept for kept in (_without_billing_header(text) for text in _text_of(system, "system")) if kept]
    return [Message("system", [TextPart(text) for text in texts])] if texts else []


def _messages(raw: Any) -> list[Message]:
    _typed(raw, list, "messages", "a valid list")
    messages: list[Message] = []
    for i, item in enumerate(raw):
        path = f"messages.{i}"
        _typed(item, dict, path, "a valid dictionary")
        given = _require(item, "role", path + ".")
        role = _ROLES.get(given) if isinstance(given, str) else None
        if role is None:
            raise invalid_request(f"{path}.role: Input should be 'user' or 'assistant'")
        content = item.get("content")
        if content is None:
            raise invalid_request(f"{path}.content: Field required")
        messages.append(Message(role, _content(content, path + ".content")))
    return messages


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _web_search(tool: Mapping[str, Any]) -> WebSearch:
    max_uses = tool.get("max_uses")
    location = tool.get("user_location")
    return WebSearch(
        max_uses=max_uses if isinstance(max_uses, int) and not isinstance(max_uses, bool) and max_uses > 0 else None,
        allowed_domains=_strings(tool.get("allowed_domains")),
        blocked_domains=_strings(tool.get("blocked_domains")),
        user_location=dict(location) if isinstance(location, dict) else None,
    )


def _tools(raw: Any) -> tuple[list[Tool], WebSearch | None]:
    if raw is None:
        return [], None
    _typed(raw, list, "tools", "a valid list")
    tools: list[Tool] = []
    search: WebSearch | None = None
    for i, tool in enumerate(raw):
        _typed(tool, dict, f"tools.{i}", "a valid dictionary")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            kind = tool.get("type")
            if kind in (None, "custom"):
                raise invalid_request(f"tools.{i}.input_schema: Field required")
            if isinstance(kind, str) and kind.startswith(WEB_SEARCH_TOOL_PREFIX):
                search = _web_search(tool)
            continue
        name = _typed(_require(tool, "name", f"tools.{i}."), str, f"tools.{i}.name", "a valid string")
        description = tool.get("description")
        deferred = tool.get("defer_loading") is True
        tools.append(Tool(name, description if isinstance(description, str) else "", schema, deferred))
    return tools, search


def _tool_choice(raw: Any) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    _typed(raw, dict, "tool_choice", "a valid dictionary")
    parallel = False if raw.get("disable_parallel_tool_use") is True else None
    kind = raw.get("type")
    if kind == "auto":
        return ToolChoice("auto"), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "none":
        return ToolChoice("none"), parallel
    if kind == "tool":
        name = _typed(_require(raw, "name", "tool_choice."), str, "tool_choice.name", "a valid string")
        return ToolChoice("tool", name), parallel
    raise invalid_request("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")


def _user(metadata: Any) -> str | None:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("user_id"), str) or not metadata["user_id"]:
        return None
    return bounded(metadata["user_id"])


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _effort(body: Mapping[str, Any]) -> ReasoningEffort | None:
    thinking = _object(body.get("thinking"))
    config = _object(body.get("output_config"))
    kind = thinking.get("type")
    if kind == "disabled":
        return DISABLED_EFFORT
    effort = config.get("effort")
    if isinstance(effort, str) and effort in EFFORT_OF_NAME:
        return EFFORT_OF_NAME[effort]
    if kind == "adaptive":
        return ADAPTIVE_EFFORT
    budget = thinking.get("budget_tokens")
    if kind == "enabled" and isinstance(budget, int):
        return next((effort for limit, effort in BUDGET_EFFORTS if budget < limit), "high")
    return None


def _shows_reasoning(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return not (isinstance(thinking, dict) and thinking.get("display") == "omitted")


def strict_schema(schema: Any) -> bool:
    """Whether `schema` meets OpenAI's strict mode: every object closed, every property required."""
    if not isinstance(schema, dict):
        return True
    properties = _object(schema.get("properties"))
    closed = schema.get("additionalProperties") is False and set(schema.get("required") or ()) == set(properties)
    if (schema.get("type") == "object" or properties) and not closed:
        return False
    children: list[Any] = [*properties.values(), schema.get("items")]
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        listed = schema.get(key)
        children += listed if isinstance(listed, list) else []
    for key in ("$defs", "definitions"):
        children += _object(schema.get(key)).values()
    return all(strict_schema(child) for child in children)


def _response_format(body: Mapping[str, Any]) -> ResponseFormat | None:
    config = _object(body.get("output_config"))
    fmt = config.get("format") if isinstance(config.get("format"), dict) else body.get("output_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise invalid_request("output_config.format.schema: Field required")
    return ResponseFormat(schema, strict=strict_schema(schema))


def _cache_key(metadata: Any) -> str | None:
    """The session id inside metadata.user_id (JSON, or `..._session_<id>`)."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("user_id"), str):
        return None
    user_id: str = metadata["user_id"]
    try:
        parsed = json.loads(user_id)
    except ValueError:
        parsed = None
    session_id: str | None = None
    if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
        session_id = parsed["session_id"]
    elif match := _SESSION_IN_USER_ID.search(user_id):
        session_id = match.group(1)
    if not session_id or not session_id.strip():
        return None
    return bounded(session_id.strip())


def _stop_sequences(raw: Any) -> list[str]:
    if raw is None:
        return []
    _typed(raw, list, "stop_sequences", "a valid list")
    for i, item in enumerate(raw):
        _typed(item, str, f"stop_sequences.{i}", "a valid string")
    return [item for item in raw if item]


def is_quota_probe(body: Mapping[str, Any]) -> bool:
    """Claude Code's start-up probe of the usage headers: max_tokens 1, one user message "quota", not streamed."""
    messages = body.get("messages")
    if body.get("max_tokens") != 1 or body.get("stream") is True or body.get("tools"):
        return False
    if not isinstance(messages, list) or len(messages) != 1 or not isinstance(messages[0], dict):
        return False
    message = messages[0]
    content = message.get("content")
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict) and content[0].get("type") == "text":
        content = content[0].get("text")
    return message.get("role") == "user" and content == QUOTA_PROBE_TEXT


def parse_request(body: Any, *, count_only: bool = False) -> Request:
    """Translate a decoded Messages API body; raises `BridgeError` naming the field at fault.

    `count_only` is for `count_tokens`, whose body has no `max_tokens`.
    """
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object")
    model = _typed(_require(body, "model", ""), str, "model", "a valid string")
    if not model.strip():
        raise invalid_request("model: String should have at least 1 character")
    if len(model) > MAX_MODEL_NAME_LENGTH:
        raise invalid_request(f"model: String should have at most {MAX_MODEL_NAME_LENGTH} characters")
    messages = _messages(_require(body, "messages", ""))
    max_tokens: int | None = None
    if not count_only and body.get(SAFEGUARDS) is not None:
        raise invalid_request(SAFEGUARDS_REFUSAL)
    if not count_only:
        max_tokens = _typed(_require(body, "max_tokens", ""), int, "max_tokens", "a valid integer")
        if max_tokens < 1:
            raise invalid_request("max_tokens: Input should be greater than or equal to 1")
    tool_choice, parallel = _tool_choice(body.get("tool_choice"))
    tools, web_search = _tools(body.get("tools"))
    stream = body.get("stream")
    try:
        return Request(
            model=model,
            messages=_system(body.get("system")) + messages,
            max_tokens=max_tokens,
            stream=_typed(stream, bool, "stream", "a valid boolean") if stream is not None else False,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel,
            temperature=_number(body, "temperature"),
            top_p=_number(body, "top_p"),
            stop=_stop_sequences(body.get("stop_sequences")),
            user=_user(body.get("metadata")),
            reasoning_effort=_effort(body),
            reasoning_summary=_shows_reasoning(body),
            response_format=_response_format(body),
            web_search=web_search,
            cache_key=_cache_key(body.get("metadata")),
        )
    except BridgeError:
        raise
    except (TypeError, ValueError) as exc:
        raise invalid_request(f"The request body could not be read: {exc}") from None
