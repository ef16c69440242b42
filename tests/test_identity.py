"""Microsoft Entra ID: the bridge with no API key gets tokens from the managed identity endpoint.

Each test starts a bridge with AZURE_OPENAI_API_KEY empty and IDENTITY_ENDPOINT /
IDENTITY_HEADER pointing at `FakeIdentity` (what the Functions platform sets),
so azure-identity's `DefaultAzureCredential` finds the managed identity.  HOME
is a fresh folder, so no `az login` or token cache of the machine interferes.
Credentials never show: no token, identity secret or key in a response or the log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, HEADERS, MESSAGE, RunningBridge, bridge_env, post, running_bridge
from tests.support.fake_azure import Error, FakeAzure
from tests.support.fake_identity import API_VERSION, FakeIdentity
from tests.support.serving import free_port, running

pytestmark = pytest.mark.process
STATUS = {"authentication_error": 401, "permission_error": 403, "api_error": 500}
RESOURCE = "https://cognitiveservices.azure.com"
PERMISSION_DENIED = {
    "error": {
        "code": "PermissionDenied",
        "message": "The principal `5f3c0000-0000-0000-0000-000000000000` lacks the required data action "
        "`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform "
        "`POST /openai/deployments/{deployment-id}/chat/completions` operation.",
    }
}


def entra_env(fake: FakeAzure, home: Path, identity_env: dict[str, str], **overrides: str) -> dict[str, str]:
    return bridge_env(
        fake, **{"AZURE_OPENAI_API_KEY": "", "HOME": str(home), "REQUEST_TIMEOUT": "10", **identity_env, **overrides}
    )


@contextmanager
def entra_bridge(fake: FakeAzure, tmp_path: Path, identity: FakeIdentity, **overrides: str) -> Iterator[RunningBridge]:
    with (
        running(identity),
        running_bridge(entra_env(fake, tmp_path, identity.env(), **overrides), tmp_path / "bridge.log") as bridge,
    ):
        yield bridge


def assert_error(response: httpx.Response, status: int, kind: str, *fragments: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind, body
    message = str(body["error"]["message"])
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_stream_refused(response: httpx.Response, kind: str) -> None:
    """A streamed request that fails before any text: an HTTP error, or (once heartbeats start the stream
    early) a 200 stream whose only content is one final `error` event of that kind."""
    if response.status_code != 200:
        assert_error(response, STATUS[kind], kind)
        return
    events = parse_sse(response.content)
    check_grammar(events, allow_error=True)
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == kind, events[-1]
    assert {name for name, _ in events} <= {"message_start", "ping", "error"}, events


def assert_never_shown(secrets: list[str], bridge: RunningBridge, *responses: httpx.Response) -> None:
    """No credential in any response (body or headers) nor anywhere in the bridge's log."""
    log = bridge.log()
    for secret in secrets:
        assert secret, "an empty secret proves nothing"
        assert secret not in log, f"a credential ({secret[:12]}…) is in the bridge log"
        for response in responses:
            assert secret not in response.text and secret not in str(response.headers), (
                f"a credential ({secret[:12]}…) reached the client"
            )


def test_requests_carry_the_managed_identity_token(fake_azure: FakeAzure, tmp_path: Path) -> None:
    identity = FakeIdentity(fake_azure)
    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        responses = [post(bridge, stream=stream) for stream in (False, True, False)]
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
        [token] = identity.issued
        for sent in fake_azure.requests:
            assert sent.headers.get("authorization") == f"Bearer {token}"
            assert "api-key" not in sent.headers
        [asked] = identity.requests
        assert asked.query == {"api-version": API_VERSION, "resource": RESOURCE}
        assert asked.headers.get("x-identity-header") == identity.secret
        assert_never_shown([token, identity.secret], bridge, *responses)


