"""Claude Code's `/login` through the bridge, over HTTP as the CLI and a browser use it (CLIENT_AUTH=entra).

A bridge (`python -m bridge`) in front of the fake Azure signs people in against the Entra ID stand-in
(tests/support/fake_entra.py: /authorize approves at once, /token redeems codes with PKCE and refreshes);
the discovery document is compared field by field with the one Anthropic's gateway served
(../shared/claude-gateway-protocol/2.1.332/oauth-authorization-server.json).  The attacks are in
tests/test_login_attacks.py; the real CLI signing in is tests/test_claude_code_login.py.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.bridge import RunningBridge, bridge_env, line_of, running_bridge
from tests.support.fake_azure import FakeAzure, Text
from tests.support.fake_entra import FakeEntra, User, new_user
from tests.support.login_browser import approve
from tests.support.paths import ROOT

PROTOCOL = ROOT.parent / "shared" / "claude-gateway-protocol" / "2.1.332"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLI_HEADERS = {"User-Agent": "claude-code/2.1.332"}


@pytest.fixture(scope="module")
def login_bridge(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, **entra.login_settings(), ENTRA_REQUIRED_ROLE="Bridge.User")
    with running_bridge(env, tmp_path_factory.mktemp("login-bridge") / "bridge.log", in_process=True) as running:
        entra.redirect_uris.add(running.url + "/oauth/callback")
        yield running


def an_address() -> str:
    """A client address of its own (X-Forwarded-For), so one test's attempts never meet another's limits."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def start(bridge: RunningBridge, **form: str) -> dict[str, Any]:
    headers = {**CLI_HEADERS, "X-Forwarded-For": an_address()}
    answer = httpx.post(bridge.url + "/oauth/device_authorization", data={"surface": "claude_code", **form}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def poll(bridge: RunningBridge, device_code: str) -> httpx.Response:
    return httpx.post(
        bridge.url + "/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code}, headers=CLI_HEADERS
    )


def sign_in(bridge: RunningBridge, entra: FakeEntra, user: User) -> dict[str, Any]:
    """The whole device flow for `user`: the tokens the client gets."""
    entra.signing_in = user
    grant = start(bridge)
    page = approve(grant["verification_uri_complete"], headers={"X-Forwarded-For": an_address()})
    assert page.status_code == 200 and "signed in" in page.text, page.text
    answer = poll(bridge, grant["device_code"])
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def ask(bridge: RunningBridge, token: str) -> httpx.Response:
    return httpx.post(
        bridge.url + "/v1/messages",
        json={"model": "claude-opus-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {token}", "anthropic-version": "2023-06-01"},
        timeout=30,
    )


def test_discovery_has_what_the_client_reads_on_the_bridges_origin(login_bridge: RunningBridge) -> None:
    answer = httpx.get(login_bridge.url + "/.well-known/oauth-authorization-server", headers=CLI_HEADERS)
    assert answer.status_code == 200
    served = answer.json()
    base = login_bridge.url
    assert served["issuer"] == base
    assert served["device_authorization_endpoint"] == base + "/oauth/device_authorization"
    assert served["token_endpoint"] == base + "/oauth/token"
    assert served["revocation_endpoint"] == base + "/oauth/revoke"
    assert served["gateway_protocol_version"] == 1
    assert "authorization_endpoint" not in served, "the protocol leaves it out on purpose"
    if not (PROTOCOL / "oauth-authorization-server.json").exists():
        pytest.skip(f"the recorded discovery document is not beside the checkout ({PROTOCOL})")
    recorded = json.loads((PROTOCOL / "oauth-authorization-server.json").read_text())
    for field in ("grant_types_supported", "response_types_supported", "token_endpoint_auth_methods_supported"):
        assert served[field] == recorded[field], field
    for field, value in recorded.items():
        if isinstance(value, str) and value.startswith("http"):
            assert served[field].removeprefix(base) == value.removeprefix(recorded["issuer"]), field


def test_device_authorization_as_rfc_8628_and_the_protocol_ask(login_bridge: RunningBridge) -> None:
    grant = start(login_bridge, client_id="ignored", scope="ignored too", something_new="1")
    assert set(grant) == {"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"}
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", grant["user_code"])
    secret = grant["device_code"].split(".", 1)[1]
    assert len(secret) >= 43, "256 bits of base64url"
    assert grant["verification_uri"] == login_bridge.url + "/device"
    assert grant["verification_uri_complete"] == f"{login_bridge.url}/device?user_code={grant['user_code']}"
    assert (grant["expires_in"], grant["interval"]) == (600, 5)
    pending = poll(login_bridge, grant["device_code"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    assert poll(login_bridge, grant["device_code"]).json()["error"] == "slow_down", "polled again at once"


def test_the_verification_page_shows_the_code_and_never_submits_itself(login_bridge: RunningBridge) -> None:
    grant = start(login_bridge)
    page = httpx.get(grant["verification_uri_complete"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert grant["user_code"] in page.text and "<script" not in page.text.lower()
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    typed = httpx.get(login_bridge.url + "/device")
    assert typed.status_code == 200 and 'name="user_code"' in typed.text


def test_a_person_signs_in_and_the_bearer_works_on_messages(
    login_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    person = new_user("Bridge.User")
    tokens = sign_in(login_bridge, entra, person)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["email"] == person.username, "the client asks the person to confirm the account"
    assert tokens["refresh_token"].startswith("cabr_")
    fake_azure.enqueue(Text("pong"))
    answer = ask(login_bridge, tokens["access_token"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"] == "pong"
    line = line_of(login_bridge, answer.headers["request-id"])
    assert (line["user_id"], line["user_name"], line["auth"]) == (person.object_id, person.username, "login")
    usage = httpx.get(login_bridge.url + "/v1/usage", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert usage.status_code == 200 and usage.json()["user"]["id"] == person.object_id
    assert entra.token_requests[-1]["client_secret"] == entra.client_secret, "client_secret_post"
    assert entra.token_requests[-1]["grant_type"] == "authorization_code" and entra.token_requests[-1]["code_verifier"]


def test_refresh_goes_through_entra_and_rotates_the_refresh_token(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    person = new_user("Bridge.User")
    tokens = sign_in(login_bridge, entra, person)
    before = len(entra.token_requests)
    refreshed = httpx.post(
        login_bridge.url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["refresh_token"] != tokens["refresh_token"] and body["access_token"] != tokens["access_token"]
    assert entra.token_requests[before]["grant_type"] == "refresh_token", "Entra ID was asked"
    assert ask(login_bridge, body["access_token"]).status_code != 401


def test_sign_out_revokes_the_bearer_and_the_refresh_token(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    tokens = sign_in(login_bridge, entra, new_user("Bridge.User"))
    for token, hint in ((tokens["access_token"], {}), (tokens["refresh_token"], {"token_type_hint": "refresh_token"})):
        revoked = httpx.post(login_bridge.url + "/oauth/revoke", data={"token": token, **hint}, headers=CLI_HEADERS)
        assert revoked.status_code == 200
    answer = ask(login_bridge, tokens["access_token"])
    assert answer.status_code == 401 and answer.headers["x-should-retry"] == "false"
    assert answer.json()["error"]["type"] == "authentication_error"
    again = httpx.post(
        login_bridge.url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert (again.status_code, again.json()["error"]) == (401, "invalid_grant")
    assert httpx.post(login_bridge.url + "/oauth/revoke", data={"token": "not a token"}).status_code == 200


def test_the_deny_button_stops_the_client(login_bridge: RunningBridge) -> None:
    grant = start(login_bridge)
    origin = {"Origin": login_bridge.url, "Sec-Fetch-Site": "same-origin"}
    denied = httpx.post(login_bridge.url + "/device/deny", data={"user_code": grant["user_code"]}, headers=origin)
    assert denied.status_code == 200 and "denied" in denied.text
    assert poll(login_bridge, grant["device_code"]).json()["error"] == "access_denied"


def test_the_person_declining_at_entra_is_said_on_the_page(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    grant = start(login_bridge)
    entra.deny_next = True
    page = approve(grant["verification_uri_complete"])
    assert page.status_code == 400 and "did not sign you in" in page.text
