"""Anthropic Messages API request → internal `Request`.

    Anthropic                                   internal
    ------------------------------------------  -----------------------------------------
    system (string | text blocks)               leading Message(role="system")
    messages[].role user|assistant|system       Message.role (mid-conversation system kept)
    text block                                  TextPart
    image block (base64 | url)                  ImagePart (data: URL | https URL)
    document block with a text source           TextPart
    tool_use {id, name, input}                  ToolCallPart (input as JSON text)
    tool_result {tool_use_id, content, is_error} ToolResultPart
    thinking {thinking, signature}              ReasoningPart
    tools[] {name, description, input_schema}   Tool (server tools without a schema skipped)
    tool_choice auto | any | tool | none        ToolChoice auto | required | tool | none
    tool_choice.disable_parallel_tool_use       parallel_tool_calls = False
    stop_sequences / temperature / top_p        stop / temperature / top_p
    metadata.user_id                            user (SHA-256 when over 64 characters)
    max_tokens, stream                          max_tokens, stream
    top_k, thinking, output_config,             ignored: accepted, never rejected
    context_management, cache_control, others

Validation names the offending field the way Anthropic does
(`messages.2.content.0.tool_use_id: Field required`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bridge.errors import BridgeError, invalid_request
from bridge.model import (
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"
MAX_USER_LENGTH = 64
_ROLES = frozenset({"user", "assistant", "system"})


def _require(body: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in body or body[key] is None:
        raise invalid_request(f"{path}{key}: Field required")
    return body[key]


def _typed(value: Any, kind: type | tuple[type, ...], path: str, expected: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise invalid_request(f"{path}: Input should be {expected}")
    return value


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    return float(_typed(value, (int, float), key, "a valid number"))


def _text_of(blocks: Any, path: str) -> list[str]:
    if isinstance(blocks, str):
        return [blocks]
    _typed(blocks, list, path, "a valid string or list of blocks")
    return [block["text"] for block in blocks if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)]


def _image(block: Mapping[str, Any], path: str) -> ImagePart | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise invalid_request(f"{path}.source: Field required")
    kind = source.get("type")
    if kind == "base64":
        media_type = _typed(_require(source, "media_type", f"{path}.source."), str, f"{path}.source.media_type", "a valid string")
        data = _typed(_require(source, "data", f"{path}.source."), str, f"{path}.source.data", "a valid string")
        return ImagePart(f"data:{media_type};base64,{data}")
    if kind == "url":
        return ImagePart(_typed(_require(source, "url", f"{path}.source."), str, f"{path}.source.url", "a valid string"))
    return None


def _tool_result_content(content: Any, path: str) -> list[TextPart | ImagePart]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    _typed(content, list, path, "a valid string or list of blocks")
    parts: list[TextPart | ImagePart] = []
    for i, block in enumerate(content):
        part = _block(block, f"{path}.{i}")
        if isinstance(part, (TextPart, ImagePart)):
            parts.append(part)
    return parts


def _block(block: Any, path: str) -> Part | None:
    """One content block; None for block types the bridge does not carry upstream."""
    _typed(block, dict, path, "a valid dictionary")
    kind = block.get("type")
    if kind == "text":
        return TextPart(_typed(_require(block, "text", f"{path}."), str, f"{path}.text", "a valid string"))
    if kind == "image":
        return _image(block, path)
    if kind == "tool_use":
        call_id = _typed(_require(block, "id", f"{path}."), str, f"{path}.id", "a valid string")
        name = _typed(_require(block, "name", f"{path}."), str, f"{path}.name", "a valid string")
        arguments = block.get("input")
        return ToolCallPart(call_id, name, json.dumps({} if arguments is None else arguments, ensure_ascii=False))
    if kind == "tool_result":
        call_id = _typed(_require(block, "tool_use_id", f"{path}."), str, f"{path}.tool_use_id", "a valid string")
        content = _tool_result_content(block.get("content"), f"{path}.content")
        return ToolResultPart(call_id, content, is_error=block.get("is_error") is True)
    if kind == "thinking":
        text = block.get("thinking")
        signature = block.get("signature")
        return ReasoningPart(text if isinstance(text, str) else "", signature if isinstance(signature, str) else None)
    if kind == "document":
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "text" and isinstance(source.get("data"), str):
            return TextPart(source["data"])
    return None


def _content(content: Any, path: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    _typed(content, list, path, "a valid string or list of blocks")
    parts: list[Part] = []
    for i, block in enumerate(content):
        part = _block(block, f"{path}.{i}")
        if part is not None:
            parts.append(part)
    return parts


def _system(system: Any) -> list[Message]:
    if system is None:
        return []
    texts = [text for text in _text_of(system, "system") if not text.startswith(BILLING_HEADER_PREFIX)]
    return [Message("system", [TextPart(text) for text in texts])] if texts else []


def _messages(raw: Any) -> list[Message]:
    _typed(raw, list, "messages", "a valid list")
    messages: list[Message] = []
    for i, item in enumerate(raw):
        path = f"messages.{i}"
        _typed(item, dict, path, "a valid dictionary")
        role = _require(item, "role", f"{path}.")
        if role not in _ROLES:
            raise invalid_request(f"{path}.role: Input should be 'user' or 'assistant'")
        parts = _content(_require(item, "content", f"{path}."), f"{path}.content")
        messages.append(Message(role, parts))
    return messages


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    _typed(raw, list, "tools", "a valid list")
    tools: list[Tool] = []
    for i, tool in enumerate(raw):
        _typed(tool, dict, f"tools.{i}", "a valid dictionary")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            if tool.get("type") in (None, "custom"):
                raise invalid_request(f"tools.{i}.input_schema: Field required")
            continue
        name = _typed(_require(tool, "name", f"tools.{i}."), str, f"tools.{i}.name", "a valid string")
        description = tool.get("description")
        tools.append(Tool(name, description if isinstance(description, str) else "", schema))
    return tools


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
    user_id: str = metadata["user_id"]
    if len(user_id) <= MAX_USER_LENGTH:
        return user_id
    return hashlib.sha256(user_id.encode()).hexdigest()


def _stop_sequences(raw: Any) -> list[str]:
    if raw is None:
        return []
    _typed(raw, list, "stop_sequences", "a valid list")
    for i, item in enumerate(raw):
        _typed(item, str, f"stop_sequences.{i}", "a valid string")
    return [item for item in raw if item]


def parse_request(body: Any, *, count_only: bool = False) -> Request:
    """Translate a decoded Messages API body; raises `BridgeError` naming the field at fault.

    `count_only` is for `count_tokens`, whose body has no `max_tokens`.
    """
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object")
    model = _typed(_require(body, "model", ""), str, "model", "a valid string")
    if not model.strip():
        raise invalid_request("model: String should have at least 1 character")
    messages = _messages(_require(body, "messages", ""))
    max_tokens: int | None = None
    if not count_only:
        max_tokens = _typed(_require(body, "max_tokens", ""), int, "max_tokens", "a valid integer")
        if max_tokens < 1:
            raise invalid_request("max_tokens: Input should be greater than or equal to 1")
    tool_choice, parallel = _tool_choice(body.get("tool_choice"))
    stream = body.get("stream")
    try:
        return Request(
            model=model,
            messages=_system(body.get("system")) + messages,
            max_tokens=max_tokens,
            stream=_typed(stream, bool, "stream", "a valid boolean") if stream is not None else False,
            tools=_tools(body.get("tools")),
            tool_choice=tool_choice,
            parallel_tool_calls=parallel,
            temperature=_number(body, "temperature"),
            top_p=_number(body, "top_p"),
            stop=_stop_sequences(body.get("stop_sequences")),
            user=_user(body.get("metadata")),
        )
    except BridgeError:
        raise
    except (TypeError, ValueError) as exc:
        raise invalid_request(f"The request body could not be read: {exc}") from None
