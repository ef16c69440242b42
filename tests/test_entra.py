"""EntraVerifier against a local OpenID provider: both users, every refusal, key rotation and the refetch limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from bridge.errors import BridgeError
from bridge.gateway.auth.entra import EntraVerifier
from bridge.gateway.auth.entra_config import EntraConfig
from bridge.gateway.auth.signing_keys import MAX_KEY_AGE_SECONDS, REFETCH_INTERVAL_SECONDS
from tests.support.fake_entra import (
    ALICE,
    BOB,
    CLIENT_ID,
    OTHER_TENANT,
    TENANT,
    FakeEntra,
    b64,
    forged,
    new_signing_key,
)
from tests.support.serving import running

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served_entra() -> Iterator[FakeEntra]:
    entra = FakeEntra()
    with running(entra):
        yield entra


@pytest.fixture
def entra(served_entra: FakeEntra) -> FakeEntra:
    served_entra.rotate()
    served_entra.configuration_requests = served_entra.key_requests = 0
    return served_entra


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(entra: FakeEntra, clock: Clock) -> EntraVerifier:
    return EntraVerifier(entra.config(), clock=clock)


async def refusal(verifier: EntraVerifier, token: str) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await verifier.verify(token)
    error = caught.value
    assert error.kind == "authentication_error" and error.status == 401
    assert error.headers == {"x-should-retry": "false"}
    assert not token or token not in error.message
    return error


async def test_both_users_are_recognised(entra: FakeEntra, verifier: EntraVerifier) -> None:
    alice = await verifier.verify(entra.token(ALICE))
    bob = await verifier.verify(entra.token(BOB))
    assert (alice.user_id, alice.name, alice.method, alice.tenant_id) == (ALICE.object_id, ALICE.username, "entra", TENANT)
    assert alice.roles == {"Bridge.User", "Bridge.Lead"} and alice.groups == set(ALICE.groups)
    assert alice.key_id is None and alice.signed_in
    assert (bob.user_id, bob.name, bob.roles, bob.groups) == (
        BOB.object_id,
        BOB.username,
        frozenset({"Bridge.User"}),
        frozenset(),
    )
    assert alice.log_fields() == {
        "user_id": ALICE.object_id,
        "user_name": ALICE.username,
        "auth": "entra",
        "roles": "Bridge.Lead,Bridge.User",
        "groups": ",".join(sorted(ALICE.groups)),
    }
    assert entra.configuration_requests == 1 and entra.key_requests == 1


async def test_the_app_id_uri_is_an_accepted_audience(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert (await verifier.verify(entra.token(aud=f"api://{CLIENT_ID}"))).user_id == ALICE.object_id


async def test_the_name_falls_back_to_upn_then_name_then_object_id(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert (await verifier.verify(entra.token(preferred_username=None, upn="alice@upn.example"))).name == "alice@upn.example"
    assert (await verifier.verify(entra.token(preferred_username=None))).name == ALICE.name
    assert (await verifier.verify(entra.token(preferred_username=None, name=None))).name == ALICE.object_id


async def test_expired(entra: FakeEntra, verifier: EntraVerifier) -> None:
    error = await refusal(verifier, entra.token(exp=1_700_000_000, iat=1_699_990_000, nbf=1_699_990_000))
    assert "expired at 2023-11-14 22:13:20 UTC" in error.message
    assert f"az account get-access-token --resource api://{CLIENT_ID}" in error.message


async def test_a_little_clock_skew_is_forgiven(entra: FakeEntra, verifier: EntraVerifier) -> None:
    now = entra.claims()["iat"]
    assert await verifier.verify(entra.token(exp=now - 20, nbf=now + 20, iat=now))


async def test_not_yet_valid(entra: FakeEntra, verifier: EntraVerifier) -> None:
    nbf = entra.claims()["iat"] + 600
    error = await refusal(verifier, entra.token(nbf=nbf, exp=nbf + 3600))
    assert "not valid until" in error.message and "clock" in error.message


async def test_wrong_audience_names_the_expected_one(entra: FakeEntra, verifier: EntraVerifier) -> None:
    error = await refusal(verifier, entra.token(aud="https://management.core.windows.net/"))
    assert "wrong audience 'https://management.core.windows.net/'" in error.message
    assert f"expected {CLIENT_ID} or api://{CLIENT_ID}" in error.message


async def test_wrong_tenant(entra: FakeEntra, verifier: EntraVerifier) -> None:
    error = await refusal(verifier, entra.token(tid=OTHER_TENANT, iss=entra.issuer(OTHER_TENANT)))
    assert f"issued by tenant '{OTHER_TENANT}'" in error.message and TENANT in error.message


async def test_wrong_issuer(entra: FakeEntra, verifier: EntraVerifier) -> None:
    error = await refusal(verifier, entra.token(iss=f"https://login.example/{TENANT}/v2.0"))
    assert f"wrong issuer 'https://login.example/{TENANT}/v2.0'" in error.message


async def test_a_token_without_a_tenant_is_refused(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert "names no tenant" in (await refusal(verifier, entra.token(tid=None))).message


async def test_v1_tokens_of_a_default_app_registration_are_accepted(entra: FakeEntra, verifier: EntraVerifier) -> None:
    """An app registration left at requestedAccessTokenVersion null gets v1.0 tokens: sts.windows.net, api:// audience, upn."""
    caller = await verifier.verify(entra.v1_token(BOB))
    assert (caller.user_id, caller.name, caller.tenant_id) == (BOB.object_id, BOB.username, TENANT)


