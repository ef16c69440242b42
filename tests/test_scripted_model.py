"""The scripted model the CLI tests answer Claude Code with, and the fake's `respond_with` hook it plugs into."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.fake_azure import (
    DEFAULT_API_KEY,
    Agent,
    Conversation,
    FakeAzure,
    RecordedRequest,
    ScriptedModel,
    Step,
    Text,
    ToolCalls,
    sse_data,
)

TOOLS_CHAT = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in ("Read", "Bash")]
TOOLS_RESPONSES = [{"type": "function", "name": name, "parameters": {"type": "object"}} for name in ("Read", "Bash")]


def chat_body(task: str, rounds: list[list[tuple[str, str, str | None]]], tools: bool = True) -> dict[str, Any]:
    """A chat/completions body: system, the task, then per round the assistant's calls and their outputs."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": task}]},
    ]
    for calls in rounds:
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
                    for call_id, name, _ in calls
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": call_id, "content": output} for call_id, _, output in calls if output is not None
        ]
    return {"model": "gpt-5", "messages": messages, **({"tools": TOOLS_CHAT} if tools else {})}


def responses_body(task: str, rounds: list[list[tuple[str, str, str | None]]]) -> dict[str, Any]:
    """The Responses counterpart of `chat_body`, with a reasoning item before each round."""
    items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": task}]}]
    for calls in rounds:
        items.append({"type": "reasoning", "id": "rs_1", "summary": []})
        items += [{"type": "function_call", "call_id": call_id, "name": name, "arguments": "{}"} for call_id, name, _ in calls]
        items += [
            {"type": "function_call_output", "call_id": call_id, "output": output}
            for call_id, _, output in calls
            if output is not None
        ]
    return {"model": "gpt-5", "instructions": "sys", "input": items, "tools": TOOLS_RESPONSES}


def recorded(api: str, body: dict[str, Any]) -> RecordedRequest:
    return RecordedRequest("POST", "/", {}, {}, json.dumps(body).encode(), body, api, body["model"])


ROUNDS: list[list[tuple[str, str, str | None]]] = [[("c1", "Read", "line one")], [("c2", "Read", "x"), ("c3", "Bash", "ok")]]


def test_chat_and_responses_conversations_read_alike() -> None:
    chat = Conversation.read("chat", chat_body("[task a] go", ROUNDS))
    responses = Conversation.read("responses", responses_body("[task a] go", ROUNDS))

    assert chat == responses
    assert chat.first_user_text == "[task a] go" and chat.tools == ["Read", "Bash"]
    assert [[(c.call_id, c.name, c.output) for c in round_] for round_ in chat.rounds] == [
        [("c1", "Read", "line one")],
        [("c2", "Read", "x"), ("c3", "Bash", "ok")],
    ]


def model() -> ScriptedModel:
    return ScriptedModel(
        Agent("sub", "[task b]", [Step(Text("sub done"))]),
        Agent(
            "main",
            "[task a]",
            [
                Step(ToolCalls([("Read", {})])),
                Step(ToolCalls([("Read", {}), ("Bash", {})]), expect=["line"]),
                Step(Text("done"), expect=["x", "ok"]),
            ],
        ),
        background=Text("title"),
    )


def test_each_agent_is_answered_by_the_step_its_rounds_reach() -> None:
    scripted = model()

    assert scripted(recorded("chat", chat_body("[task a] go", []))) == ToolCalls([("Read", {})])
    assert scripted(recorded("responses", responses_body("[task a] go", ROUNDS))) == Text("done")
    assert scripted(recorded("chat", chat_body("[task b] count", []))) == Text("sub done")
    assert scripted(recorded("chat", chat_body("[task a] go", [], tools=False))) == Text("title")
    assert scripted(recorded("chat", chat_body("write a title", []))) == Text("title")

    assert not scripted.problems
    assert [(s.agent, s.step, s.api) for s in scripted.served] == [
        ("main", 0, "chat"),
        ("main", 2, "responses"),
        ("sub", 0, "chat"),
        (None, 0, "chat"),
        (None, 0, "chat"),
    ]


def test_a_conversation_off_the_script_is_answered_with_the_problem() -> None:
    scripted = model()
    off_script = [
        chat_body("[task a] go", [[("c1", "Read", None)]]),  # the call has no output
        chat_body("[task a] go", [[("c1", "Read", "(no output)")]]),  # not the output the step expects
        chat_body("[task a] go", [*ROUNDS, [("c4", "Bash", "more")]]),  # more rounds than steps
    ]

    replies = [scripted(recorded("chat", body)) for body in off_script]

    assert len(scripted.problems) == 3
    assert "no output for the calls to ['Read']" in scripted.problems[0]
    assert "expected outputs holding ['line']" in scripted.problems[1] and "(no output)" in scripted.problems[1]
    assert "asked for turn 4, but the script has 3 turns" in scripted.problems[2]
    assert all(isinstance(reply, Text) and reply.text.startswith("Scripted model: ") for reply in replies)


def test_a_tool_the_request_does_not_offer_is_a_problem() -> None:
    scripted = ScriptedModel(Agent("main", "[task a]", [Step(ToolCalls([("WebFetch", {})]))]))

    scripted(recorded("chat", chat_body("[task a] go", [])))

    assert scripted.problems == ["main turn 1: the request does not offer ['WebFetch'] (offered: ['Read', 'Bash'])"]


def test_queued_replies_come_before_the_responder(fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("queued"))
    fake_azure.respond_with(lambda request: Text(f"answered {request.deployment}"))

    def ask() -> str:
        response = httpx.post(
            f"{fake_azure.url}/openai/v1/chat/completions",
            headers={"api-key": DEFAULT_API_KEY},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        )
        chunks = [json.loads(data) for data in sse_data(response.content)[:-1]]
        return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])

    assert [ask(), ask()] == ["queued", "answered gpt-4o"]
    fake_azure.reset()
    assert ask() == "Hello from fake Azure."
