"""Unsafe configuration, refused the way the security review found it could be misused.

An unresolved Key Vault reference is never the client token; a bridge in Azure without a real token (or
ALLOW_OPEN_ACCESS) serves nothing; client auth off is said at start-up; a custom header's value cannot inject
another header.  Secrets that must never show are in test_secrets_never_shown.py, the limits on what one request
may hold in test_limits.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.config.load import load_settings
from tests.support.bridge import MESSAGE, bridge_env, post, running_bridge
from tests.support.fake_azure import FakeAzure

REFERENCE = "@Microsoft.KeyVault(SecretUri=https://kv-abc123.vault.azure.net/secrets/anthropic-auth-token/)"
BODY = {**MESSAGE, "max_tokens": 50}


def test_an_unresolved_key_vault_reference_is_never_the_token(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with running_bridge(
        bridge_env(fake_azure, ANTHROPIC_AUTH_TOKEN=REFERENCE), tmp_path / "bridge.log", in_process=True
    ) as bridge:
        for headers in ({"x-api-key": REFERENCE}, {"x-api-key": ""}):
            response = post(bridge, BODY, headers=headers)
            assert response.status_code == 503, response.text
            assert response.headers["x-should-retry"] == "false"
            assert "ANTHROPIC_AUTH_TOKEN" in response.json()["error"]["message"]
        health = httpx.get(bridge.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "refusing"
        assert any("Key Vault reference" in problem for problem in health.json()["problems"])
        assert fake_azure.requests == [], "nothing is served while the token is unresolved"


@pytest.mark.parametrize(
    ("token", "allow", "serves"),
    [("", "", False), ("short-token", "", False), ("", "true", True), ("a" * 32, "", True)],
    ids=["no-token", "short-token", "opted-out", "long-token"],
)
def test_a_bridge_in_azure_needs_a_real_token(token: str, allow: str, serves: bool) -> None:
    env = {"WEBSITE_SITE_NAME": "func-abc123", "ANTHROPIC_AUTH_TOKEN": token, "ALLOW_OPEN_ACCESS": allow}
    settings = load_settings({**bridge_env_like(), **env})
    assert (settings.lockout is None) == serves, settings.lockout
    if not serves:
        assert "ANTHROPIC_AUTH_TOKEN" in (settings.lockout or "")
    assert load_settings({**bridge_env_like(), "ANTHROPIC_AUTH_TOKEN": ""}).lockout is None, "locally it only warns"


def bridge_env_like() -> dict[str, str]:
    return {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k", "BIG_MODEL": "gpt-5"}


def test_an_open_bridge_in_azure_refuses_every_request(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with running_bridge(
        bridge_env(fake_azure, ANTHROPIC_AUTH_TOKEN="", WEBSITE_SITE_NAME="func-abc123"), tmp_path / "bridge.log", in_process=True
    ) as bridge:
        response = post(bridge, BODY)
        assert response.status_code == 503 and "ALLOW_OPEN_ACCESS" in response.text
        assert httpx.get(bridge.url + "/health").json()["status"] == "refusing"


@pytest.mark.process
def test_client_auth_off_is_said_at_start_up(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with running_bridge(bridge_env(fake_azure, ANTHROPIC_AUTH_TOKEN=""), tmp_path / "bridge.log") as bridge:
        assert "client auth is OFF" in bridge.log()


def test_custom_headers_with_line_breaks_are_configuration_problems() -> None:
    settings = load_settings({**bridge_env_like(), "CUSTOM_HEADER_X_TEAM": "a\r\nX-Evil: 1", "CUSTOM_HEADER_BAD_NAME_(": "v"})
    assert settings.custom_headers == {}
    assert any(p.startswith("CUSTOM_HEADER_X_TEAM ") for p in settings.problems)
    assert any(p.startswith("CUSTOM_HEADER_BAD_NAME_( ") for p in settings.problems)
    assert all("X-Evil" not in problem for problem in settings.problems), "a bad value is named, never echoed"
