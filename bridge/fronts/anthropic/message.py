"""Internal `Completion` → Anthropic `message` object (non-streaming), and the usage block.

    internal                      Anthropic
    ----------------------------  ----------------------------------------------------
    TextPart                      {"type": "text", "text"}
    ReasoningPart                 {"type": "thinking", "thinking", "signature"}
    ToolCall                      {"type": "tool_use", "id", "name", "input": parsed JSON}
    Finish.reason / stop_sequence stop_reason / stop_sequence
    Usage input (without cached)  input_tokens
    Usage cached                  cache_read_input_tokens
    Usage output                  output_tokens
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from bridge.model import Completion, ReasoningPart, TextPart, ToolCall, Usage


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
    }


def tool_input(arguments: str) -> Any:
    """The tool input as an object; models occasionally emit invalid JSON, which becomes {}."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _block(part: TextPart | ReasoningPart | ToolCall) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ReasoningPart):
        return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    return {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)}


def message_body(completion: Completion, message_id: str, model: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(part) for part in completion.content],
        "stop_reason": completion.finish.reason,
        "stop_sequence": completion.finish.stop_sequence,
        "usage": usage_body(completion.usage),
    }
