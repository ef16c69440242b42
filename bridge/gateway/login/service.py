"""Each step of `/login`, as functions of what the client or the browser sent (their HTTP: `bridge.fronts.login`).

The rows (`rows.Rows`, table `bridgelogin`):

    row                       PartitionKey    RowKey    fields
    device grant              user code       grant     SecretHash (of the device code's secret), Expires,
                                                        Interval, LastPoll, Surface, State: pending → approved
                                                        (SessionId) → taken, or denied
    browser flow              digest(state)   flow      UserCode, Verifier (PKCE), Nonce, BrowserHash (the
                                                        cookie that binds the flow to one browser), RedirectUri,
                                                        Expires; deleted when the callback takes it
    session                   session id      session   the person (`caller_fields`), EntraRefresh
                                                        (Entra's refresh token: never leaves the bridge),
                                                        RefreshHash, PreviousHash, Created, Refreshed, Revoked
    attempts                  rate-<what>-    window    Count (sign-ins started, wrong codes entered): per
                                                        client address and 10-minute window
                              digest(address)

Who may do what, and the attacks each step is built against (tests/test_login_attacks.py probes them):

    step                     refuses
    start (device code)      more than STARTS_PER_WINDOW per address (429)
    begin (POST /device)     a cross-site form (the front checks Origin / Sec-Fetch-Site); a user code that
                             is unknown, expired or used; any code after GUESSES_PER_WINDOW wrong ones from
                             the address
    finish (callback)        an unknown, replayed or expired state; a flow begun in another browser (cookie);
                             Entra's answer without the right PKCE verifier (Entra refuses it); an ID token
                             without the flow's nonce; a person the bridge refuses (tenant, scope, role)
    poll (device code)       an unknown or forged device code; one taken already (by any instance: the
                             grant is replaced If-Match its ETag, one winner); too fast (slow_down)
    refresh                  an unknown or reused refresh token (reuse revokes the session: a stolen copy
                             and the real one cannot both live); Entra's refusal and the bridge's (a
                             disabled account, a removed role) revoke the session: 401 invalid_grant
    caller (every request)   a token the bridge did not sign (`tokens`), a revoked session
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import jwt

from bridge.errors import BridgeError
from bridge.gateway.auth.caller import Caller, caller_fields, caller_of
from bridge.gateway.auth.entra import LEEWAY_SECONDS, EntraVerifier
from bridge.gateway.login import codes
from bridge.gateway.login.endpoints import CALLBACK_PATH, VERIFICATION_PATH
from bridge.gateway.login.entra_client import EntraClient, EntraError, EntraTokens
from bridge.gateway.login.errors import OAuthError, PageError
from bridge.gateway.login.rows import Row, Rows
from bridge.gateway.login.tokens import LoginTokens, refused

GRANT_SECONDS = 600
POLL_INTERVAL_SECONDS = 5
FLOW_SECONDS = 600
STARTS_PER_WINDOW = 60
"""Sign-ins one client address may start per window (a network behind one NAT address starts many)."""
GUESSES_PER_WINDOW = 20
"""Wrong, expired or used codes one address may enter per window before it may enter none (RFC 8628 §5.1)."""
WINDOW_SECONDS = 600
MAX_ATTEMPTS = 20

GRANT_ROW, FLOW_ROW, SESSION_ROW = "grant", "flow", "session"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Begun:
    """A browser flow on its way to Entra: where to send the browser, and the cookie that binds it."""

    authorize_url: str
    browser_secret: str


def _too_many(what: str) -> tuple[str, dict[str, str]]:
    return (
        f"Too many {what} from this address: wait {WINDOW_SECONDS // 60} minutes and try again",
        {"retry-after": str(WINDOW_SECONDS)},
    )


class LoginService:
    def __init__(
        self,
        rows: Rows,
        tokens: LoginTokens,
        entra: EntraClient,
        verifier: EntraVerifier,
        note_sign_in: Callable[[Caller], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rows = rows
        self.tokens = tokens
        self.entra = entra
        self.verifier = verifier
        self._note_sign_in = note_sign_in
        self._clock = clock

    # ----- rate limits ---------------------------------------------------------------------------------

    def _attempts_row(self, what: str, address: str) -> tuple[str, str]:
        return f"rate-{what}-{codes.digest(address)[:32]}", str(int(self._clock() // WINDOW_SECONDS))

    async def _over_limit(self, what: str, address: str, limit: int) -> bool:
        found = await self.rows.read(*self._attempts_row(what, address))
        return found is not None and int(found[0].get("Count", 0)) >= limit

    async def _count(self, what: str, address: str) -> None:
        """One more attempt of `what` from `address` in this window (a lost race counts again)."""
        partition, window = self._attempts_row(what, address)
        for _ in range(MAX_ATTEMPTS):
            found = await self.rows.read(partition, window)
            entity = {"PartitionKey": partition, "RowKey": window, "Count": int(found[0].get("Count", 0)) + 1 if found else 1}
            if await (self.rows.replace(entity, found[1]) if found is not None else self.rows.insert(entity)):
                return

    # ----- device authorization (RFC 8628 §3.1, §3.2) ----------------------------------------------------

    async def start(self, base_url: str, address: str, surface: str | None) -> dict[str, Any]:
        if await self._over_limit("start", address, STARTS_PER_WINDOW):
            message, headers = _too_many("sign-ins started")
            raise OAuthError("slow_down", message, 429, headers)
        await self._count("start", address)
        now = self._clock()
        secret = codes.new_secret()
        for _ in range(MAX_ATTEMPTS):
            user_code = codes.new_user_code()
            grant = {
                "PartitionKey": user_code,
                "RowKey": GRANT_ROW,
                "SecretHash": codes.digest(secret),
                "State": "pending",
                "Expires": now + GRANT_SECONDS,
                "Interval": POLL_INTERVAL_SECONDS,
                "LastPoll": 0.0,
                "Surface": (surface or "")[:64],
            }
            if await self.rows.insert(grant) or await self._reuse_expired(grant):
                break
        else:
            raise OAuthError("temporarily_unavailable", "Could not allot a user code; try again", 503)
        verification = base_url + VERIFICATION_PATH
        return {
            "device_code": codes.device_code(user_code, secret),
            "user_code": codes.shown(user_code),
            "verification_uri": verification,
            "verification_uri_complete": f"{verification}?user_code={codes.shown(user_code)}",
            "expires_in": GRANT_SECONDS,
            "interval": POLL_INTERVAL_SECONDS,
        }

    async def _reuse_expired(self, grant: Row) -> bool:
        """A user code whose grant expired long ago may serve again (never one still in use)."""
        found = await self.rows.read(grant["PartitionKey"], GRANT_ROW)
        if found is None or float(found[0].get("Expires", 0)) + GRANT_SECONDS > self._clock():
            return False
        return await self.rows.replace(grant, found[1])

    async def _live_grant(self, typed: str) -> tuple[Row, str]:
        user_code = codes.user_code_of(typed)
        found = await self.rows.read(user_code, GRANT_ROW) if user_code is not None else None
        if found is None:
            raise PageError("That code is not one this bridge gave out. Check it against the code Claude Code shows.")
        grant, etag = found
        if grant.get("State") != "pending":
            raise PageError("That code has been used already. Run /login in Claude Code again for a new one.")
        if float(grant["Expires"]) <= self._clock():
            raise PageError("That code has expired. Run /login in Claude Code again for a new one.")
        return grant, etag

    async def _guarded_grant(self, typed: str, address: str) -> tuple[Row, str]:
        """The live grant of a code a person entered; a wrong code counts against their address's guesses."""
        if await self._over_limit("guess", address, GUESSES_PER_WINDOW):
            message, headers = _too_many("wrong codes entered")
            raise PageError(message, 429, headers)
        try:
            return await self._live_grant(typed)
        except PageError:
            await self._count("guess", address)
            raise

    # ----- the verification page and Entra ---------------------------------------------------------------

    async def begin(self, typed: str, base_url: str, address: str) -> Begun:
        """The person confirmed the code: a browser flow to Entra (PKCE, state, nonce), bound to this browser."""
        grant, _ = await self._guarded_grant(typed, address)
        state, nonce, browser = codes.new_secret(), codes.new_secret(), codes.new_secret()
        verifier, challenge = codes.pkce_pair()
        redirect_uri = base_url + CALLBACK_PATH
        await self.rows.insert(
            {
                "PartitionKey": codes.digest(state),
                "RowKey": FLOW_ROW,
                "UserCode": grant["PartitionKey"],
                "Verifier": verifier,
                "Nonce": nonce,
                "BrowserHash": codes.digest(browser),
                "RedirectUri": redirect_uri,
                "Expires": self._clock() + FLOW_SECONDS,
            }
        )
        url = self.entra.authorize_url(redirect_uri=redirect_uri, state=state, nonce=nonce, challenge=challenge)
        return Begun(url, browser)

    async def deny(self, typed: str, address: str) -> None:
        grant, etag = await self._guarded_grant(typed, address)
        await self.rows.replace({**grant, "State": "denied"}, etag)

    async def finish(self, state: str, code: str | None, error: str | None, browser_secret: str | None) -> Caller:
        """Entra sent the browser back: the flow taken once, the code redeemed, the person checked, the grant approved."""
        flow = await self._take_flow(state, browser_secret)
        if error is not None or not code:
            raise PageError(f"Microsoft Entra ID did not sign you in ({(error or 'no code')[:80]}). Run /login again.")
        try:
            answer = await self.entra.redeem(code, redirect_uri=str(flow["RedirectUri"]), verifier=str(flow["Verifier"]))
        except EntraError as exc:
            raise self._page_error(exc) from None
        person = await self._person(answer, nonce=str(flow["Nonce"]))
        if answer.refresh_token is None:
            raise PageError("Microsoft Entra ID gave no refresh token (offline_access); ask an administrator.", 502)
        session_id = codes.new_session_id()
        now = self._clock()
        await self.rows.insert(
            {
                "PartitionKey": session_id,
                "RowKey": SESSION_ROW,
                **caller_fields(person),
                "EntraRefresh": answer.refresh_token,
                "RefreshHash": "",
                "PreviousHash": "",
                "Created": now,
                "Refreshed": now,
                "Revoked": False,
            }
        )
        grant, etag = await self._live_grant(str(flow["UserCode"]))
        if not await self.rows.replace({**grant, "State": "approved", "SessionId": session_id}, etag):
            await self._revoke_session(session_id)
            raise PageError("That code was used meanwhile. Run /login in Claude Code again for a new one.")
        await self._note_sign_in(person)
        return person

    async def _take_flow(self, state: str, browser_secret: str | None) -> Row:
        found = await self.rows.read(codes.digest(state), FLOW_ROW) if state else None
        if found is None:
            raise PageError("This sign-in link is unknown or was used already. Run /login in Claude Code again.")
        flow, etag = found
        if browser_secret is None or not codes.matches(browser_secret, flow.get("BrowserHash")):
            raise PageError("This sign-in was started in another browser. Open the link Claude Code shows here.", 403)
        if flow.get("Taken") or not await self.rows.replace({**flow, "Taken": True}, etag):
            raise PageError("This sign-in link was used already. Run /login in Claude Code again.")
        await self.rows.delete(flow["PartitionKey"], FLOW_ROW)
        if float(flow["Expires"]) <= self._clock():
            raise PageError("This sign-in took too long. Run /login in Claude Code again.")
        return flow

    def _page_error(self, exc: EntraError) -> PageError:
        if exc.failure == "outage":
            return PageError("Microsoft Entra ID is not answering just now; try again in a minute.", 503)
        if exc.failure == "misconfigured":
            log.error("signing in at Entra ID failed: the bridge's client credential was refused: %s", exc)
            return PageError("The bridge could not sign you in: its Entra ID credential was refused (see its log).", 500)
        return PageError(f"Microsoft Entra ID refused the sign-in ({exc.error}). Run /login again.")

    async def _person(self, answer: EntraTokens, *, nonce: str | None) -> Caller:
        """The person Entra's tokens name, checked as any caller is; with `nonce`, the ID token must carry it."""
        try:
            person = await self.verifier.verify(answer.access_token)
        except BridgeError as exc:
            raise PageError(exc.message, 403) from None
        if nonce is not None:
            await self._check_id_token(answer.id_token, nonce, person)
        return replace(person, method="login")

    async def _check_id_token(self, id_token: str | None, nonce: str, person: Caller) -> None:
        config = self.verifier.config
        try:
            if id_token is None:
                raise jwt.InvalidTokenError("no ID token")
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self.verifier.keys.key(str(kid))
            claims = jwt.decode(
                id_token, key.key, algorithms=["RS256"], audience=config.client_id, issuer=config.issuer, leeway=LEEWAY_SECONDS
            )
        except (jwt.InvalidTokenError, BridgeError) as exc:
            raise PageError(f"Microsoft Entra ID's ID token was refused ({str(exc)[:120]}). Run /login again.", 403) from None
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce) or claims.get("oid") != person.user_id:
            raise PageError("Microsoft Entra ID's answer does not belong to this sign-in. Run /login again.", 403)

    # ----- the token endpoint (RFC 8628 §3.4, §3.5; RFC 6749 §6) -----------------------------------------------

    async def poll(self, device_code: str) -> dict[str, Any]:
        parsed = codes.parse_device_code(device_code)
        found = await self.rows.read(parsed[0], GRANT_ROW) if parsed is not None else None
        if parsed is None or found is None or not codes.matches(parsed[1], found[0].get("SecretHash")):
            raise OAuthError("invalid_grant", "Unknown device code: run /login again")
        grant, etag = found
        state, now = grant.get("State"), self._clock()
        if state == "taken":
            raise OAuthError("invalid_grant", "This device code has been used already: run /login again")
        if state == "denied":
            raise OAuthError("access_denied", "The sign-in was denied on the verification page")
        if float(grant["Expires"]) <= now:
            raise OAuthError("expired_token", "The device code expired before anyone signed in: run /login again")
        if state == "pending":
            too_fast = now - float(grant.get("LastPoll", 0.0)) < float(grant.get("Interval", POLL_INTERVAL_SECONDS)) / 2
            await self.rows.replace({**grant, "LastPoll": now}, etag)
            if too_fast:
                raise OAuthError("slow_down", "Polling faster than the interval")
            raise OAuthError("authorization_pending", "Waiting for the person to sign in on the verification page")
        if not await self.rows.replace({**grant, "State": "taken"}, etag):
            raise OAuthError("invalid_grant", "This device code has been used already: run /login again")
        return await self._issue(str(grant.get("SessionId", "")))

    async def _issue(self, session_id: str, person: Caller | None = None) -> dict[str, Any]:
        """Tokens for the session: a new refresh token replaces the last (its digest kept to catch a reuse)."""
        for _ in range(MAX_ATTEMPTS):
            found = await self.rows.read(session_id, SESSION_ROW)
            if found is None or found[0].get("Revoked"):
                raise OAuthError("invalid_grant", "The session was revoked: run /login again", 401)
            session, etag = found
            secret = codes.new_secret()
            updated = {**session, "PreviousHash": session.get("RefreshHash", ""), "RefreshHash": codes.digest(secret)}
            if person is not None:
                updated |= caller_fields(person)
            if await self.rows.replace(updated, etag):
                owner = caller_of(updated, "login")
                return {
                    "access_token": self.tokens.issue(owner, session_id),
                    "token_type": "Bearer",
                    "expires_in": self.tokens.lifetime_seconds,
                    "refresh_token": codes.refresh_token(session_id, secret),
                    "email": owner.name,
                }
        raise OAuthError("temporarily_unavailable", "Could not store the session; try again", 503)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        parsed = codes.parse_refresh_token(refresh_token)
        found = await self.rows.read(parsed[0], SESSION_ROW) if parsed is not None else None
        if parsed is None or found is None or found[0].get("Revoked"):
            raise OAuthError("invalid_grant", "Unknown or revoked refresh token: run /login again", 401)
        session_id, secret = parsed
        session, etag = found
        if not codes.matches(secret, session.get("RefreshHash")):
            if codes.matches(secret, session.get("PreviousHash")):
                log.warning("a used refresh token of %s came back: session %s revoked", session.get("OwnerId"), session_id)
                await self._revoke_session(session_id)
                raise OAuthError("invalid_grant", "This refresh token was used already: signed out, run /login again", 401)
            raise OAuthError("invalid_grant", "Unknown refresh token: run /login again", 401)
        try:
            answer = await self.entra.refresh(str(session["EntraRefresh"]))
            person = await self._person(answer, nonce=None)
        except EntraError as exc:
            if exc.failure == "refused":
                await self._revoke_session(session_id)
                raise OAuthError("invalid_grant", f"Microsoft Entra ID refused ({exc.error}): run /login again", 401) from None
            if exc.failure == "misconfigured":
                log.error("refreshing at Entra ID failed: the bridge's client credential was refused: %s", exc)
            raise OAuthError(
                "temporarily_unavailable", "Microsoft Entra ID could not be asked just now; try again", 503
            ) from None
        except PageError as exc:
            await self._revoke_session(session_id)
            raise OAuthError("invalid_grant", f"{exc.message}: run /login again", 401) from None
        rotated = {**session, "EntraRefresh": answer.refresh_token or session["EntraRefresh"], "Refreshed": self._clock()}
        if not await self.rows.replace(rotated, etag):
            await self._revoke_session(session_id)
            raise OAuthError("invalid_grant", "This refresh token was used twice at once: signed out, run /login again", 401)
        await self._note_sign_in(person)
        return await self._issue(session_id, person)

    # ----- revocation (RFC 7009) and every request -----------------------------------------------------------

    async def revoke(self, token: str) -> None:
        """Revoke the session `token` (an access or a refresh token) belongs to; anything else is ignored."""
        parsed = codes.parse_refresh_token(token)
        if parsed is not None:
            found = await self.rows.read(parsed[0], SESSION_ROW)
            if found is not None and codes.matches(parsed[1], found[0].get("RefreshHash")):
                await self._revoke_session(parsed[0])
            return
        if self.tokens.issued_here(token):
            try:
                await self._revoke_session(self.tokens.check(token, expired_ok=True).session_id)
            except BridgeError:
                return

    async def _revoke_session(self, session_id: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            found = await self.rows.read(session_id, SESSION_ROW)
            if found is None or found[0].get("Revoked"):
                return
            session, etag = found
            revoked = {**session, "Revoked": True, "EntraRefresh": "", "RefreshHash": "", "PreviousHash": ""}
            if await self.rows.replace(revoked, etag):
                return

    def issued_here(self, token: str) -> bool:
        return self.tokens.issued_here(token)

    async def caller(self, token: str) -> Caller:
        """The person a bridge access token names, while its session lives; a 401 otherwise."""
        claimed = self.tokens.check(token)
        found = await self.rows.read(claimed.session_id, SESSION_ROW)
        if found is None or found[0].get("Revoked") or found[0].get("OwnerId") != claimed.person.user_id:
            raise refused("its session was signed out or revoked")
        self.verifier.require_role(claimed.person)
        return claimed.person
