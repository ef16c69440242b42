"""Learning, per deployment, which request parameters it refuses, from Azure's own 400s.

Reasoning and non-reasoning deployments accept different parameters whatever
their names (gpt-5 refuses `temperature`, gpt-4o caps output at 16384 tokens,
older API versions do not know `max_completion_tokens`, gpt-5.1 knows no
`minimal` effort).  Rather than guessing from deployment names, the bridge
sends the request as the client asked and, when Azure answers 400 for one
parameter, retries without it (or with the value Azure allows) and remembers
that for the deployment (`knowledge.DeploymentKnowledge`).  The same rules serve
chat/completions and Responses bodies; a dotted `param` (`reasoning.summary`)
names a nested key.

    Azure's 400                                          fix
    ---------------------------------------------------  ------------------------------------
    unsupported_parameter 'max_tokens'                   send max_completion_tokens instead
    Unrecognized request argument: max_completion_tokens send max_tokens instead
    unsupported_value / invalid_value                    step down to the nearest effort the
      'reasoning_effort' / 'reasoning.effort'            deployment accepts (up when none lower)
      ("Supported values are: ...")
    unsupported_parameter 'reasoning.effort'             drop `reasoning` (not a reasoning model)
    "Encrypted content is not supported ..." / 'include' leave reasoning.encrypted_content out of
                                                         `include` (other values stay; an empty
                                                         list is not sent)
    unsupported_parameter / unsupported_value 'X'        drop X (X may be dotted: drop the nested key)
    Unrecognized request argument(s) supplied: X, Y      each as above: drop it, or send max_tokens
                                                         for max_completion_tokens
    "... supports at most N completion tokens ..."       cap the token limit at N
      (or "... N output tokens", max_output_tokens)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.upstreams.failures import ErrorReport

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
        "reasoning",
        "reasoning.summary",
        "include",
        "max_tool_calls",
        "text.verbosity",
    }
)
TOKEN_LIMIT_KEYS = ("max_completion_tokens", "max_tokens")
OUTPUT_TOKENS_KEY = "max_output_tokens"
EFFORT_LADDER = ("none", "minimal", "low", "medium", "high", "xhigh")
"""Reasoning efforts from the lowest up: a refused effort steps to its nearest accepted neighbour."""
EFFORT_PARAMS = ("reasoning_effort", "reasoning.effort")
_UNRECOGNIZED = re.compile(r"Unrecognized request arguments? supplied: (\w+(?:, \w+)*)")
_AT_MOST = re.compile(r"at most (\d+) (?:completion|output) tokens")
_SUPPORTED = re.compile(r"Supported values are:?(.*)", re.DOTALL)
_QUOTED = re.compile(r"'([a-z]+)'")
_ENCRYPTED_UNSUPPORTED = re.compile(r"encrypted content is not supported", re.IGNORECASE)
INCLUDE = "include"


def _get(body: dict[str, Any], path: str) -> Any:
    parent, _, child = path.partition(".")
    value = body.get(parent)
    if not child:
        return value
    return value.get(child) if isinstance(value, dict) else None


def _without(body: dict[str, Any], path: str) -> None:
    """Remove `path` (top-level or one level down) in place; an emptied parent goes too."""
    parent, _, child = path.partition(".")
    if not child:
        body.pop(parent, None)
        return
    nested = body.get(parent)
    if isinstance(nested, dict) and child in nested:
        rest = {key: value for key, value in nested.items() if key != child}
        if rest:
            body[parent] = rest
        else:
            del body[parent]


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    parent, _, child = path.partition(".")
    if child:
        body[parent] = {**body[parent], child: value}
    else:
        body[parent] = value


def step_effort(wanted: str, refused: frozenset[str]) -> str | None:
    """The accepted effort nearest `wanted`: the highest one not above it, else the lowest above it."""
    if wanted not in EFFORT_LADDER:
        return None if wanted in refused else wanted
    at = EFFORT_LADDER.index(wanted)
    below = [effort for effort in reversed(EFFORT_LADDER[: at + 1]) if effort not in refused]
    above = [effort for effort in EFFORT_LADDER[at + 1 :] if effort not in refused]
    nearest = below or above
    return nearest[0] if nearest else None


@dataclass(frozen=True, slots=True)
class Adaptation:
    """What a deployment is known to refuse; applied to every body sent to it."""

    dropped: frozenset[str] = field(default_factory=frozenset)
    token_key: str = "max_completion_tokens"
    token_cap: int | None = None
    refused_efforts: frozenset[str] = field(default_factory=frozenset)
    refused_includes: frozenset[str] = field(default_factory=frozenset)

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        out = dict(body)
        for path in self.dropped:
            _without(out, path)
        if self.refused_includes and isinstance(out.get(INCLUDE), list):
            kept = [value for value in out[INCLUDE] if value not in self.refused_includes]
            if kept:
                out[INCLUDE] = kept
            else:
                del out[INCLUDE]
        limit = next((out.pop(key) for key in TOKEN_LIMIT_KEYS if key in out), None)
        if limit is not None:
            out[self.token_key] = min(limit, self.token_cap) if self.token_cap else limit
        if self.token_cap and isinstance(out.get(OUTPUT_TOKENS_KEY), int):
            out[OUTPUT_TOKENS_KEY] = min(out[OUTPUT_TOKENS_KEY], self.token_cap)
        for path in EFFORT_PARAMS:
            wanted = _get(out, path)
            if isinstance(wanted, str) and wanted in self.refused_efforts:
                stepped = step_effort(wanted, self.refused_efforts)
                if stepped is None:
                    _without(out, path)
                else:
                    _set(out, path, stepped)
        return out


def _refused_efforts(current: Adaptation, message: str, value: Any) -> frozenset[str]:
    supported = _SUPPORTED.search(message)
    allowed = set(_QUOTED.findall(supported.group(1))) if supported else set()
    if allowed:
        return current.refused_efforts | frozenset(effort for effort in EFFORT_LADDER if effort not in allowed)
    return current.refused_efforts | ({value} if isinstance(value, str) else set())


@dataclass(frozen=True, slots=True)
class Lesson:
    """A new adaptation, and what it changes in words (for the log): `temperature 0.2 → (dropped)`."""

    adaptation: Adaptation
    change: str


def _shown(value: Any) -> str:
    return "(unset)" if value is None else repr(value)


def learn(current: Adaptation, report: ErrorReport, sent: dict[str, Any]) -> Lesson | None:
    """The adaptation that fixes Azure's 400 error `report` for the body `sent`, or None when none applies."""
    message = report.message
    unrecognized = _UNRECOGNIZED.search(message)
    if unrecognized and report.param is None:
        adaptation, changes = current, list[str]()
        for name in unrecognized.group(1).split(", "):
            lesson = _lesson(adaptation, sent, name, "unsupported_parameter", message)
            if lesson is not None:
                adaptation, changes = lesson.adaptation, [*changes, lesson.change]
        return Lesson(adaptation, "; ".join(changes)) if changes else None
    if _ENCRYPTED_UNSUPPORTED.search(message) and ENCRYPTED_REASONING in (sent.get(INCLUDE) or ()):
        refused = current.refused_includes | {ENCRYPTED_REASONING}
        return Lesson(replace(current, refused_includes=refused), f"{INCLUDE} {ENCRYPTED_REASONING} → (not sent)")
    return _lesson(current, sent, report.param, report.code, message)


