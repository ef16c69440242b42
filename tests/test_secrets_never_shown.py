"""Secrets never shown: credentials in an endpoint's URL, and key-like strings in an upstream's error message.

Each is probed where it could leak: `GET /health`, the client's answer, and the bridge's log (start-up text
included: the bridge runs as `python -m bridge`).  Tokens of a managed identity are in test_identity.py, the
request log's own guarantees in test_logs.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.bridge import MESSAGE, RunningBridge, bridge_env, post, running_bridge
from tests.support.fake_azure import Error, FakeAzure

BODY = {**MESSAGE, "max_tokens": 50}


@pytest.mark.process
def test_credentials_in_an_endpoint_url_are_refused_and_never_shown(fake_azure: FakeAzure, tmp_path: Path) -> None:
    secret = "hunter2-secret-in-url"
    env = bridge_env(fake_azure, AZURE_OPENAI_ENDPOINT=f"https://user:{secret}@example.openai.azure.com")
    with running_bridge(env, tmp_path / "bridge.log") as bridge:
        health = httpx.get(bridge.url + "/health")
        response = post(bridge, BODY)
        assert any("AZURE_OPENAI_ENDPOINT" in problem for problem in health.json()["problems"])
        for text in (health.text, response.text, bridge.log()):
            assert secret not in text


def test_key_like_strings_in_upstream_errors_are_redacted(fake_azure: FakeAzure, bridge: RunningBridge) -> None:
    key = "0123456789abcdef0123456789abcdef"
    fake_azure.enqueue(Error(400, {"error": {"message": f"Bad request with key {key} here", "code": "bad"}}))
    response = post(bridge, BODY)
    assert response.status_code == 400
    assert key not in response.text and "[redacted]" in response.text