def test_the_token_is_fetched_once_for_many_requests(fake_azure: FakeAzure, tmp_path: Path) -> None:
    """Eight requests at once on a cold bridge share one token fetch; later ones reuse it."""
    identity = FakeIdentity(fake_azure, delay=0.3)

    async def burst(url: str, count: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            return list(
                await asyncio.gather(*[http.post(url + "/v1/messages", json=MESSAGE, headers=HEADERS) for _ in range(count)])
            )

    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        responses = asyncio.run(burst(bridge.url, 8)) + [post(bridge) for _ in range(4)]
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
        assert len(identity.requests) == 1, f"{len(identity.requests)} token fetches for {len(responses)} requests"
        assert {sent.headers.get("authorization") for sent in fake_azure.requests} == {f"Bearer {identity.issued[0]}"}


@pytest.mark.slow
def test_an_expired_token_is_replaced(fake_azure: FakeAzure, tmp_path: Path) -> None:
    identity = FakeIdentity(fake_azure, lifetime=2)
    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        first = post(bridge)
        assert first.status_code == 200, first.text
        [old] = identity.issued
        expires_on = int(identity.requests[0].at + 2)
        time.sleep(max(expires_on - time.time(), 0) + 1.1)
        identity.expire(old)  # Azure no longer accepts it
        second = post(bridge, stream=True)
        assert second.status_code == 200, second.text
        assert "event: error" not in second.text, second.text[-500:]
        assert len(identity.issued) == 2, "the expired token was not refreshed"
        new = identity.issued[1]
        assert fake_azure.requests[-1].headers["authorization"] == f"Bearer {new}"
        assert_never_shown([old, new, identity.secret], bridge, first, second)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_token_azure_refuses_is_forgotten_and_replaced_at_once(fake_azure: FakeAzure, tmp_path: Path, stream: bool) -> None:
    identity = FakeIdentity(fake_azure)
    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        assert post(bridge).status_code == 200
        [old] = identity.issued
        identity.expire(old)  # revoked long before its expires_on: the bridge still holds it as fresh
        again = post(bridge, stream=stream)
        assert again.status_code == 200, again.text
        assert "event: error" not in again.text, again.text[-500:]
        assert len(identity.issued) == 2, "the refused token was not replaced"
        assert [sent.headers["authorization"] for sent in fake_azure.requests[-2:]] == [
            f"Bearer {old}",
            f"Bearer {identity.issued[1]}",
        ]


def test_no_credential_at_all_is_the_bridges_configuration(fake_azure: FakeAzure, tmp_path: Path) -> None:
    """No key, no managed identity, no `az login`: a 500 not to retry, naming what to set (not a 401 blaming the client)."""
    env = entra_env(fake_azure, tmp_path, {"PATH": "/usr/bin:/bin", "AZURE_CLIENT_ID": ""})
    with running_bridge(env, tmp_path / "bridge.log") as bridge:
        response = post(bridge)
        assert_error(response, 500, "api_error", "AZURE_OPENAI_API_KEY", "az login", "managed identity")
        assert response.headers["x-should-retry"] == "false"
        assert fake_azure.requests == []


@pytest.mark.slow
def test_identity_endpoint_down_is_a_passing_outage(fake_azure: FakeAzure, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/msi/token"
    secret = "identity-header-never-shown-0123456789"
    env = entra_env(fake_azure, tmp_path, {"IDENTITY_ENDPOINT": dead, "IDENTITY_HEADER": secret})
    with running_bridge(env, tmp_path / "bridge.log") as bridge:
        started = time.monotonic()
        response = post(bridge)
        elapsed = time.monotonic() - started
        assert_error(response, 503, "api_error", "Entra ID", "managed identity")
        assert "x-should-retry" not in response.headers, "an outage passes: the client may retry"
        assert "Traceback" not in response.text
        assert elapsed < 15, f"the client waited {elapsed:.1f}s for the verdict"
        assert fake_azure.requests == [], "nothing may be sent to Azure without a credential"
        assert_never_shown([secret], bridge, response)


def test_identity_endpoint_refusing_is_the_bridges_configuration(fake_azure: FakeAzure, tmp_path: Path) -> None:
    """The endpoint answers, but refuses the request (wrong IDENTITY_HEADER): a 500 not to retry, nothing sent to Azure."""
    identity = FakeIdentity(fake_azure)
    with running(identity):
        wrong = "identity-header-wrong-0123456789abcdef"
        env = entra_env(fake_azure, tmp_path, {"IDENTITY_ENDPOINT": identity.endpoint, "IDENTITY_HEADER": wrong})
        with running_bridge(env, tmp_path / "bridge.log") as bridge:
            response = post(bridge)
            assert_error(response, 500, "api_error", "Entra ID")
            assert response.headers["x-should-retry"] == "false"
            streamed = post(bridge, stream=True)
            assert_stream_refused(streamed, "api_error")
            assert identity.issued == [] and fake_azure.requests == []
            assert_never_shown([wrong, identity.secret], bridge, response, streamed)


def test_a_hanging_identity_endpoint_respects_the_request_timeout(fake_azure: FakeAzure, tmp_path: Path) -> None:
    identity = FakeIdentity(fake_azure, delay=6)
    with entra_bridge(fake_azure, tmp_path, identity, REQUEST_TIMEOUT="1") as bridge:
        started = time.monotonic()
        try:
            response = httpx.post(bridge.url + "/v1/messages", json=MESSAGE, headers=HEADERS, timeout=4)
        except httpx.ReadTimeout:
            pytest.fail("no answer 4 s into a request with REQUEST_TIMEOUT=1")
        elapsed = time.monotonic() - started
        assert elapsed < 3, f"answered after {elapsed:.1f}s with REQUEST_TIMEOUT=1"
        assert response.status_code in (503, 504), response.text
        assert response.json()["error"]["type"] in ("api_error", "timeout_error")


def test_403_with_entra_names_the_role(fake_azure: FakeAzure, tmp_path: Path) -> None:
    identity = FakeIdentity(fake_azure)
    fake_azure.enqueue(Error(403, PERMISSION_DENIED))
    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        response = post(bridge)
        assert_error(response, 500, "api_error", "Cognitive Services OpenAI User")
        assert response.headers["x-should-retry"] == "false", "the bridge's configuration, not the client's token"
        assert len(fake_azure.requests) == 1, "a 403 is not retried"
        assert_never_shown([*identity.issued, identity.secret], bridge, response)


def test_401_with_entra_blames_the_token_not_a_key(fake_azure: FakeAzure, tmp_path: Path) -> None:
    identity = FakeIdentity(fake_azure, register=False)  # Azure does not accept the tokens (wrong tenant)
    with entra_bridge(fake_azure, tmp_path, identity) as bridge:
        response = post(bridge)
        message = assert_error(response, 500, "api_error", "Entra ID")
        assert "AZURE_OPENAI_API_KEY" not in message, message
        streamed = post(bridge, stream=True)
        assert_error(streamed, 500, "api_error", "Entra ID")
        assert len(identity.requests) <= 4, "a refused token costs one more sign-in a request, not a loop"
        assert_never_shown([*identity.issued, identity.secret], bridge, response, streamed)


def test_401_with_a_key_names_the_key_setting(fake_azure: FakeAzure, tmp_path: Path) -> None:
    wrong_key = "wrong-azure-key-" + "7f" * 16
    with running_bridge(
        bridge_env(fake_azure, AZURE_OPENAI_API_KEY=wrong_key, REQUEST_TIMEOUT="10"), tmp_path / "bridge.log"
    ) as running:
        responses = [post(running), post(running, stream=True)]
        for response in responses:
            assert_error(response, 500, "api_error", "AZURE_OPENAI_API_KEY")
            assert response.headers["x-should-retry"] == "false"
        assert fake_azure.requests[0].headers["api-key"] == wrong_key
        assert len(fake_azure.requests) == 2, "a 401 is not retried"
        assert_never_shown([wrong_key, CLIENT_TOKEN], running, *responses)


def test_the_right_key_never_shows_either(fake_azure: FakeAzure, tmp_path: Path) -> None:
    fake_azure.enqueue(
        Error(500, {"error": {"message": "boom"}}),
        Error(500, {"error": {"message": "boom"}}),
        Error(500, {"error": {"message": "boom"}}),
    )
    with running_bridge(bridge_env(fake_azure, REQUEST_TIMEOUT="10"), tmp_path / "bridge.log") as running:
        failed = post(running)
        assert failed.status_code >= 500
        fine = post(running, stream=True)
        health = httpx.get(running.url + "/health")
        assert_never_shown([fake_azure.api_key or "", CLIENT_TOKEN], running, failed, fine, health)
        assert json.loads(health.text)["status"] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("status", [503, 429])
def test_identity_endpoint_failing_for_a_while_is_a_passing_outage(fake_azure: FakeAzure, tmp_path: Path, status: int) -> None:
    """The endpoint is up but answers 5xx / 429 (beyond azure-identity's own retries): a retryable 503, not a 401
    blaming the client's token, and nothing remembered: once it answers again, so does the bridge."""
    identity = FakeIdentity(fake_azure)
    identity.outage = [status] * 10
    with entra_bridge(fake_azure, tmp_path, identity, REQUEST_TIMEOUT="30") as bridge:
        started = time.monotonic()
        response = post(bridge)
        elapsed = time.monotonic() - started
        assert_error(response, 503, "api_error", "Entra ID", "retry")
        assert "x-should-retry" not in response.headers, "an outage passes: the client may retry"
        assert fake_azure.requests == [] and identity.issued == []
        print(f"identity endpoint answering {status}: 503 after {elapsed:.1f}s and {len(identity.requests)} token requests")
        identity.outage.clear()
        again = post(bridge, stream=True)
        assert again.status_code == 200 and "event: error" not in again.text, again.text[-500:]
        assert len(identity.issued) == 1
        assert_never_shown([*identity.issued, identity.secret], bridge, response, again)
