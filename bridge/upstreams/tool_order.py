"""Putting a conversation's tool calls and their results in the order OpenAI-family APIs require.

Both upstream APIs (chat/completions and Responses) require every tool call of
an assistant turn to be answered right after that turn, and refuse a result
whose call is not in the conversation.  Clients are less tidy: Claude Code puts
a `role: "system"` message between a call and its result, interrupted turns
leave calls unanswered, compaction leaves results without their call, and
tool results may carry images and documents the upstreams cannot take there.  This module
rewrites the internal message list so that each upstream translator can map it
one to one, with `call_id` keeping every id within their length rule:

    client conversation                               rewritten
    ------------------------------------------------  ---------------------------------------------
    assistant [calls a, b]                            assistant [calls a, b]
    system / user text before the results             user [result a, result b]  (call order)
    user [result b, text, result a]                   the system / user text that came in between
                                                      user [text]
    a call never answered                             result "No result was returned ..."
    a result whose call is not in the conversation    user text "Result of tool call X: ..."
    a result's tool references (tool search)          a line naming each tool found
    images and documents inside a result              user [text "Attachments returned by tool call
                                                      X:", images, documents] after the results
"""

from __future__ import annotations

import hashlib

from bridge.model import FilePart, ImagePart, Message, Part, TextPart, ToolCallPart, ToolReference, ToolResultPart

MAX_CALL_ID_LENGTH = 40
UNANSWERED_CALL = "No result was returned for this tool call."
EMPTY_RESULT = "(no output)"
TOOL_FOUND = "Tool found and now available to call: {name}"


def call_id(original: str) -> str:
    """A tool-call id Azure accepts (at most 40 characters), stable for the same input."""
    if len(original) <= MAX_CALL_ID_LENGTH:
        return original
    return "call_" + hashlib.sha256(original.encode()).hexdigest()[: MAX_CALL_ID_LENGTH - 5]


def result_text(result: ToolResultPart) -> str:
    """The text of a result as the upstream receives it (errors marked, tools found named, never empty)."""
    lines = [
        part.text if isinstance(part, TextPart) else TOOL_FOUND.format(name=part.name)
        for part in result.content
        if isinstance(part, (TextPart, ToolReference))
    ]
    text = "\n".join(lines) or EMPTY_RESULT
    return f"Error: {text}" if result.is_error else text


class _Orderer:
    """One pass over the conversation; every lookup is a dict's, so the work grows with its length only."""

    def __init__(self) -> None:
        self.out: list[Message] = []
        self.pending: dict[str, None] = {}
        """The calls of the last assistant turn still to answer, in call order (a dict: ordered, unique)."""
        self.answers: dict[str, ToolResultPart] = {}
        self.held: list[Message] = []

    def add(self, message: Message) -> None:
        if message.role == "assistant":
            self.answer_all()
            self.out.append(message)
            self.pending = dict.fromkeys(part.id for part in message.parts if isinstance(part, ToolCallPart))
        elif message.role == "system":
            self._emit_or_hold(message)
        else:
            self._user(message)

    def _user(self, message: Message) -> None:
        visible: list[Part] = []
        for part in message.parts:
            if not isinstance(part, ToolResultPart):
                visible.append(part)
                continue
            attached: list[Part] = [p for p in part.content if isinstance(p, (ImagePart, FilePart))]
            if part.call_id in self.pending and part.call_id not in self.answers:
                self.answers[part.call_id] = ToolResultPart(part.call_id, [TextPart(result_text(part))])
                if attached:
                    visible += [TextPart(f"Attachments returned by tool call {part.call_id}:"), *attached]
            else:
                visible += [TextPart(f"Result of tool call {part.call_id}:\n{result_text(part)}"), *attached]
        if self.pending and len(self.answers) == len(self.pending):
            self.answer_all()
        if visible:
            self._emit_or_hold(Message("user", visible))

    def _emit_or_hold(self, message: Message) -> None:
        (self.held if self.pending else self.out).append(message)

    def answer_all(self) -> None:
        if self.pending:
            results: list[Part] = [
                self.answers.get(key) or ToolResultPart(key, [TextPart(UNANSWERED_CALL)]) for key in self.pending
            ]
            self.out.append(Message("user", results))
        self.out.extend(self.held)
        self.pending, self.answers, self.held = {}, {}, []


def answered_in_order(messages: list[Message]) -> list[Message]:
    """`messages` with every tool call answered right after its turn (see the module's table).

    In the result, a user message holds either only tool results (text only) or no tool result.
    """
    orderer = _Orderer()
    for message in messages:
        orderer.add(message)
    orderer.answer_all()
    return orderer.out
