"""The attacker's probes against `/login` (bridge/gateway/login): each one an attack, and the refusal it meets.

Two kinds of test: over HTTP against `python -m bridge` (the login_bridge of tests/test_login.py), as an
attacker on the network or a hostile web page would send them; and in process against `LoginService`,
with its rows in memory or in an Azurite table seen through separate clients (as two instances see it),
and a clock the test moves.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from bridge.gateway.auth.caller import Caller
from bridge.gateway.auth.entra import EntraVerifier
from bridge.gateway.login.entra_client import EntraClient
from bridge.gateway.login.errors import OAuthError, PageError
from bridge.gateway.login.rows import MemoryRows, Rows, TableRows
from bridge.gateway.login.service import WINDOW_SECONDS, LoginService
from bridge.gateway.login.tokens import ISSUER, LoginTokens, key_id
from tests.support.azurite import FreshTable
from tests.support.bridge import RunningBridge
from tests.support.fake_entra import OTHER_TENANT, FakeEntra, User, b64, forged, new_user
from tests.support.login_browser import HIDDEN_CODE, approve
from tests.support.stores import STORES
from tests.test_login import an_address, ask, poll, sign_in, start
from tests.test_login import login_bridge as login_bridge  # the fixture: one bridge for both modules' tests

BASE = "https://bridge.corp.example"
KEY = "k" * 40


def same_origin(bridge: RunningBridge, address: str | None = None) -> dict[str, str]:
    return {"Origin": bridge.url, "Sec-Fetch-Site": "same-origin", "X-Forwarded-For": address or an_address()}


def refresh(bridge: RunningBridge, token: str) -> httpx.Response:
    return httpx.post(bridge.url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token})


# ----- over HTTP --------------------------------------------------------------------------------------------


def test_a_device_code_is_good_for_one_token_only(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    entra.signing_in = new_user("Bridge.User")
    grant = start(login_bridge)
    approve(grant["verification_uri_complete"], headers={"X-Forwarded-For": an_address()})
    assert poll(login_bridge, grant["device_code"]).status_code == 200
    again = poll(login_bridge, grant["device_code"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "device_code",
    ["", "nonsense", "BCDFGHJK." + "A" * 43, "bcdf-ghjk.x", "../../etc/passwd", "BCDFGHJK." + "A" * 4000],
)
def test_forged_device_codes_are_unknown(login_bridge: RunningBridge, device_code: str) -> None:
    answer = poll(login_bridge, device_code)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_a_device_code_with_the_right_user_code_but_another_secret_is_refused(login_bridge: RunningBridge) -> None:
    grant = start(login_bridge)
    user_code = grant["device_code"].split(".")[0]
    answer = poll(login_bridge, f"{user_code}.{secrets.token_urlsafe(32)}")
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
        {},
    ],
    ids=["origin", "origin-and-fetch-site", "fetch-site", "same-site", "null-origin", "neither"],
)
@pytest.mark.parametrize("path", ["/device", "/device/deny"])
def test_a_cross_site_form_cannot_approve_or_deny_a_code(login_bridge: RunningBridge, headers: dict[str, str], path: str) -> None:
    grant = start(login_bridge)
    answer = httpx.post(login_bridge.url + path, data={"user_code": grant["user_code"]}, headers=headers)
    assert answer.status_code == 403 and "another site" in answer.text
    assert "location" not in answer.headers
    pending = poll(login_bridge, grant["device_code"]).json()["error"]
    assert pending in ("authorization_pending", "slow_down"), "the grant is untouched"


def within_one_window(margin: float = 20.0) -> None:
    """Wait for the next rate-limit window when less than `margin` seconds remain of this one.

    Attempts are counted per fixed 10-minute window: a test's requests straddling its end would count in two."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < margin:
        time.sleep(left + 0.1)


def test_guessing_user_codes_meets_the_per_address_limit(login_bridge: RunningBridge) -> None:
    within_one_window()
    grant = start(login_bridge)
    attacker = f"203.0.113.{secrets.randbelow(250)}"
    for _ in range(20):
        wrong = httpx.post(
            login_bridge.url + "/device", data={"user_code": "BBBB-BBBB"}, headers=same_origin(login_bridge, attacker)
        )
        assert wrong.status_code == 400
    blocked = httpx.post(
        login_bridge.url + "/device", data={"user_code": grant["user_code"]}, headers=same_origin(login_bridge, attacker)
    )
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "600", "even the right code"
    other = httpx.post(
        login_bridge.url + "/device",
        data={"user_code": grant["user_code"]},
        headers=same_origin(login_bridge, "198.51.100.7"),
        follow_redirects=False,
    )
    assert other.status_code == 303, "another address is not held back"


