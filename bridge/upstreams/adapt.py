"""Learning, per deployment, which request parameters it refuses, from Azure's own 400s.

Reasoning and non-reasoning deployments accept different parameters whatever
their names (gpt-5 refuses `temperature`, gpt-4o caps output at 16384 tokens,
older API versions do not know `max_completion_tokens`).  Rather than guessing
from deployment names, the bridge sends the request as the client asked and,
when Azure answers 400 for one parameter, retries without it (or with the value
Azure allows) and remembers that for the deployment.

    Azure's 400                                          fix
    ---------------------------------------------------  ------------------------------------
    unsupported_parameter 'max_tokens'                   send max_completion_tokens instead
    Unrecognized request argument: max_completion_tokens send max_tokens instead
    unsupported_parameter / unsupported_value 'X'        drop X
    Unrecognized request argument supplied: X            drop X
    "... supports at most N completion tokens ..."       cap the token limit at N
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

DROPPABLE = frozenset(
    {
        "temperature",
        "top_p",
        "user",
        "parallel_tool_calls",
        "stream_options",
        "tool_choice",
        "reasoning_effort",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "seed",
        "prompt_cache_key",
        "safety_identifier",
        "verbosity",
        "response_format",
    }
)
TOKEN_LIMIT_KEYS = ("max_completion_tokens", "max_tokens")
_UNRECOGNIZED = re.compile(r"Unrecognized request argument supplied: (\w+)")
_AT_MOST = re.compile(r"at most (\d+) (?:completion|output) tokens")


@dataclass(frozen=True, slots=True)
class Adaptation:
    """What a deployment is known to refuse; applied to every body sent to it."""

    dropped: frozenset[str] = field(default_factory=frozenset)
    token_key: str = "max_completion_tokens"
    token_cap: int | None = None

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in body.items() if key not in self.dropped}
        limit = next((out.pop(key) for key in TOKEN_LIMIT_KEYS if key in out), None)
        if limit is not None:
            out[self.token_key] = min(limit, self.token_cap) if self.token_cap else limit
        return out


def learn(current: Adaptation, error: Any, sent: dict[str, Any]) -> Adaptation | None:
    """The adaptation that fixes `error` for the body `sent`, or None when none applies."""
    if not isinstance(error, dict):
        return None
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    param = error.get("param") if isinstance(error.get("param"), str) else None
    code = error.get("code")
    unrecognized = _UNRECOGNIZED.search(message)
    if unrecognized and param is None:
        param, code = unrecognized.group(1), "unsupported_parameter"
    if param in TOKEN_LIMIT_KEYS:
        cap = _AT_MOST.search(message)
        if cap and (current.token_cap is None or int(cap.group(1)) < current.token_cap):
            return replace(current, token_cap=int(cap.group(1)))
        if code == "unsupported_parameter" and param == current.token_key:
            other = TOKEN_LIMIT_KEYS[1] if param == TOKEN_LIMIT_KEYS[0] else TOKEN_LIMIT_KEYS[0]
            return replace(current, token_key=other)
        return None
    if code in ("unsupported_parameter", "unsupported_value") and param in DROPPABLE and param in sent:
        return replace(current, dropped=current.dropped | {param})
    return None


class AdaptationMemory:
    """Per-process memory of adaptations, keyed by upstream URL and deployment."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Adaptation] = {}

    def get(self, upstream: str, deployment: str) -> Adaptation:
        return self._known.get((upstream, deployment), Adaptation())

    def remember(self, upstream: str, deployment: str, adaptation: Adaptation) -> None:
        self._known[(upstream, deployment)] = adaptation