def _lesson(current: Adaptation, sent: dict[str, Any], param: str | None, code: str | None, message: str) -> Lesson | None:
    """The adaptation for Azure refusing parameter `param` (with `code`) of `sent`."""
    if param in TOKEN_LIMIT_KEYS or param == OUTPUT_TOKENS_KEY:
        cap = _AT_MOST.search(message)
        if cap and (current.token_cap is None or int(cap.group(1)) < current.token_cap):
            limit = int(cap.group(1))
            return Lesson(replace(current, token_cap=limit), f"{param} {_shown(sent.get(param))} → {limit} (the model's maximum)")
        if code == "unsupported_parameter" and param == current.token_key:
            other = TOKEN_LIMIT_KEYS[1] if param == TOKEN_LIMIT_KEYS[0] else TOKEN_LIMIT_KEYS[0]
            return Lesson(replace(current, token_key=other), f"{param} → {other} (same value)")
        return None
    if param in EFFORT_PARAMS and code in ("unsupported_value", "invalid_value"):
        wanted = _get(sent, param)
        refused = _refused_efforts(current, message, wanted)
        if refused == current.refused_efforts:
            return None
        stepped = step_effort(wanted, refused) if isinstance(wanted, str) else None
        return Lesson(replace(current, refused_efforts=refused), f"{param} {_shown(wanted)} → {_shown(stepped)}")
    if param == "reasoning.effort" and code == "unsupported_parameter":
        param = "reasoning"
    if code in ("unsupported_parameter", "unsupported_value") and param in DROPPABLE and _get(sent, param) is not None:
        return Lesson(replace(current, dropped=current.dropped | {param}), f"{param} {_shown(_get(sent, param))} → (not sent)")
    return None


ENCRYPTED_REASONING = "reasoning.encrypted_content"
