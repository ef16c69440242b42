"""Fuzzing the Anthropic routes: whatever JSON arrives, the bridge answers like Anthropic, never with a 5xx.

Two sources: random JSON values (shaped a little like requests, so the
deeper validators are reached too), and mutations of the requests Claude Code
2.1.197 really sent (`../shared/claude-code-traffic`; skipped when absent): a key
dropped, a value's type changed or replaced by random JSON, a list truncated,
a value nested deep, a huge string.  Every answer is a 2xx (a well-formed stream
when streamed) or a 4xx with the Anthropic error shape; the bridge's log never
gains a Python traceback.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, RunningBridge
from tests.support.paths import ROOT
from tests.support.strategies import examples

pytestmark = pytest.mark.slow  # fuzzing over HTTP

HEADERS = {"x-api-key": CLIENT_TOKEN, "content-type": "application/json"}
PATHS = ["/v1/messages", "/v1/messages/count_tokens"]
TRAFFIC = ROOT.parent / "shared" / "claude-code-traffic" / "2.1.197"
MISSING = "../shared/claude-code-traffic not present (a user's clone): fuzzing of captured requests skipped"
FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
REQUEST_KEYS = [
    "model", "max_tokens", "messages", "system", "stream", "tools", "tool_choice", "temperature", "top_p", "top_k",
    "stop_sequences", "metadata", "thinking", "output_config", "context_management",
]  # fmt: skip
BLOCK_KEYS = [
    "type",
    "text",
    "content",
    "id",
    "name",
    "input",
    "tool_use_id",
    "source",
    "thinking",
    "signature",
    "cache_control",
    "is_error",
]
BLOCK_TYPES = ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking", "document", "server_tool_use"]

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["", "user", "assistant", "system", "claude-opus-4-8", "claude-haiku-4-5", "gpt-5", "auto", "any", "tool", "base64"]
    )
    | st.sampled_from(BLOCK_TYPES)
)
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(REQUEST_KEYS + BLOCK_KEYS + ["role"]) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)
BLOCK = st.dictionaries(st.sampled_from(BLOCK_KEYS), JSON, max_size=5) | st.fixed_dictionaries(
    {"type": st.sampled_from(BLOCK_TYPES)}, optional=dict.fromkeys(BLOCK_KEYS[1:], JSON)
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["user", "assistant", "system"]) | JSON,
        "content": st.text(max_size=20) | st.lists(BLOCK, max_size=3) | JSON,
    },
)
REQUEST_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]) | JSON,
        "max_tokens": st.integers(-5, 200_000) | JSON,
        "messages": st.lists(MESSAGE, max_size=4) | JSON,
        "stream": st.booleans() | JSON,
        **dict.fromkeys(REQUEST_KEYS[4:], JSON),
    },
)


@pytest.fixture
def log_start(bridge: RunningBridge) -> int:
    return len(bridge.log())


def check_answer(response: httpx.Response, sent: Any) -> None:
    """2xx and well formed, or a 4xx in Anthropic's error shape; never a 5xx or a trace."""
    where = f"request {json.dumps(sent, default=str)[:300]}"
    assert response.status_code < 500, f"{response.status_code} for {where}: {response.text[:500]}"
    assert "Traceback" not in response.text, where
    if response.status_code >= 400:
        body = response.json()
        assert body["type"] == "error", (where, body)
        assert (
            isinstance(body["error"]["type"], str) and isinstance(body["error"]["message"], str) and body["error"]["message"]
        ), body
        assert body.get("request_id") == response.headers.get("request-id"), body
        return
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = parse_sse(response.content)
        check_grammar(events, allow_error=True)
        if events[-1][0] == "error":
            assert events[-1][1]["error"]["type"] != "api_error", (where, events[-1])
    else:
        assert isinstance(response.json(), dict)


def check_log(bridge: RunningBridge, start: int) -> None:
    added = bridge.log()[start:]
    assert "Traceback" not in added, added[added.index("Traceback") - 300 :][:3000]


@pytest.mark.parametrize("role", [[], {}, ["user"]], ids=["list", "object", "list-of-role"])
@pytest.mark.parametrize("path", PATHS)
def test_a_non_string_role_is_a_400(bridge: RunningBridge, log_start: int, role: Any, path: str) -> None:
    body = {
        "model": "claude-opus-4-8",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}, {"role": role, "content": "x"}],
    }
    response = send(bridge, path, body)
    check_answer(response, body)
    assert response.status_code == 400 and "messages.1.role" in response.json()["error"]["message"], response.text
    check_log(bridge, log_start)


def send(bridge: RunningBridge, path: str, body: Any) -> httpx.Response:
    content = json.dumps(body, allow_nan=True).encode()
    return httpx.post(bridge.url + path, content=content, headers=HEADERS, timeout=30)


@FUZZ
@pytest.mark.usefixtures("fake_azure")
@given(body=JSON | REQUEST_LIKE, path=st.sampled_from(PATHS))
def test_random_json_never_breaks_the_bridge(bridge: RunningBridge, log_start: int, body: Any, path: str) -> None:
    check_answer(send(bridge, path, body), body)
    check_log(bridge, log_start)


def _captured_bodies() -> list[dict[str, Any]]:
    if not TRAFFIC.is_dir():
        return []
    bodies = []
    for path in sorted(TRAFFIC.glob("*.json")):
        captured = json.loads(path.read_text())
        if isinstance(captured.get("body"), dict) and captured["method"] == "POST":
            bodies.append(captured["body"])
    return bodies


CAPTURED = _captured_bodies()


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return list(range(len(value)))
    return []


def _changed_type(value: Any) -> Any:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return {}


@st.composite
def mutated_capture(draw: st.DrawFn) -> dict[str, Any]:
    """A captured Claude Code request with one to three mutations at random depths."""
    body = copy.deepcopy(draw(st.sampled_from(CAPTURED)))
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = body
        key: Any = draw(st.sampled_from(_children(body)))
        for _ in range(draw(st.integers(0, 6))):  # walk down a random path
            below = _children(parent[key])
            if not below:
                break
            parent, key = parent[key], draw(st.sampled_from(below))
        operation = draw(st.sampled_from(["drop", "retype", "replace", "truncate", "nest", "huge", "duplicate", "null"]))
        value = parent[key]
        if operation == "drop":
            del parent[key]
        elif operation == "retype":
            parent[key] = _changed_type(value)
        elif operation == "replace":
            parent[key] = draw(JSON)
        elif operation == "truncate" and isinstance(value, list | str):
            parent[key] = value[: draw(st.integers(0, max(len(value) - 1, 0)))]
        elif operation == "nest":
            for _ in range(draw(st.integers(10, 300))):
                value = [value] if draw(st.booleans()) else {"x": value}
            parent[key] = value
        elif operation == "huge":
            parent[key] = draw(st.sampled_from(["x", "é", "\u2028", "😀", "\x00", "{", "<|endoftext|>"])) * draw(
                st.integers(10_000, 300_000)
            )
        elif operation == "duplicate" and isinstance(value, list) and value:
            parent[key] = value * draw(st.integers(2, 30))
        elif operation == "null":
            parent[key] = None
        if not isinstance(body, dict) or not body:
            break
    return body


@pytest.mark.skipif(not CAPTURED, reason=MISSING)
@FUZZ
@pytest.mark.usefixtures("fake_azure")
@given(body=mutated_capture(), path=st.sampled_from(PATHS))
def test_mutated_claude_code_requests_never_break_the_bridge(bridge: RunningBridge, log_start: int, body: Any, path: str) -> None:
    check_answer(send(bridge, path, body), body)
    check_log(bridge, log_start)
