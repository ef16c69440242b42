"""Tool calls and their results in the order OpenAI-family APIs require."""

from __future__ import annotations

from bridge.model import Message, TextPart, ToolCallPart, ToolResultPart
from bridge.upstreams.chat.request import chat_messages
from bridge.upstreams.tool_order import UNANSWERED_CALL, call_id


def test_tool_calls_are_answered_in_azure_order() -> None:
    long_id = "toolu_" + "x" * 60
    messages = [
        Message("user", [TextPart("go")]),
        Message("assistant", [ToolCallPart("a", "f", "{}"), ToolCallPart(long_id, "g", "{}")]),
        Message("system", [TextPart("reminder")]),
        Message(
            "user", [TextPart("note"), ToolResultPart(long_id, [TextPart("g done")]), ToolResultPart("orphan", [TextPart("?")])]
        ),
        Message("assistant", [TextPart("ok")]),
    ]
    chat = chat_messages(messages)
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "tool", "system", "user", "assistant"]
    assert chat[2] == {"role": "tool", "tool_call_id": "a", "content": UNANSWERED_CALL}
    assert chat[3] == {"role": "tool", "tool_call_id": call_id(long_id), "content": "g done"}
    assert len(chat[1]["tool_calls"][1]["id"]) <= 40 and chat[1]["tool_calls"][1]["id"] == call_id(long_id)
    assert "orphan" in chat[5]["content"][1]["text"]