async def test_v1_tokens_are_checked_like_v2(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert "wrong audience" in (await refusal(verifier, entra.v1_token(aud="api://someone-else"))).message
    other = await refusal(verifier, entra.v1_token(iss=f"https://sts.windows.net/{OTHER_TENANT}/"))
    assert "wrong issuer" in other.message and f"https://sts.windows.net/{TENANT}/" in other.message
    assert "issued by tenant" in (await refusal(verifier, entra.v1_token(tid=OTHER_TENANT))).message
    assert "expired" in (await refusal(verifier, entra.v1_token(exp=1_000_000))).message


async def test_bad_signature(entra: FakeEntra, verifier: EntraVerifier) -> None:
    impostor = new_signing_key()
    forged = entra.token(key=impostor, headers={"kid": entra.signing_key.kid})
    assert "bad signature" in (await refusal(verifier, forged)).message


async def test_a_tampered_payload_breaks_the_signature(entra: FakeEntra, verifier: EntraVerifier) -> None:
    header, _, signature = entra.token(BOB).split(".")
    payload = b64(json.dumps(entra.claims(ALICE)).encode())
    assert "bad signature" in (await refusal(verifier, f"{header}.{payload}.{signature}")).message


async def test_alg_none_is_refused(entra: FakeEntra, verifier: EntraVerifier) -> None:
    unsigned = forged({"alg": "none", "typ": "JWT", "kid": entra.signing_key.kid}, entra.claims())
    assert "alg 'none'" in (await refusal(verifier, unsigned)).message
    assert entra.key_requests == 0


async def test_hs256_signed_with_the_public_key_is_refused(entra: FakeEntra, verifier: EntraVerifier) -> None:
    """The algorithm-confusion attack: HMAC keyed with the published RSA public key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": entra.signing_key.kid}
    hmac_signed = forged(header, entra.claims(), hmac_key=entra.signing_key.public_pem())
    assert "alg 'HS256'" in (await refusal(verifier, hmac_signed)).message
    assert await verifier.verify(entra.token())
    header_with_rs256 = {**header, "alg": "RS256"}
    confused = forged(header_with_rs256, entra.claims(), hmac_key=entra.signing_key.public_pem())
    assert "bad signature" in (await refusal(verifier, confused)).message


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "cab_" + "x" * 43])
async def test_malformed(verifier: EntraVerifier, token: str) -> None:
    assert "malformed" in (await refusal(verifier, token)).message


async def test_a_token_without_kid_is_malformed(entra: FakeEntra, verifier: EntraVerifier) -> None:
    import jwt

    token = jwt.encode(entra.claims(), entra.signing_key.private_key, algorithm="RS256")
    assert "names no signing key" in (await refusal(verifier, token)).message


async def test_a_token_without_object_id_is_refused(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert "no object id" in (await refusal(verifier, entra.token(oid=None))).message


async def test_a_token_without_expiry_is_refused(entra: FakeEntra, verifier: EntraVerifier) -> None:
    assert "no 'exp' claim" in (await refusal(verifier, entra.token(exp=None))).message


async def test_required_role(entra: FakeEntra, clock: Clock) -> None:
    checker = EntraVerifier(entra.config(required_role="Bridge.Lead"), clock=clock)
    assert (await checker.verify(entra.token(ALICE))).user_id == ALICE.object_id
    with pytest.raises(BridgeError) as caught:
        await checker.verify(entra.token(BOB))
    assert caught.value.kind == "permission_error" and caught.value.status == 403
    assert "'Bridge.Lead'" in caught.value.message and BOB.username in caught.value.message
    assert caught.value.headers == {"x-should-retry": "false"}


async def test_key_rotation(entra: FakeEntra, verifier: EntraVerifier, clock: Clock) -> None:
    old_key = entra.signing_key
    assert await verifier.verify(entra.token(ALICE))
    clock.now += REFETCH_INTERVAL_SECONDS
    new_key = entra.rotate()
    assert (await verifier.verify(entra.token(BOB))).user_id == BOB.object_id
    assert entra.key_requests == 2
    assert await verifier.verify(entra.token(ALICE, key=new_key))
    error = await refusal(verifier, entra.token(ALICE, key=old_key))
    assert f"signing key {old_key.kid!r}" in error.message and "does not publish" in error.message
    assert entra.key_requests == 2, "the retired key was asked for within a minute of the last fetch"


async def test_unknown_key_ids_refetch_at_most_once_a_minute(entra: FakeEntra, verifier: EntraVerifier, clock: Clock) -> None:
    assert await verifier.verify(entra.token())
    for _ in range(10):
        await refusal(verifier, entra.token(key=new_signing_key()))
    assert entra.key_requests == 1
    clock.now += REFETCH_INTERVAL_SECONDS - 1
    await refusal(verifier, entra.token(key=new_signing_key()))
    assert entra.key_requests == 1
    clock.now += 1
    for _ in range(5):
        await refusal(verifier, entra.token(key=new_signing_key()))
    assert entra.key_requests == 2
    assert entra.configuration_requests == 1, "the jwks_uri is read once"
    assert await verifier.verify(entra.token())


async def test_concurrent_first_requests_share_one_fetch(entra: FakeEntra, verifier: EntraVerifier) -> None:
    callers = await asyncio.gather(*(verifier.verify(entra.token(user)) for user in [ALICE, BOB] * 10))
    assert {caller.user_id for caller in callers} == {ALICE.object_id, BOB.object_id}
    assert entra.key_requests == 1


async def refreshed(verifier: EntraVerifier) -> None:
    """Wait for the key set's refresh running in the background."""
    while verifier.keys.fetching:
        await asyncio.sleep(0.01)


async def test_the_key_set_is_refreshed_once_a_day(entra: FakeEntra, verifier: EntraVerifier, clock: Clock) -> None:
    old_key = entra.signing_key
    assert await verifier.verify(entra.token())
    entra.rotate()
    assert await verifier.verify(entra.token(key=old_key)), "the cached set still has the old key"
    clock.now += MAX_KEY_AGE_SECONDS
    assert await verifier.verify(entra.token(key=old_key)), "served from the cache while the refresh runs"
    assert verifier.keys.fetching, "a day old: refreshed in the background"
    await refreshed(verifier)
    await refusal(verifier, entra.token(key=old_key))
    assert entra.key_requests == 2


async def test_a_failed_refresh_keeps_the_cached_keys(entra: FakeEntra, verifier: EntraVerifier, clock: Clock) -> None:
    assert await verifier.verify(entra.token())
    entra.down = True
    try:
        clock.now += MAX_KEY_AGE_SECONDS
        assert (await verifier.verify(entra.token(BOB))).user_id == BOB.object_id
        await refreshed(verifier)
        assert entra.key_requests + entra.configuration_requests >= 2, "the refresh was tried"
        assert (await verifier.verify(entra.token(BOB))).user_id == BOB.object_id, "and failed: the old set stays"
    finally:
        entra.down = False


async def test_entra_unreachable_is_a_retryable_server_error(clock: Clock) -> None:
    config = EntraConfig(TENANT, CLIENT_ID, "http://127.0.0.1:9")
    checker = EntraVerifier(config, clock=clock)
    entra = FakeEntra()
    entra.url = "http://127.0.0.1:9"
    with pytest.raises(BridgeError) as caught:
        await checker.verify(entra.token())
    assert caught.value.kind == "api_error" and "x-should-retry" not in caught.value.headers
    assert "ENTRA_AUTHORITY" in caught.value.message and "signing keys" in caught.value.message
    with pytest.raises(BridgeError):
        await checker.verify(entra.token())
    assert checker.fetches == 1, "a failed fetch is not repeated at once"


# ----- issue 18: applications posing as people, an identity outage, a slow Entra, groups overage ---------------


async def forbidden(verifier: EntraVerifier, token: str) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await verifier.verify(token)
    error = caught.value
    assert error.kind == "permission_error" and error.status == 403 and error.headers == {"x-should-retry": "false"}
    return error


@pytest.mark.parametrize("version", ["2.0", "1.0"])
async def test_an_applications_token_is_not_a_person(entra: FakeEntra, verifier: EntraVerifier, version: str) -> None:
    """Client credentials of any service principal of the tenant: no delegated scope, `idtyp` app."""
    error = await forbidden(verifier, entra.app_token(version=version))
    assert "application" in error.message and "user_impersonation" in error.message
    without_idtyp = await forbidden(verifier, entra.app_token(version=version, idtyp=None))
    assert "application" in without_idtyp.message, "no scope is enough to tell"


async def test_a_persons_token_needs_the_bridges_scope(entra: FakeEntra, verifier: EntraVerifier) -> None:
    error = await forbidden(verifier, entra.token(ALICE, scp="User.Read Mail.Send"))
    assert "user_impersonation" in error.message
    assert (await verifier.verify(entra.token(ALICE, scp="openid user_impersonation"))).user_id == ALICE.object_id


async def outcome(verifying: object) -> object:
    try:
        return await verifying  # type: ignore[misc]
    except BridgeError as error:
        return error


async def test_a_hanging_entra_is_asked_once_and_everyone_answered_within_the_fetch_timeout(
    entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's timings scaled down: the fetch timeout (10 s) longer than the retry interval (5 s)."""
    import time

    from bridge.gateway.auth import signing_keys as entra_module

    monkeypatch.setattr(entra_module, "FETCH_TIMEOUT_SECONDS", 0.6)
    monkeypatch.setattr(entra_module, "RETRY_AFTER_FAILED_FETCH_SECONDS", 0.3)
    verifier = EntraVerifier(entra.config())
    entra.hang_seconds = 2.0
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(*(outcome(verifier.verify(entra.token())) for _ in range(3)))
        elapsed = time.monotonic() - started
    finally:
        entra.hang_seconds = 0.0
    assert all(isinstance(o, BridgeError) and o.status == 503 for o in outcomes), outcomes
    assert entra.configuration_requests == 1, "one fetch in flight, shared by every waiter"
    assert elapsed < 0.6 + 0.4, f"every request answered within the fetch timeout, took {elapsed:.2f} s"


async def test_the_retry_interval_counts_from_the_end_of_a_fetch(
    entra: FakeEntra, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.gateway.auth import signing_keys as entra_module

    monkeypatch.setattr(entra_module, "FETCH_TIMEOUT_SECONDS", 0.3)
    verifier = EntraVerifier(entra.config(), clock=clock)
    entra.hang_seconds = 2.0
    try:
        verifying = asyncio.ensure_future(outcome(verifier.verify(entra.token())))
        await asyncio.sleep(0.1)
        clock.now += 10  # the fetch takes long: the clock moves on while it hangs
        assert isinstance(await verifying, BridgeError)
    finally:
        entra.hang_seconds = 0.0
    clock.now += entra_module.RETRY_AFTER_FAILED_FETCH_SECONDS - 1
    again = await outcome(verifier.verify(entra.token()))
    assert isinstance(again, BridgeError) and again.status == 503
    assert entra.configuration_requests == 1, "not tried again within the interval after the failed fetch ended"
    clock.now += 1
    assert (await verifier.verify(entra.token())).user_id == ALICE.object_id


async def outage(verifier: EntraVerifier, token: str) -> BridgeError:
    with pytest.raises(BridgeError) as caught:
        await verifier.verify(token)
    error = caught.value
    assert error.status == 503 and error.kind == "api_error", error
    assert "x-should-retry" not in error.headers, "Claude Code must retry an outage"
    assert "Entra ID" in error.message and "signing keys" in error.message
    return error


async def test_an_entra_outage_is_never_a_bad_token(entra: FakeEntra, clock: Clock) -> None:
    verifier = EntraVerifier(entra.config(), clock=clock)
    entra.down = True
    try:
        for _ in range(3):
            error = await outage(verifier, entra.token())
        assert "answered 503" in error.message, "what Entra said"
        assert entra.configuration_requests == 1
    finally:
        entra.down = False
    clock.now += 5
    assert (await verifier.verify(entra.token())).user_id == ALICE.object_id


async def test_a_key_unknown_while_a_refresh_fails_is_an_outage(entra: FakeEntra, verifier: EntraVerifier, clock: Clock) -> None:
    assert await verifier.verify(entra.token())
    new_key = entra.rotate()
    entra.down = True
    try:
        clock.now += REFETCH_INTERVAL_SECONDS
        await outage(verifier, entra.token(key=new_key))
    finally:
        entra.down = False
    clock.now += REFETCH_INTERVAL_SECONDS
    assert await verifier.verify(entra.token(key=new_key))


@pytest.mark.parametrize("version", ["2.0", "1.0"])
async def test_an_application_with_the_automation_role_calls_as_itself(entra: FakeEntra, clock: Clock, version: str) -> None:
    from tests.support.fake_entra import App

    verifier = EntraVerifier(EntraConfig(TENANT, CLIENT_ID, entra.authority, "Bridge.User", "Bridge.Automation"), clock=clock)
    pipeline = App("11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-000000000000", ("Bridge.Automation",))
    caller = await verifier.verify(entra.app_token(pipeline, version=version))
    assert (caller.user_id, caller.name, caller.method) == (pipeline.object_id, pipeline.app_id, "app")
    assert caller.roles == {"Bridge.Automation"} and not caller.signed_in, "an application is not a person"
    other = App(pipeline.object_id, pipeline.app_id, ("Bridge.User",))
    error = await forbidden(verifier, entra.app_token(other, version=version))
    assert "'Bridge.Automation' (ENTRA_AUTOMATION_ROLE)" in error.message


async def test_a_groups_overage_marks_the_person(entra: FakeEntra, verifier: EntraVerifier) -> None:
    caller = await verifier.verify(entra.overage_token(ALICE))
    assert caller.groups_overage and caller.groups == frozenset() and caller.log_fields()["groups"] == "overage"
    hasgroups = await verifier.verify(entra.token(ALICE, groups=None, hasgroups=True))
    assert hasgroups.groups_overage
    listed = await verifier.verify(entra.token(ALICE))
    assert not listed.groups_overage and listed.log_fields()["groups"] == ",".join(sorted(ALICE.groups))
