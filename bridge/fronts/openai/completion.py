"""Internal `Completion` → OpenAI `chat.completion` (non-streaming), and the pieces the stream shares.

internal                          chat.completion
--------------------------------  ------------------------------------------------------
ReasoningPart                     message.content: a collapsed Thinking section (reasoning.py)
TextPart                          message.content (null when there is only tool calls)
WebSearchCall, WebSearchResults   not carried
ToolCall                          message.tool_calls[] {id, type: function, function{name, arguments}}
Finish end_turn | stop_sequence   finish_reason "stop"
Finish max_tokens                 finish_reason "length"
Finish tool_use                   finish_reason "tool_calls"
Finish refusal                    finish_reason "content_filter"
Usage input + cached              usage.prompt_tokens
Usage cached                      usage.prompt_tokens_details.cached_tokens
Usage output                      usage.completion_tokens
Usage reasoning                   usage.completion_tokens_details.reasoning_tokens
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from bridge.fronts.openai.reasoning import thinking_section
from bridge.model import Completion, FinishReason, ReasoningPart, TextPart, ToolCall, Usage

FINISH_REASONS: dict[FinishReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def now() -> int:
    return int(time.time())


def usage_body(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cached_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def tool_call_body(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _content(completion: Completion) -> str:
    pieces: list[str] = []
    for part in completion.content:
        if isinstance(part, ReasoningPart) and part.text:
            pieces.append(thinking_section(part.text))
        elif isinstance(part, TextPart):
            pieces.append(part.text)
    return "".join(pieces)


def completion_body(completion: Completion, completion_id: str, model: str, created: int) -> dict[str, Any]:
    calls = [part for part in completion.content if isinstance(part, ToolCall)]
    content = _content(completion)
    message: dict[str, Any] = {"role": "assistant", "content": content or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"] = [tool_call_body(call) for call in calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": FINISH_REASONS[completion.finish.reason]}
        ],
        "usage": usage_body(completion.usage),
        "system_fingerprint": None,
    }
