"""A scripted model: answers each request from what the conversation in it holds, not from arrival order.

A client such as Claude Code sends requests whose order is not fixed (a subagent's turns, background
requests), so a queue of replies is fragile.  `ScriptedModel` is a `Responder` for
`FakeAzure.respond_with`: it reads the request (chat/completions or Responses) into a `Conversation`,
finds the `Agent` whose marker is in the conversation's first user message, and answers with that
agent's next `Step`, the one numbered by how many tool-call rounds the conversation already holds.

    request holds                                          answer
    -----------------------------------------------------  ------------------------------------------
    no tools, or no agent's marker in its first user turn  `background` (a title, a page summary, ...)
    an agent's marker, n tool rounds, n < len(steps)       steps[n].reply, once steps[n]'s checks pass
    anything else (a check fails, more rounds than steps)  a text naming the problem, noted in `problems`

A step's checks are those a demanding reader of the conversation would make: every call of the last
round has an output, each output holds the text the step expects of it (in the order of the calls),
and the tools the reply calls are among the tools the request offers.  Every answer is noted in
`served`, so a test can tell which agent asked what, on which deployment.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .server import RecordedRequest
from .streams import Reply, Text, ToolCalls

BACKGROUND_REPLY = Text("OK")


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of a round and its output (None: the conversation holds no output for it)."""

    call_id: str
    name: str
    arguments: str
    output: str | None


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a chat/completions or Responses request body holds, read the same way for both."""

    first_user_text: str
    rounds: Sequence[Sequence[Call]]
    """The assistant's tool-call turns, in order, each with its calls in the order they were made."""
    tools: Sequence[str]
    """Names of the function tools offered (other tool types by their `type`)."""

    @classmethod
    def read(cls, api: str, body: Mapping[str, Any]) -> Conversation:
        return _read_responses(body) if api == "responses" else _read_chat(body)


def _text(content: Any) -> str:
    """The text of a message's or a tool output's content: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _read_chat(body: Mapping[str, Any]) -> Conversation:
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    first_user = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    outputs = {m.get("tool_call_id"): _text(m.get("content")) for m in messages if m.get("role") == "tool"}
    rounds = [
        [
            Call(call["id"], call["function"]["name"], call["function"]["arguments"], outputs.get(call["id"]))
            for call in m["tool_calls"]
        ]
        for m in messages
        if m.get("role") == "assistant" and m.get("tool_calls")
    ]
    tools = [
        tool["function"]["name"] if tool.get("type") == "function" else tool.get("type", "") for tool in body.get("tools", [])
    ]
    return Conversation(first_user, rounds, tools)


def _read_responses(body: Mapping[str, Any]) -> Conversation:
    items = body.get("input", [])
    items = [{"role": "user", "content": items}] if isinstance(items, str) else [i for i in items if isinstance(i, dict)]
    first_user = next((_text(i.get("content")) for i in items if i.get("role") == "user"), "")
    outputs = {i.get("call_id"): _text(i.get("output")) for i in items if i.get("type") == "function_call_output"}
    rounds: list[list[Call]] = []
    answered = True  # a function_call after an output (or first of all) starts a new round
    for item in items:
        if item.get("type") == "function_call":
            if answered:
                rounds.append([])
            rounds[-1].append(Call(item["call_id"], item["name"], item["arguments"], outputs.get(item["call_id"])))
            answered = False
        elif item.get("type") == "function_call_output":
            answered = True
    tools = [tool.get("name", "") if tool.get("type") == "function" else tool.get("type", "") for tool in body.get("tools", [])]
    return Conversation(first_user, rounds, tools)


@dataclass(frozen=True, slots=True)
class Step:
    """One turn of an agent: what each output of the previous round must hold (in call order), then the reply."""

    reply: Reply
    expect: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Agent:
    """A conversation the model takes part in: found by `marker` in its first user message, answered by `steps`."""

    name: str
    marker: str
    steps: Sequence[Step]


@dataclass(frozen=True, slots=True)
class Served:
    """One request the model answered: which agent (None: background), which step, where it went."""

    agent: str | None
    step: int
    deployment: str | None
    api: str
    request: RecordedRequest = field(repr=False)


class ScriptedModel:
    """A `Responder` that plays `agents` (see the module docstring); thread-safe, so one run may hit it in parallel."""

    def __init__(self, *agents: Agent, background: Reply = BACKGROUND_REPLY) -> None:
        self.agents = agents
        self.background = background
        self.served: list[Served] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, recorded: RecordedRequest) -> Reply:
        conversation = Conversation.read(recorded.api, recorded.body)
        agent = next((a for a in self.agents if a.marker in conversation.first_user_text), None)
        if agent is None or not conversation.tools:
            return self._serve(recorded, None, 0, self.background)
        step = len(conversation.rounds)
        problem = self._check(agent, step, conversation)
        if problem is not None:
            with self._lock:
                self.problems.append(problem)
            return self._serve(recorded, agent.name, step, Text(f"Scripted model: {problem}"))
        return self._serve(recorded, agent.name, step, agent.steps[step].reply)

    def _serve(self, recorded: RecordedRequest, agent: str | None, step: int, reply: Reply) -> Reply:
        with self._lock:
            self.served.append(Served(agent, step, recorded.deployment, recorded.api, recorded))
        return reply

    def turns(self, agent: str | None) -> list[Served]:
        """The requests served for `agent` (None: background requests), in arrival order."""
        with self._lock:
            return [served for served in self.served if served.agent == agent]

    @staticmethod
    def _check(agent: Agent, step: int, conversation: Conversation) -> str | None:
        """Why `agent` cannot take `step` in `conversation` (None: it can)."""
        if step >= len(agent.steps):
            return f"{agent.name} asked for turn {step + 1}, but the script has {len(agent.steps)} turns"
        current = agent.steps[step]
        if step > 0:
            last = conversation.rounds[-1]
            unanswered = [call.name for call in last if call.output is None]
            if unanswered:
                return f"{agent.name} turn {step + 1}: no output for the calls to {unanswered}"
            outputs = [call.output or "" for call in last]
            if len(current.expect) != len(outputs) or any(e not in o for e, o in zip(current.expect, outputs, strict=False)):
                return (
                    f"{agent.name} turn {step + 1}: expected outputs holding {list(current.expect)} "
                    f"for the calls to {[call.name for call in last]}, got {json.dumps(outputs)[:2000]}"
                )
        if isinstance(current.reply, ToolCalls):
            missing = [name for name, _ in current.reply.calls if name not in conversation.tools]
            if missing:
                return f"{agent.name} turn {step + 1}: the request does not offer {missing} (offered: {list(conversation.tools)})"
        return None
