"""The organization gateway over HTTP, as users meet it: two `python -m bridge` processes with CLIENT_AUTH=entra,
sharing personal keys and one budget through Azurite, signing in against the local OpenID stand-in.

Both bridges run with ENTRA_REQUIRED_ROLE=Bridge.User and a daily budget of one token, lifted for the app
role Bridge.Lead, raised to 1,000 for the group BUDGET_GROUP and cut to nothing for NO_BUDGET_GROUP
(BUDGET_OVERRIDES); Bridge.Admin administers keys (ENTRA_ADMIN_ROLE) and Bridge.Automation lets an
application in (ENTRA_AUTOMATION_ROLE).  A test that spends a budget signs in as a user of its own
(`new_user`), so no test sees another's usage.  A third bridge (`lone`, served in the test process) keeps its
counters in memory.  The anthropic and openai SDKs are the clients, and httpx where a client must misbehave.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.azurite import Azurite, requires_azurite
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, line_of, request_lines, running_bridge, two_instances
from tests.support.fake_azure import Error, FakeAzure, Faults, Text
from tests.support.fake_entra import (
    ALICE,
    BOB,
    OTHER_TENANT,
    App,
    FakeEntra,
    SigningKey,
    User,
    forged,
    new_signing_key,
    new_user,
)

pytestmark = [requires_azurite, pytest.mark.process]

LEAD, MEMBER, ADMIN, AUTOMATION = "Bridge.Lead", "Bridge.User", "Bridge.Admin", "Bridge.Automation"
BUDGET_GROUP = "2b8c6a4e-0d1f-4e3a-9b5c-7d6e8f9a0b1c"
"""Members get 1,000 tokens a day."""
NO_BUDGET_GROUP = "8f7e6d5c-4b3a-4291-8e7f-6a5b4c3d2e1f"
"""Members get none."""
MESSAGE: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
CHAT: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
COUNT_WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def bridges(
    fake_azure: FakeAzure, entra: FakeEntra, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningBridge, RunningBridge]]:
    env = gateway_env(fake_azure, entra, USAGE_CONNECTION_STRING=azurite.connection_string)
    logs = tmp_path_factory.mktemp("gateway")
    with two_instances(env, logs) as pair:
        yield pair


def gateway_env(fake_azure: FakeAzure, entra: FakeEntra, **more: str) -> dict[str, str]:
    settings = {
        **entra.bridge_settings(),
        "ENTRA_REQUIRED_ROLE": MEMBER,
        "ENTRA_ADMIN_ROLE": ADMIN,
        "ENTRA_AUTOMATION_ROLE": AUTOMATION,
        "BUDGET_DAILY_TOKENS": "1",
        "BUDGET_OVERRIDES": f"role:{LEAD}=daily:unlimited;group:{BUDGET_GROUP}=daily:1000;group:{NO_BUDGET_GROUP}=daily:0",
    }
    return bridge_env(fake_azure, **{**settings, **more})


@pytest.fixture(scope="module")
def lone(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """A bridge without a table (its keys and counters live in the process) and without ENTRA_REQUIRED_ROLE."""
    with running_bridge(
        gateway_env(fake_azure, entra, ENTRA_REQUIRED_ROLE=""), tmp_path_factory.mktemp("lone") / "lone.log", in_process=True
    ) as served:
        yield served


OPENED: list[anthropic.Anthropic | openai.OpenAI] = []
"""The SDK clients this test made: closed when it ends."""


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def claude(bridge: RunningBridge, credential: str, *, bearer: bool = False) -> anthropic.Anthropic:
    """The Anthropic SDK: the credential as x-api-key (as with ANTHROPIC_API_KEY), or as Bearer (ANTHROPIC_AUTH_TOKEN)."""
    if bearer:
        made = anthropic.Anthropic(base_url=bridge.url, auth_token=credential, max_retries=0)
    else:
        made = anthropic.Anthropic(base_url=bridge.url, api_key=credential, max_retries=0)
    OPENED.append(made)
    return made


def cursor(bridge: RunningBridge, credential: str) -> openai.OpenAI:
    """The OpenAI SDK, as Cursor calls: Authorization: Bearer."""
    made = openai.OpenAI(base_url=bridge.url + "/v1", api_key=credential, max_retries=0)
    OPENED.append(made)
    return made


def usage_of(bridge: RunningBridge, token: str) -> dict[str, Any]:
    answer = httpx.get(bridge.url + "/v1/usage", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def wait_for_requests(bridge: RunningBridge, token: str, count: int) -> dict[str, Any]:
    """The caller's usage as `bridge` reads it from the table, once it holds `count` requests of today."""
    deadline = time.monotonic() + COUNT_WAIT_SECONDS
    while True:
        usage = usage_of(bridge, token)
        if usage["today"]["requests"] >= count or time.monotonic() > deadline:
            return usage
        time.sleep(0.05)


