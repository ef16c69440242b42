"""Which client sent a request, from its headers: a small fixed set, fit for a metric dimension.

client        recognised by
claude-code   User-Agent `claude-cli/...` or `claude-code/...`, or `x-app: cli` (Claude Code, recorded
              2.1.197 and 2.1.332: `claude-cli/2.1.332 (external, sdk-cli)`)
cursor        a User-Agent that names Cursor
sdk           the Anthropic and OpenAI SDKs (`x-stainless-lang`, which their generated clients send;
              User-Agent `Anthropic/...` or `OpenAI/...`)
other         anything else (curl, a script, a browser page)
"""

from __future__ import annotations

from collections.abc import Mapping

CLAUDE_CODE_AGENTS = ("claude-cli/", "claude-code/")
SDK_AGENTS = ("anthropic/", "openai/")


def client_of(headers: Mapping[str, str]) -> str:
    agent = headers.get("user-agent", "").lower()
    if agent.startswith(CLAUDE_CODE_AGENTS) or headers.get("x-app") == "cli":
        return "claude-code"
    if "cursor" in agent:
        return "cursor"
    if agent.startswith(SDK_AGENTS) or "x-stainless-lang" in headers:
        return "sdk"
    return "other"
