"""A ~600 KB long-session Claude Code request, built deterministically from the captured traffic.

The start is `claude-code-traffic/2.1.197/tool-loop-03.json` as captured (its system
blocks, 24 tools, metadata, thinking and context_management; the first user turn,
the mid-conversation `role: system` message, a Bash `tool_use` and its `tool_result`).
The conversation then goes on, turn after turn, in the shapes of the captured
agent run (`2.1.332/agent-*`: Read, Edit, Bash, a parallel Write + Bash) until the
body reaches `TARGET_BYTES`:

    assistant  text + tool_use Read(file)        user  tool_result: the file, numbered lines (~8 KB)
    assistant  tool_use Bash(rg -n ...)          user  tool_result: matching lines (~1.5 KB)
    assistant  tool_use Edit(file, old, new)     user  tool_result: the edit confirmation
    assistant  tool_use Bash(pytest ...)         user  tool_result: the test output (~2.5 KB)
    assistant  tool_use Write + tool_use Bash    user  two tool_results
    assistant  text (a summary)                  user  text (the next task)

Text is the captures' own filler sentence (their long prose was replaced by it), ids are
numbered, and `cache_control` sits on the last block of the last message, where Claude
Code puts it.  The result is a non-streaming request (`max_tokens` as `common.MAX_TOKENS`).
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import MAX_TOKENS, TRAFFIC_DIR, encode

BASE = TRAFFIC_DIR / "tool-loop-03.json"
TARGET_BYTES = 600_000
FILLER = (
    "the build runs each test and writes a short report of what it found before the next step starts "
    "so that the team can read it later"
)
CACHE = {"type": "ephemeral"}


def _filler(length: int, offset: int = 0) -> str:
    text = FILLER + " "
    repeated = text * (length // len(text) + 2)
    start = offset % len(text)
    return repeated[start : start + length]


def _numbered(lines: int, width: int, offset: int) -> str:
    """A file as Read shows it: right-aligned line numbers, a tab, the line."""
    return "\n".join(f"{n:>6}\t{_filler(width, offset + n * 7)}" for n in range(1, lines + 1))


class _Conversation:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.calls = 0

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return {"type": "tool_use", "id": f"toolu_fake_{self.calls:012x}", "name": name, "input": arguments}

    def turn(self, text: str | None, calls: list[tuple[str, dict[str, Any], str]]) -> None:
        """One assistant turn (optional text, then tool calls) and the user turn with the results."""
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        results = []
        for name, arguments, output in calls:
            call = self._call(name, arguments)
            blocks.append(call)
            results.append({"tool_use_id": call["id"], "type": "tool_result", "content": output, "is_error": False})
        self.messages.append({"role": "assistant", "content": blocks})
        self.messages.append({"role": "user", "content": results})

    def exchange(self, answer: str, next_task: str) -> None:
        self.messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        self.messages.append({"role": "user", "content": [{"type": "text", "text": next_task}]})

    def cycle(self, k: int) -> None:
        module = f"/home/dev/project/src/module_{k:02d}.py"
        self.turn(
            f"I'll read {module} first. " + _filler(120, k),
            [("Read", {"file_path": module}, _numbered(110, 64, k))],
        )
        self.turn(
            None,
            [
                (
                    "Bash",
                    {"command": "rg -n 'report' /home/dev/project/src | head -40", "description": "Find the report code"},
                    "\n".join(f"src/module_{(k + n) % 40:02d}.py:{10 + n * 3}:{_filler(40, n)}" for n in range(24)),
                )
            ],
        )
        self.turn(
            None,
            [
                (
                    "Edit",
                    {"replace_all": False, "file_path": module, "old_string": _filler(60, k), "new_string": _filler(72, k + 3)},
                    f"The file {module} has been updated. " + _filler(200, k),
                )
            ],
        )
        self.turn(
            "Now the tests.",
            [
                (
                    "Bash",
                    {"command": f"python -m pytest -q tests/test_module_{k:02d}.py", "description": "Run the module's tests"},
                    "\n".join(f"tests/test_module_{k:02d}.py::test_{n} PASSED  {_filler(50, n)}" for n in range(30))
                    + f"\n30 passed in 0.{k:02d}s",
                )
            ],
        )
        self.turn(
            None,
            [
                (
                    "Write",
                    {"file_path": f"/home/dev/project/notes/module_{k:02d}.md", "content": _filler(400, k)},
                    f"File created successfully at: /home/dev/project/notes/module_{k:02d}.md",
                ),
                (
                    "Bash",
                    {"command": "git status --short", "description": "Show changes"},
                    f" M src/module_{k:02d}.py\n?? notes/",
                ),
            ],
        )
        self.exchange(_filler(600, k), f"Good. Next, module {k + 1:02d}: " + _filler(160, k + 1))


def long_session_body(target_bytes: int = TARGET_BYTES) -> dict[str, Any]:
    """The long-session request: tool-loop-03 continued with `_Conversation.cycle` turns up to `target_bytes`."""
    body: dict[str, Any] = json.loads(BASE.read_text())["body"]
    body["stream"] = False
    body["max_tokens"] = MAX_TOKENS
    for message in body["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                block.pop("cache_control", None)
    conversation = _Conversation(body["messages"])
    k = 0
    while len(encode(body)) < target_bytes:
        conversation.cycle(k)
        k += 1
    body["messages"][-1]["content"][-1]["cache_control"] = CACHE
    return body