# ----- who may call: both users, both header forms, both fronts -------------------------------------------------


def test_both_users_sign_in_on_both_fronts_with_both_header_forms(
    bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    fake_azure.enqueue(Text("Hello Alice."), Text("Hello Bob."), Text("Hello again."))
    reply = claude(bridge_a, entra.token(ALICE)).messages.create(**MESSAGE)
    assert reply.content[0].text == "Hello Alice."  # type: ignore[union-attr]
    chat = cursor(bridge_a, entra.token(BOB)).chat.completions.create(**CHAT)
    assert chat.choices[0].message.content == "Hello Bob."
    bearer = claude(bridge_a, entra.v1_token(ALICE), bearer=True).messages.create(**MESSAGE)
    assert bearer.content[0].text == "Hello again.", "a v1.0 token (default app registration), as Bearer"  # type: ignore[union-attr]
    lines = [line_of(bridge_a, str(answer._request_id)) for answer in (reply, chat, bearer)]
    assert [(line["user_id"], line["user_name"], line["auth"]) for line in lines] == [
        (ALICE.object_id, ALICE.username, "entra"),
        (BOB.object_id, BOB.username, "entra"),
        (ALICE.object_id, ALICE.username, "entra"),
    ]
    assert all("key_id" not in line for line in lines)


def tampered_signature(entra: FakeEntra) -> str:
    impostor = SigningKey(entra.signing_key.kid, new_signing_key().private_key)
    return entra.token(ALICE, key=impostor)


Credential = Callable[[FakeEntra], str]
REFUSALS: dict[str, tuple[Credential, int, str, str]] = {
    "expired": (
        lambda e: e.token(ALICE, iat=1_700_000_000, nbf=1_700_000_000, exp=1_700_003_600),
        401,
        "authentication_error",
        "expired at 2023-11-14",
    ),
    "wrong audience": (
        lambda e: e.token(ALICE, aud="api://another-app"),
        401,
        "authentication_error",
        "wrong audience 'api://another-app'",
    ),
    "wrong tenant": (
        lambda e: e.token(ALICE, tid=OTHER_TENANT, iss=e.issuer(OTHER_TENANT)),
        401,
        "authentication_error",
        "issued by tenant",
    ),
    "wrong issuer": (lambda e: e.token(ALICE, iss="https://evil.example/v2.0"), 401, "authentication_error", "wrong issuer"),
    "bad signature": (tampered_signature, 401, "authentication_error", "bad signature"),
    "unpublished key": (lambda e: e.token(ALICE, key=new_signing_key()), 401, "authentication_error", "does not publish"),
    "alg none": (
        lambda e: forged({"alg": "none", "kid": e.signing_key.kid}, e.claims()),
        401,
        "authentication_error",
        "alg 'none'",
    ),
    "hs256": (
        lambda e: forged({"alg": "HS256", "kid": e.signing_key.kid}, e.claims(), hmac_key=e.signing_key.public_pem()),
        401,
        "authentication_error",
        "alg 'HS256'",
    ),
    "not a jwt": (lambda _: "definitely-not-a-token", 401, "authentication_error", "malformed"),
    "the shared token": (lambda _: CLIENT_TOKEN, 401, "authentication_error", "malformed"),
    "no app role": (
        lambda e: e.token(User("5d1a4b1e-0000-4000-8000-000000000001", "eve@contoso.example", "Eve")),
        403,
        "permission_error",
        "'Bridge.User'",
    ),
    "unknown personal key": (lambda _: "cab_" + "A" * 43, 401, "authentication_error", "Personal key not recognised"),
    "malformed personal key": (lambda _: "cab_short", 401, "authentication_error", "Malformed personal key"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_refusal_on_both_fronts(case: str, bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure) -> None:
    make, status, kind, said = REFUSALS[case]
    credential = make(entra)
    with pytest.raises(anthropic.APIStatusError) as by_claude:
        claude(bridge_a, credential).messages.create(**MESSAGE)
    with pytest.raises(openai.APIStatusError) as by_cursor:
        cursor(bridge_a, credential).chat.completions.create(**CHAT)
    for error in (by_claude.value, by_cursor.value):
        assert error.status_code == status, (case, error.body)
        assert error.response.headers["x-should-retry"] == "false", case
        assert said in error.response.text, (case, error.response.text)
        assert credential not in error.response.text, "a credential is never echoed"
    assert by_claude.value.response.json()["error"]["type"] == kind
    assert by_cursor.value.response.json()["error"]["type"] == kind
    assert fake_azure.requests == [], "nothing reached Azure"


def test_no_credential_says_how_to_sign_in(bridge_a: RunningBridge, entra: FakeEntra) -> None:
    for path, body in (("/v1/messages", MESSAGE), ("/v1/chat/completions", CHAT)):
        answer = httpx.post(bridge_a.url + path, json=body, timeout=10)
        assert answer.status_code == 401 and answer.headers["x-should-retry"] == "false"
        assert f"az account get-access-token --resource api://{entra.client_id}" in answer.text
    health = httpx.get(bridge_a.url + "/health", timeout=10).json()
    assert health["client_auth"] == "entra" and "upstreams" not in health, "the public /health hides the upstreams"
    signed_in = httpx.get(bridge_a.url + "/health", headers={"x-api-key": entra.token(ALICE)}, timeout=10).json()
    assert signed_in["upstreams"] and signed_in["usage_store"] == "table" and signed_in["problems"] == []


# ----- personal keys through the routes, with both SDKs, on both instances -------------------------------------------


def test_personal_keys_made_listed_used_and_revoked_through_both_fronts(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    owner = new_user(MEMBER, LEAD)
    token = entra.token(owner)
    key = claude(bridge_a, token).post("/v1/keys", body={"name": "cursor on my laptop"}, cast_to=dict[str, Any])
    assert [line["status"] for line in request_lines(bridge_a) if line["route"] == "create_key"][-1] == 201
    assert key["key"].startswith("cab_") and key["name"] == "cursor on my laptop" and key["id"].startswith("key_")

    listed = cursor(bridge_b, token).get("/keys", cast_to=dict[str, Any])
    assert [entry["id"] for entry in listed["data"]] == [key["id"]], "the other instance sees the key"
    assert key["key"] not in json.dumps(listed), "never the secret again"

    fake_azure.enqueue(Text("By key, Anthropic."), Text("By key, OpenAI."))
    reply = claude(bridge_b, key["key"]).messages.create(**MESSAGE)
    assert reply.content[0].text == "By key, Anthropic."  # type: ignore[union-attr]
    chat = cursor(bridge_a, key["key"]).chat.completions.create(**CHAT)
    assert chat.choices[0].message.content == "By key, OpenAI."
    used = [line for line in request_lines(bridge_a) if line.get("key_id") == key["id"]]
    assert used and used[-1]["user_id"] == owner.object_id and used[-1]["auth"] == "key"

    with pytest.raises(openai.PermissionDeniedError) as by_key:
        cursor(bridge_a, key["key"]).post("/keys", body={"name": "another"}, cast_to=dict[str, Any])
    assert "a personal key cannot manage personal keys" in by_key.value.response.text
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude(bridge_a, token).post("/v1/keys", body={"name": "x", "colour": "blue"}, cast_to=dict[str, Any])
    assert "Unknown field(s) 'colour'" in bad.value.response.json()["error"]["message"], "the Anthropic error shape"

    revoked = cursor(bridge_b, token).delete(f"/keys/{key['id']}", cast_to=dict[str, Any])
    assert revoked == {"id": key["id"], "revoked": True}
    for bridge in (bridge_a, bridge_b):
        with pytest.raises(anthropic.AuthenticationError) as refused:
            claude(bridge, key["key"]).messages.create(**MESSAGE)
        assert "Personal key not recognised" in refused.value.response.text, "revoked at once, on every instance"
    with pytest.raises(openai.NotFoundError):
        cursor(bridge_a, token).delete(f"/keys/{key['id']}", cast_to=dict[str, Any])
    assert cursor(bridge_a, token).get("/keys", cast_to=dict[str, Any]) == {"data": []}


def test_the_shared_token_mode_has_no_personal_keys(bridge: RunningBridge) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        claude(bridge, CLIENT_TOKEN).post("/v1/keys", body={}, cast_to=dict[str, Any])
    assert "CLIENT_AUTH=entra" in refused.value.response.text
    usage = claude(bridge, CLIENT_TOKEN).get("/v1/usage", cast_to=dict[str, Any])
    assert usage["user"]["id"] == "shared-token" and usage["today"]["limit"] is None


# ----- one budget for two instances -------------------------------------------------------------------------------


def test_two_bridges_share_one_budget(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    spender, lead = new_user(MEMBER), new_user(MEMBER, LEAD)
    token = entra.token(spender)
    fake_azure.enqueue(Text("The one answer your budget allows.", pieces=3))
    with claude(bridge_a, token).messages.stream(**MESSAGE) as stream:
        assert stream.get_final_text() == "The one answer your budget allows."
    usage = wait_for_requests(bridge_b, token, 1)
    spent = usage["today"]["total_tokens"]
    assert usage["today"]["requests"] == 1 and spent > 1, "the stream was counted, and the other instance reads it"
    assert usage["today"]["models"]["gpt-5"]["total_tokens"] == spent and usage["month"]["total_tokens"] == spent
    assert usage["today"]["limit"] == 1 and usage["today"]["remaining"] == 0

    calls_before = len(fake_azure.requests)
    with pytest.raises(anthropic.RateLimitError) as over:
        claude(bridge_b, token).messages.create(**MESSAGE)
    with pytest.raises(openai.RateLimitError) as over_chat:
        cursor(bridge_a, token).chat.completions.create(**CHAT)
    assert len(fake_azure.requests) == calls_before, "refused before Azure"
    for error in (over.value, over_chat.value):
        assert error.response.headers["x-should-retry"] == "false"
        message = error.response.text
        assert f"{spent:,} of 1 tokens today" in message and "resets at" in message and "UTC" in message
    assert over.value.response.json()["error"]["type"] == "rate_limit_error"

    fake_azure.enqueue(Text("Others are not affected."))
    reply = claude(bridge_b, entra.token(lead)).messages.create(**MESSAGE)
    assert reply.content[0].text == "Others are not affected."  # type: ignore[union-attr]


def test_concurrent_requests_on_both_instances_lose_no_count(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra
) -> None:
    import concurrent.futures

    user = new_user(MEMBER, LEAD)
    token = entra.token(user)
    rounds = 12

    def ask(index: int) -> int:
        bridge = (bridge_a, bridge_b)[index % 2]
        reply = claude(bridge, token).messages.create(**MESSAGE)
        return reply.usage.input_tokens + reply.usage.output_tokens

    with concurrent.futures.ThreadPoolExecutor(max_workers=rounds) as pool:
        reported = sum(pool.map(ask, range(rounds)))
    usage = wait_for_requests(bridge_a, token, rounds)
    assert usage["today"]["requests"] == rounds
    assert usage["today"]["total_tokens"] == reported, "every count landed, whichever instance wrote it"
    assert usage_of(bridge_b, token)["today"] == usage["today"]


def test_usage_reports_models_and_the_budget_left(bridge_a: RunningBridge, entra: FakeEntra) -> None:
    member = new_user(MEMBER)
    usage = usage_of(bridge_a, entra.token(member))
    assert usage["user"] == {"id": member.object_id, "name": member.username}
    assert usage["today"]["limit"] == 1 and usage["today"]["remaining"] == 1 and usage["today"]["models"] == {}
    assert usage["month"]["limit"] is None, "no monthly budget set"
    lead = usage_of(bridge_a, entra.token(new_user(MEMBER, LEAD)))
    assert lead["today"]["limit"] is None and lead["today"]["remaining"] is None, "the override lifts the daily limit"


# ----- issue 18: the gateway under attack ------------------------------------------------------------------------


def headers_for(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", "anthropic-version": "2023-06-01"}


def person(*roles: str, groups: tuple[str, ...] = ()) -> User:
    """A user of their own, in `groups`."""
    object_id = str(uuid.uuid4())
    return User(object_id, f"user-{object_id[:8]}@contoso.example", f"User {object_id[:8]}", roles, groups)


def test_an_applications_token_is_no_person(
    bridge_a: RunningBridge, lone: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """Client credentials of any service principal of the tenant: no usage, no personal key, no call; with
    ENTRA_REQUIRED_ROLE (bridge_a) and without (lone, as `azd up` deploys by default)."""
    token = entra.app_token()
    for bridge in (lone, bridge_a):
        for method, path, body in (("GET", "/v1/usage", None), ("POST", "/v1/keys", {}), ("POST", "/v1/messages", MESSAGE)):
            answer = httpx.request(method, bridge.url + path, json=body, headers=headers_for(token), timeout=10)
            assert answer.status_code == 403, (path, answer.status_code, answer.text)
            assert answer.headers["x-should-retry"] == "false"
            assert "issued to an application" in answer.json()["error"]["message"], answer.text
    assert fake_azure.requests == []


def test_an_application_with_the_automation_role_calls_but_never_gets_a_key(
    bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    pipeline = App(str(uuid.uuid4()), str(uuid.uuid4()), roles=(AUTOMATION,))
    token = entra.app_token(pipeline)
    fake_azure.enqueue(Text("Hello, pipeline."))
    reply = claude(bridge_a, token).messages.create(**MESSAGE)
    assert reply.content[0].text == "Hello, pipeline."  # type: ignore[union-attr]
    line = line_of(bridge_a, str(reply._request_id))
    assert (line["user_id"], line["auth"]) == (pipeline.object_id, "app")
    answer = httpx.post(bridge_a.url + "/v1/keys", json={"name": "ci"}, headers=headers_for(token), timeout=10)
    assert answer.status_code == 403 and "an application cannot have personal keys" in answer.text


def test_a_stream_cut_before_azures_usage_is_charged(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """The client reads the whole answer, then hangs up before Azure's usage chunk arrives."""
    token = entra.token(new_user(MEMBER, LEAD))
    text = "The whole answer, read in full before hanging up on the bridge."
    # chunks: prompt filter results, role, 3 text pieces, finish; then (after the stall) usage and [DONE]
    fake_azure.enqueue(Text(text, pieces=3, faults=Faults(stall_after_chunks=6, stall_seconds=3)))
    seen = ""
    body = {**MESSAGE, "stream": True}
    with httpx.stream("POST", bridge_a.url + "/v1/messages", json=body, headers=headers_for(token), timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"text_delta"' in line:
                seen += json.loads(line[6:])["delta"]["text"]
            if seen == text:
                break
    assert seen == text
    today = wait_for_requests(bridge_b, token, 1)["today"]
    assert today["requests"] == 1, "the cut stream is counted"
    assert today["input_tokens"] > 0 and today["output_tokens"] >= len(text) // 8, today
    line = line_of(bridge_a, response.headers["request-id"])
    assert line["usage_estimated"] is True


def test_an_abandoned_call_is_charged(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(new_user(MEMBER, LEAD))
    fake_azure.enqueue(Text("An answer nobody waits for.", faults=Faults(delay_first_byte=3)))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(bridge_a.url + "/v1/messages", json=MESSAGE, headers=headers_for(token), timeout=httpx.Timeout(10, read=0.5))
    today = wait_for_requests(bridge_b, token, 1)["today"]
    assert today["requests"] == 1 and today["input_tokens"] > 0, today


BIG_MESSAGE: dict[str, Any] = {**MESSAGE, "max_tokens": 200, "messages": [{"role": "user", "content": "word " * 380}]}
"""About 500 tokens as the fake Azure counts it; reserved as its input plus 200."""


def spend_at_once(bridges: list[RunningBridge], token: str, count: int) -> list[int]:
    """`count` concurrent requests, alternating between `bridges`; their statuses."""

    def ask(index: int) -> int:
        bridge = bridges[index % len(bridges)]
        return httpx.post(bridge.url + "/v1/messages", json=BIG_MESSAGE, headers=headers_for(token), timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(ask, range(count)))


def assert_the_budget_held(bridge: RunningBridge, token: str, statuses: list[int]) -> None:
    served = statuses.count(200)
    assert statuses.count(429) == len(statuses) - served, statuses
    today = wait_for_requests(bridge, token, served)["today"]
    assert today["requests"] == served >= 1
    per_request = today["total_tokens"] / served
    assert today["total_tokens"] <= 1000 + per_request, f"{served} served, {today['total_tokens']} of 1,000 tokens used"


def test_requests_in_flight_count_against_the_budget_on_two_instances(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(person(MEMBER, groups=(BUDGET_GROUP,)))
    fake_azure.respond_with(lambda _: Text("ok", faults=Faults(delay_first_byte=1.0)))
    assert_the_budget_held(bridge_a, token, spend_at_once([bridge_a, bridge_b], token, 8))


def test_requests_in_flight_count_against_the_budget_in_one_process(
    lone: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(person(MEMBER, groups=(BUDGET_GROUP,)))
    fake_azure.respond_with(lambda _: Text("ok", faults=Faults(delay_first_byte=1.0)))
    assert_the_budget_held(lone, token, spend_at_once([lone], token, 12))


def test_requests_the_upstream_refuses_release_their_hold(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """Each request holds about 600 of 1,000 tokens; three Azure refuses in a row must leave the budget whole."""
    token = entra.token(person(MEMBER, groups=(BUDGET_GROUP,)))
    fake_azure.enqueue(*[Error.content_filtered()] * 3, Text("Finally."))
    for bridge in (bridge_a, bridge_b, bridge_a):
        answer = httpx.post(bridge.url + "/v1/messages", json=BIG_MESSAGE, headers=headers_for(token), timeout=30)
        assert answer.status_code == 400, answer.text
    answer = httpx.post(bridge_b.url + "/v1/messages", json=BIG_MESSAGE, headers=headers_for(token), timeout=30)
    assert answer.status_code == 200, answer.text
    assert wait_for_requests(bridge_a, token, 1)["today"]["requests"] == 1, "a refused request costs nothing"


def test_a_groups_overage_cannot_escape_a_group_budget(bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure) -> None:
    listed = person(MEMBER, groups=(NO_BUDGET_GROUP,))
    with pytest.raises(anthropic.RateLimitError):
        claude(bridge_a, entra.token(listed)).messages.create(**MESSAGE)
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude(bridge_a, entra.overage_token(person(MEMBER))).messages.create(**MESSAGE)
    assert "0 of 0 tokens today" in refused.value.response.text
    assert fake_azure.requests == []
    line = [line for line in request_lines(bridge_a) if line["route"] == "messages"][-1]
    assert line["groups"] == "overage"


def test_forty_concurrent_key_creations_on_two_instances_make_twenty_keys(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra
) -> None:
    token = entra.token(new_user(MEMBER))

    def create(index: int) -> int:
        bridge = (bridge_a, bridge_b)[index % 2]
        answer = httpx.post(bridge.url + "/v1/keys", json={"name": f"key {index}"}, headers=headers_for(token), timeout=30)
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(create, range(40)))
    assert statuses.count(201) == 20, f"{statuses.count(201)} keys made"
    assert statuses.count(400) == 20, statuses
    assert len(cursor(bridge_b, token).get("/keys", cast_to=dict[str, Any])["data"]) == 20


def test_an_admin_lists_and_revokes_anyones_keys(bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra) -> None:
    owner, admin, nosy = new_user(MEMBER), new_user(MEMBER, ADMIN), new_user(MEMBER)
    key = claude(bridge_a, entra.token(owner)).post("/v1/keys", body={"name": "cursor"}, cast_to=dict[str, Any])
    for who in (owner.object_id, owner.username):
        listed = httpx.get(bridge_b.url + "/v1/keys", params={"user": who}, headers=headers_for(entra.token(admin)), timeout=10)
        assert listed.status_code == 200 and [k["id"] for k in listed.json()["data"]] == [key["id"]], listed.text
        assert key["key"] not in listed.text
    refused = httpx.get(bridge_b.url + "/v1/keys", params={"user": owner.object_id}, headers=headers_for(entra.token(nosy)))
    assert refused.status_code == 403 and ADMIN in refused.text
    by_nosy = httpx.delete(bridge_b.url + f"/v1/keys/{key['id']}", headers=headers_for(entra.token(nosy)), timeout=10)
    assert by_nosy.status_code == 404
    revoked = httpx.delete(bridge_b.url + f"/v1/keys/{key['id']}", headers=headers_for(entra.token(admin)), timeout=10)
    assert revoked.status_code == 200 and revoked.json() == {"id": key["id"], "revoked": True}
    with pytest.raises(anthropic.AuthenticationError):
        claude(bridge_a, key["key"]).messages.create(**MESSAGE)
