"""The tools an upstream is offered, under names it accepts; the calls that come back carry the client's names.

    the client's tool                                  what the upstream is offered
    -------------------------------------------------  ---------------------------------------------------
    a tool                                             that tool
    a deferred tool (`defer_loading`, tool search)     that tool, once a tool result in the conversation
                                                       holds a ToolReference naming it (from then on)
    DeferredToolPlaceholder                            nothing: the model must never call it
    a name outside ^[a-zA-Z0-9_-]{1,64}$ (MCP tools    a safe name: the name with every other character
      such as `github.create_issue`)                   made `_`, cut to fit, and 8 hex of its SHA-256

Safe names are a pure function of the client's name, so the same tools give
the same upstream body on every turn (the prompt cache keeps its prefix); the
tools keep the client's order.  The same renaming applies to `tool_choice` and
to the calls already in the conversation; `restore` gives every call that
comes back the client's own name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from bridge.model import Event, Message, Request, Tool, ToolCallPart, ToolCallStart, ToolReference, ToolResultPart

PLACEHOLDER = "DeferredToolPlaceholder"
MAX_NAME_LENGTH = 64
_SAFE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE_CHARACTER = re.compile(r"[^a-zA-Z0-9_-]")
DIGEST_LENGTH = 8


def safe_name(name: str) -> str:
    """`name` itself when the upstream accepts it, else a stable safe name for it."""
    if _SAFE.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:DIGEST_LENGTH]
    stem = _UNSAFE_CHARACTER.sub("_", name)[: MAX_NAME_LENGTH - DIGEST_LENGTH - 1]
    return f"{stem}_{digest}"


def _found(messages: list[Message]) -> set[str]:
    """The tools tool search has found in this conversation."""
    return {
        content.name
        for message in messages
        for part in message.parts
        if isinstance(part, ToolResultPart)
        for content in part.content
        if isinstance(content, ToolReference)
    }


def offered(request: Request) -> list[Tool]:
    """The client's tools the upstream is offered (see the module's table), with the client's names."""
    if not any(tool.deferred or tool.name == PLACEHOLDER for tool in request.tools):
        return request.tools
    found = _found(request.messages) if any(tool.deferred for tool in request.tools) else set()
    return [tool for tool in request.tools if tool.name != PLACEHOLDER and (not tool.deferred or tool.name in found)]


def _renamed_calls(message: Message, names: dict[str, str]) -> Message:
    if message.role != "assistant" or not any(isinstance(part, ToolCallPart) and part.name in names for part in message.parts):
        return message
    parts = [
        replace(part, name=names[part.name]) if isinstance(part, ToolCallPart) and part.name in names else part
        for part in message.parts
    ]
    return Message(message.role, parts)


def for_upstream(request: Request) -> tuple[Request, dict[str, str]]:
    """`request` with only the offered tools, under safe names; and the client's name of each renamed one."""
    tools = offered(request)
    unsafe = {
        name: safe_name(name)
        for name in [tool.name for tool in tools]
        + [part.name for message in request.messages for part in message.parts if isinstance(part, ToolCallPart)]
        if not _SAFE.match(name)
    }
    if tools is request.tools and not unsafe:
        return request, {}
    choice = request.tool_choice
    if choice is not None and choice.name is not None and choice.name in unsafe:
        choice = replace(choice, name=unsafe[choice.name])
    return replace(
        request,
        tools=[replace(tool, name=unsafe[tool.name]) if tool.name in unsafe else tool for tool in tools],
        tool_choice=choice,
        messages=[_renamed_calls(message, unsafe) for message in request.messages] if unsafe else request.messages,
    ), {safe: name for name, safe in unsafe.items()}


def restore(events: list[Event], originals: dict[str, str]) -> list[Event]:
    """`events` with each tool call's upstream name given back as the client's."""
    return [
        replace(event, name=originals[event.name]) if isinstance(event, ToolCallStart) and event.name in originals else event
        for event in events
    ]