def test_starting_sign_ins_meets_the_per_address_limit(login_bridge: RunningBridge) -> None:
    within_one_window()
    headers = {"X-Forwarded-For": f"192.0.2.{secrets.randbelow(250)}"}
    answers = [httpx.post(login_bridge.url + "/oauth/device_authorization", headers=headers) for _ in range(61)]
    assert [a.status_code for a in answers[:60]] == [200] * 60
    assert answers[60].status_code == 429 and answers[60].json()["error"] == "slow_down"


def browser_flow(bridge: RunningBridge, entra: FakeEntra, person: User) -> tuple[dict[str, Any], httpx.Client, str]:
    """A person's browser up to Entra's redirect back: the grant, the browser (its cookie) and the callback URL."""
    entra.signing_in = person
    grant = start(bridge)
    browser = httpx.Client(follow_redirects=False, trust_env=False)
    page = browser.get(grant["verification_uri_complete"])
    found = HIDDEN_CODE.search(page.text)
    assert found is not None
    to_entra = browser.post(bridge.url + "/device", data={"user_code": found.group(1)}, headers=same_origin(bridge))
    assert to_entra.status_code == 303 and to_entra.headers["location"].startswith(entra.authority), "only to Entra ID"
    back = browser.get(to_entra.headers["location"])
    assert back.status_code == 302
    return grant, browser, back.headers["location"]


def test_a_forged_state_is_refused_without_a_redirect(login_bridge: RunningBridge) -> None:
    answer = httpx.get(login_bridge.url + "/oauth/callback", params={"state": secrets.token_urlsafe(32), "code": "x"})
    assert answer.status_code == 400 and "location" not in answer.headers and "unknown" in answer.text


