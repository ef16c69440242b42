"""Upstream errors made helpful, and the waits Azure asks for."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import pytest

from bridge.model import Target
from bridge.upstreams.failures import ErrorReport, client_error
from bridge.upstreams.transport import backoff, requested_wait
from tests.support.fake_azure import load_transcript, recorded_dir


def test_the_wait_azure_asks_for_and_the_backoff_without_one() -> None:
    assert requested_wait(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert requested_wait(httpx.Headers({"retry-after": "3"})) == 3.0
    future = email.utils.formatdate(time.time() + 5, usegmt=True)
    wait = requested_wait(httpx.Headers({"retry-after": future}))
    assert wait is not None and 3 <= wait <= 6
    assert requested_wait(httpx.Headers({"x-ratelimit-reset-tokens": "30"})) is None
    assert all(0 <= backoff(4, 0.5) <= 4 for _ in range(50))


def upstream_error(status: int, payload: bytes, headers: dict[str, str], target: Target, keyed: bool) -> Any:
    return client_error(ErrorReport.from_body(status, payload, headers), target, keyed)


def test_upstream_errors_are_made_helpful() -> None:
    route = Target("gpt-5", "BIG_MODEL")
    not_found = upstream_error(404, b'{"error":{"code":"DeploymentNotFound","message":"nope"}}', {}, route, True)
    assert not_found.kind == "not_found_error" and "BIG_MODEL" in not_found.message and "'gpt-5'" in not_found.message
    context = upstream_error(
        400,
        json.dumps(
            {
                "error": {
                    "code": "context_length_exceeded",
                    "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
                }
            }
        ).encode(),
        {},
        route,
        True,
    )
    assert context.message == "prompt is too long: 130512 tokens > 128000 maximum"
    assert "API_KEY" in upstream_error(401, b'{"error":{"code":"401","message":"Access denied"}}', {}, route, True).message
    forbidden = upstream_error(403, b'{"error":{"code":"Forbidden","message":"no"}}', {}, route, False)
    assert forbidden.status == 500 and forbidden.headers == {"x-should-retry": "false"}
    assert "Cognitive Services OpenAI User" in forbidden.message
    limited = upstream_error(429, b'{"error":{"code":"429","message":"slow down"}}', {"retry-after": "7"}, route, True)
    assert (limited.kind, limited.status, limited.headers) == ("rate_limit_error", 429, {"retry-after": "7"})
    assert upstream_error(503, b"Service Unavailable", {}, route, True).status == 529


@pytest.mark.skipif(recorded_dir() is None, reason="../shared/wire-corpus not present (a user's clone)")
def test_recorded_content_filter_error_names_the_filter() -> None:
    error = upstream_error(400, load_transcript("azure-error-400-content_filter-1.json"), {}, Target("gpt-4o", "BIG_MODEL"), True)
    assert error.kind == "invalid_request_error"
    assert "content filter" in error.message and "self_harm (medium)" in error.message