def test_a_replayed_callback_is_refused(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    grant, browser, callback = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    first = browser.get(callback)
    assert first.status_code == 200
    replay = browser.get(callback)
    assert replay.status_code == 400 and "used already" in replay.text
    assert poll(login_bridge, grant["device_code"]).status_code == 200, "the one sign-in stands"


def test_a_callback_from_another_browser_is_refused(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    grant, _browser, callback = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    stolen = httpx.get(callback)
    assert stolen.status_code == 403 and "another browser" in stolen.text
    assert poll(login_bridge, grant["device_code"]).json()["error"] in ("authorization_pending", "slow_down")


def test_an_injected_code_fails_the_pkce_check(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    """The attacker signs in themselves and plants their code in the victim's flow: Entra refuses it, for the
    victim's flow holds another PKCE verifier."""
    _, _, attackers = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    attacker_code = parse_qs(urlsplit(attackers).query)["code"][0]
    victim_grant, victim, victims = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    victim_state = parse_qs(urlsplit(victims).query)["state"][0]
    injected = victim.get(login_bridge.url + "/oauth/callback", params={"state": victim_state, "code": attacker_code})
    assert injected.status_code == 400 and "refused the sign-in (invalid_grant)" in injected.text
    assert entra.token_requests[-1]["code_verifier"], "the bridge always sends its verifier"
    assert poll(login_bridge, victim_grant["device_code"]).json()["error"] in ("authorization_pending", "slow_down")


def test_entra_refuses_a_code_without_its_verifier(entra: FakeEntra, login_bridge: RunningBridge) -> None:
    """The stand-in is as strict as Entra: a code redeemed without, or with the wrong, verifier is refused."""
    _, _, callback = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    form = {
        "client_id": entra.client_id,
        "client_secret": entra.client_secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login_bridge.url + "/oauth/callback",
    }
    answer = httpx.post(f"{entra.authority}/{entra.tenant}/oauth2/v2.0/token", data=form)
    assert answer.status_code == 400 and "AADSTS501481" in answer.json()["error_description"]


@pytest.mark.parametrize("extra", [{"redirect_uri": "https://evil.example/"}, {"next": "https://evil.example/"}])
def test_the_callback_never_redirects(login_bridge: RunningBridge, entra: FakeEntra, extra: dict[str, str]) -> None:
    _, browser, callback = browser_flow(login_bridge, entra, new_user("Bridge.User"))
    answer = browser.get(f"{callback}&{urlencode(extra)}")
    assert answer.status_code == 200 and "location" not in answer.headers


def test_a_forged_host_cannot_send_the_sign_in_elsewhere(login_bridge: RunningBridge) -> None:
    """With LOGIN_BASE_URL unset the redirect URI follows the Host header; Entra ID then refuses it, unregistered."""
    grant = start(login_bridge)
    headers = {"Host": "evil.example", "Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}
    to_entra = httpx.post(login_bridge.url + "/device", data={"user_code": grant["user_code"]}, headers=headers)
    assert to_entra.status_code == 303
    assert "redirect_uri=http%3A%2F%2Fevil.example%2Foauth%2Fcallback" in to_entra.headers["location"]
    at_entra = httpx.get(to_entra.headers["location"])
    assert at_entra.status_code == 400 and "AADSTS50011" in at_entra.text and "location" not in at_entra.headers


def test_a_refresh_after_the_role_was_removed_signs_out(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    person = new_user("Bridge.User")
    tokens = sign_in(login_bridge, entra, person)
    entra.set_roles(person, ())
    answer = refresh(login_bridge, tokens["refresh_token"])
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_grant")
    assert "Bridge.User" in answer.json()["error_description"]
    assert ask(login_bridge, tokens["access_token"]).status_code == 401, "the session is revoked"


def test_a_refresh_after_the_account_was_disabled_signs_out(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    person = new_user("Bridge.User")
    tokens = sign_in(login_bridge, entra, person)
    entra.refuse(person)
    answer = refresh(login_bridge, tokens["refresh_token"])
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_grant")
    revoked = ask(login_bridge, tokens["access_token"])
    assert revoked.status_code == 401 and revoked.headers["x-should-retry"] == "false"


def test_a_reused_refresh_token_signs_out_both_holders(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    tokens = sign_in(login_bridge, entra, new_user("Bridge.User"))
    fresh = refresh(login_bridge, tokens["refresh_token"]).json()
    stolen = refresh(login_bridge, tokens["refresh_token"])
    assert (stolen.status_code, stolen.json()["error"]) == (401, "invalid_grant")
    assert refresh(login_bridge, fresh["refresh_token"]).status_code == 401, "the session is gone for everyone"
    assert ask(login_bridge, fresh["access_token"]).status_code == 401


def test_a_revoked_token_stays_refused(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    tokens = sign_in(login_bridge, entra, new_user("Bridge.User"))
    httpx.post(login_bridge.url + "/oauth/revoke", data={"token": tokens["access_token"]})
    for _ in range(2):
        answer = ask(login_bridge, tokens["access_token"])
        assert answer.status_code == 401 and answer.headers["x-should-retry"] == "false"
        assert "signed out or revoked" in answer.json()["error"]["message"]


def forgeries(entra: FakeEntra, genuine: str) -> dict[str, str]:
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other_key = "o" * 40
    pem = entra.signing_key.public_pem()
    header = jwt.get_unverified_header(genuine)
    return {
        "another key": jwt.encode(claims, other_key, algorithm="HS256", headers={"kid": key_id(other_key)}),
        "another key, our kid": jwt.encode(claims, other_key, algorithm="HS256", headers={"kid": header["kid"]}),
        "alg none": forged({"alg": "none", "typ": "JWT", "kid": header["kid"]}, claims),
        "RS256 by Entra's key": jwt.encode(
            claims, entra.signing_key.private_key, algorithm="RS256", headers={"kid": entra.signing_key.kid}
        ),
        "HS256 keyed with Entra's public key": forged({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, claims, pem),
        "HS512": jwt.encode(claims, KEY * 2, algorithm="HS512", headers={"kid": header["kid"]}),
        "signature cut": genuine.rsplit(".", 1)[0] + ".",
        "claims swapped": ".".join(
            [
                genuine.split(".")[0],
                b64(jwt.utils.base64url_decode(genuine.split(".")[1]).replace(b'"sid"', b'"sjd"')),
                genuine.split(".")[2],
            ]
        ),
    }


def test_tokens_the_bridge_did_not_sign_are_refused(login_bridge: RunningBridge, entra: FakeEntra) -> None:
    genuine = sign_in(login_bridge, entra, new_user("Bridge.User"))["access_token"]
    for name, token in forgeries(entra, genuine).items():
        answer = ask(login_bridge, token)
        assert answer.status_code == 401, name
        assert answer.headers["x-should-retry"] == "false", name


# ----- in process: two instances, the clock, other tenants -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


RowsMaker = Callable[[], Rows]


@pytest.fixture
def idp(entra: FakeEntra) -> FakeEntra:
    """The Entra stand-in with the in-process bridge's redirect URI registered."""
    entra.redirect_uris.add(BASE + "/oauth/callback")
    return entra


@pytest.fixture(params=STORES)
async def make_rows(request: pytest.FixtureRequest) -> AsyncIterator[RowsMaker]:
    if request.param == "memory":
        shared = MemoryRows()
        yield lambda: shared
        return
    async with FreshTable(request.getfixturevalue("azurite"), "login") as table:
        yield lambda: TableRows(table.open())


async def _noted(_person: Caller) -> None:
    return None


def service(entra: FakeEntra, rows: Rows, clock: Clock, *, tenant: str | None = None, federated: bool = False) -> LoginService:
    """A LoginService against the stand-in: with its client secret, or (`federated`) the managed identity's token."""
    config = entra.config("Bridge.User")
    tokens = LoginTokens(KEY, audience=config.client_id, tenant_id=tenant or config.tenant_id, lifetime_seconds=3600, clock=clock)
    return LoginService(
        rows,
        tokens,
        EntraClient(config, client_secret=None if federated else entra.client_secret),
        EntraVerifier(config),
        _noted,
        clock=clock,
    )


async def approved(instance: LoginService, entra: FakeEntra, person: User) -> dict[str, Any]:
    """A device grant `person` approved in a browser (through `instance`): the device authorization answer."""
    entra.signing_in = person
    grant = await instance.start(BASE, "10.0.0.1", "claude_code")
    begun = await instance.begin(grant["user_code"], BASE, "10.0.0.1")
    async with httpx.AsyncClient(trust_env=False) as browser:
        back = await browser.get(begun.authorize_url)
    query = parse_qs(urlsplit(back.headers["location"]).query)
    await instance.finish(query["state"][0], query["code"][0], None, begun.browser_secret)
    return grant


@pytest.mark.anyio
async def test_two_instances_polling_at_once_issue_one_token(make_rows: RowsMaker, idp: FakeEntra) -> None:
    clock = Clock()
    first, second = service(idp, make_rows(), clock), service(idp, make_rows(), clock)
    grant = await approved(first, idp, new_user("Bridge.User"))
    outcomes = await asyncio.gather(
        *(instance.poll(grant["device_code"]) for instance in (first, second, first, second)), return_exceptions=True
    )
    issued = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, OAuthError)]
    assert len(issued) == 1 and len(refused) == 3, outcomes
    assert {o.error for o in refused} == {"invalid_grant"}


@pytest.mark.anyio
async def test_two_instances_refreshing_at_once_leave_one_or_none_standing(make_rows: RowsMaker, idp: FakeEntra) -> None:
    clock = Clock()
    first, second = service(idp, make_rows(), clock), service(idp, make_rows(), clock)
    grant = await approved(first, idp, new_user("Bridge.User"))
    tokens = await first.poll(grant["device_code"])
    outcomes = await asyncio.gather(
        first.refresh(tokens["refresh_token"]), second.refresh(tokens["refresh_token"]), return_exceptions=True
    )
    assert sum(isinstance(o, dict) for o in outcomes) <= 1, "never two live copies of one session"
    assert any(isinstance(o, OAuthError) and o.error == "invalid_grant" for o in outcomes)


@pytest.mark.anyio
async def test_a_device_code_expires_and_a_late_approval_is_refused(make_rows: RowsMaker, idp: FakeEntra) -> None:
    clock = Clock()
    instance = service(idp, make_rows(), clock)
    grant = await instance.start(BASE, "10.0.0.2", None)
    clock.now += 601
    with pytest.raises(OAuthError) as expired:
        await instance.poll(grant["device_code"])
    assert expired.value.error == "expired_token"
    with pytest.raises(PageError, match="expired"):
        await instance.begin(grant["user_code"], BASE, "10.0.0.2")


@pytest.mark.anyio
async def test_a_browser_flow_expires(make_rows: RowsMaker, idp: FakeEntra) -> None:
    clock = Clock()
    instance = service(idp, make_rows(), clock)
    idp.signing_in = new_user("Bridge.User")
    grant = await instance.start(BASE, "10.0.0.3", None)
    begun = await instance.begin(grant["user_code"], BASE, "10.0.0.3")
    async with httpx.AsyncClient(trust_env=False) as browser:
        back = await browser.get(begun.authorize_url)
    query = parse_qs(urlsplit(back.headers["location"]).query)
    clock.now += 601
    with pytest.raises(PageError, match=r"too long|expired"):
        await instance.finish(query["state"][0], query["code"][0], None, begun.browser_secret)


@pytest.mark.anyio
async def test_a_bridge_token_naming_another_tenant_is_refused(idp: FakeEntra) -> None:
    clock = Clock()
    rows = MemoryRows()
    ours = service(idp, rows, clock)
    grant = await approved(ours, idp, new_user("Bridge.User"))
    token = (await ours.poll(grant["device_code"]))["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False}) | {"tid": OTHER_TENANT}
    resigned = jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": key_id(KEY)})
    with pytest.raises(Exception, match="tenant"):
        await ours.caller(resigned)
    other = service(idp, rows, clock, tenant=OTHER_TENANT)
    with pytest.raises(Exception, match="tenant"):
        await other.caller(token)
    assert claims["iss"] == ISSUER
