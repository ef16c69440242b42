"""The HTTP side of Claude Code's `/login` (routes: `bridge.routes`; each step: `bridge.gateway.login.service`).

    handler                request                                   answer
    oauth_discovery        GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
    device_authorization   POST /oauth/device_authorization (form)   RFC 8628 §3.2 JSON, or an OAuth error
    oauth_token            POST /oauth/token (form)                  tokens, or an OAuth error (RFC 6749 §5.2)
    oauth_revoke           POST /oauth/revoke (form)                 200, always (RFC 7009 §2.2)
    verification_page      GET  /device[?user_code=]                 the confirm form (HTML)
    verify_code            POST /device (form, same origin)          303 to Entra ID, with the flow's cookie
    deny_code              POST /device/deny (form, same origin)     "denied" (HTML)
    oauth_callback         GET  /oauth/callback?code&state           "signed in" or why not (HTML); never a redirect

Unknown form fields are ignored (RFC 6749 §3.2, RFC 8628 §3.1); no client_id is asked for.  The browser
forms must come from this bridge's own page: a POST whose `Sec-Fetch-Site` is not `same-origin`, or
whose `Origin` is another origin (or absent, with no `Sec-Fetch-Site` either), is refused with 403, so
another site cannot make a signed-in browser approve a code.  The client's address (for the per-address
limits) is the last `X-Forwarded-For` entry (the one the platform's front end adds), else the peer's.
Without CLIENT_AUTH=entra every route answers 404: there is no one to sign in.  (No `from __future__
import annotations`: the Functions worker reads the handlers' real parameter types.)
"""

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bridge.errors import BridgeError
from bridge.gateway.login import page
from bridge.gateway.login.endpoints import DEVICE_GRANT
from bridge.gateway.login.endpoints import discovery as metadata
from bridge.gateway.login.errors import OAuthError, PageError
from bridge.serving.inbound import new_request_id
from bridge.serving.outbound import json_response
from bridge.serving.process import Bridge, current_bridge
from bridge.telemetry.request_log import RequestLog

if TYPE_CHECKING:
    # the service (PyJWT, Azure Tables) is imported where the gateway is built, only when /login is offered;
    # annotations naming it are quoted (this module's annotations are evaluated: see above)
    from bridge.gateway.login.service import Begun, LoginService

MAX_FORM_BYTES = 16 * 1024
BROWSER_COOKIE = "cab_login"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

log = logging.getLogger(__name__)


def base_url(req: HttpRequest, bridge: Bridge) -> str:
    """The bridge's own URL: LOGIN_BASE_URL, else the scheme and host the request came to."""
    configured = bridge.gateway_settings.login.base_url
    return configured if configured is not None else f"{req.url.scheme}://{req.url.netloc}"


def client_address(req: HttpRequest) -> str:
    forwarded = [part.strip() for part in req.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    if forwarded:
        return forwarded[-1]
    return req.client.host if req.client is not None else "unknown"


def same_origin(req: HttpRequest, own: str) -> bool:
    site = req.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = req.headers.get("origin")
    if origin is not None:
        parts = urlsplit(own)
        return origin.rstrip("/").lower() == f"{parts.scheme}://{parts.netloc}".lower()
    return site == "same-origin"


async def read_form(req: HttpRequest) -> dict[str, str]:
    """The form fields (the first of each name); an oversized or undecodable body is a 400."""
    raw = b""
    async for chunk in req.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", f"The form is larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The form is not UTF-8") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _oauth_response(error: OAuthError) -> Response:
    return json_response(error.body(), error.status, headers={**NO_STORE, **error.headers})


def _html(body: str, status: int, bridge: Bridge, headers: dict[str, str] | None = None) -> HTMLResponse:
    entra = bridge.gateway_settings.entra
    authority = urlsplit(entra.authority) if entra is not None else None
    origin = f"{authority.scheme}://{authority.netloc}" if authority is not None else ""
    return HTMLResponse(body, status, headers={**page.headers(origin), **(headers or {})})


Step = Callable[["LoginService", Bridge], Awaitable[Response]]


async def _serve(req: HttpRequest, route: str, step: Step, *, browser: bool = False) -> Response:
    """Around every step: the log line, sign-in being on at all, and errors in the shape the caller reads."""
    record = RequestLog(new_request_id(), route).start(req.headers)
    bridge: Bridge | None = None
    try:
        bridge = current_bridge()
        if bridge.lockout is not None:
            raise BridgeError("api_error", f"The bridge is not serving: {bridge.lockout}", http_status=503)
        service = bridge.gateway.login
        if service is None:
            raise OAuthError(
                "not_found",
                "This bridge does not offer /login: it needs CLIENT_AUTH=entra and, where its instances share "
                "tables (USAGE_TABLE_ENDPOINT), LOGIN_SIGNING_KEY",
                404,
            )
        response = await step(service, bridge)
    except OAuthError as error:
        record.error_type = error.error
        response = _html(page.refused(error.description), error.status, bridge) if browser and bridge else _oauth_response(error)
    except PageError as error:
        record.error_type = "page_error"
        assert bridge is not None
        response = _html(page.refused(error.message), error.status, bridge, error.headers)
    except BridgeError as error:
        record.error_type = error.kind
        failure = OAuthError("temporarily_unavailable", error.message, error.status if error.status >= 500 else 503)
        response = _html(page.refused(error.message), failure.status, bridge) if browser and bridge else _oauth_response(failure)
    except Exception:
        log.exception("request %s failed", record.request_id)
        record.error_type = "api_error"
        response = _oauth_response(OAuthError("server_error", "The bridge hit an internal error", 500))
    record.emit(response.status_code)
    return response


async def oauth_discovery(req: HttpRequest) -> Response:
    async def step(_service: "LoginService", bridge: Bridge) -> Response:
        return json_response(metadata(base_url(req, bridge)))

    return await _serve(req, "oauth_discovery", step)


async def device_authorization(req: HttpRequest) -> Response:
    async def step(service: "LoginService", bridge: Bridge) -> Response:
        form = await read_form(req)
        answer = await service.start(base_url(req, bridge), client_address(req), form.get("surface"))
        return json_response(answer, headers=NO_STORE)

    return await _serve(req, "device_authorization", step)


async def oauth_token(req: HttpRequest) -> Response:
    async def step(service: "LoginService", _bridge: Bridge) -> Response:
        form = await read_form(req)
        grant = form.get("grant_type", "")
        answer: dict[str, Any]
        if grant == DEVICE_GRANT:
            answer = await service.poll(form.get("device_code", ""))
        elif grant == "refresh_token":
            answer = await service.refresh(form.get("refresh_token", ""))
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type must be {DEVICE_GRANT} or refresh_token")
        return json_response(answer, headers=NO_STORE)

    return await _serve(req, "oauth_token", step)


async def oauth_revoke(req: HttpRequest) -> Response:
    async def step(service: "LoginService", _bridge: Bridge) -> Response:
        form = await read_form(req)
        await service.revoke(form.get("token", ""))
        return Response(status_code=200, headers=NO_STORE)

    return await _serve(req, "oauth_revoke", step)


async def verification_page(req: HttpRequest) -> Response:
    async def step(_service: "LoginService", bridge: Bridge) -> Response:
        typed = req.query_params.get("user_code")
        return _html(page.confirm(typed[:20] if typed else None), 200, bridge)

    return await _serve(req, "verification_page", step, browser=True)


def _cross_site() -> PageError:
    return PageError("This request came from another site and was blocked. Open the link Claude Code shows.", 403)


async def verify_code(req: HttpRequest) -> Response:
    async def step(service: "LoginService", bridge: Bridge) -> Response:
        own = base_url(req, bridge)
        if not same_origin(req, own):
            raise _cross_site()
        form = await read_form(req)
        begun: Begun = await service.begin(form.get("user_code", ""), own, client_address(req))
        response = RedirectResponse(begun.authorize_url, status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            BROWSER_COOKIE,
            begun.browser_secret,
            max_age=600,
            path="/oauth/callback",
            secure=own.startswith("https://"),
            httponly=True,
            samesite="lax",
        )
        return response

    return await _serve(req, "verify_code", step, browser=True)


async def deny_code(req: HttpRequest) -> Response:
    async def step(service: "LoginService", bridge: Bridge) -> Response:
        if not same_origin(req, base_url(req, bridge)):
            raise _cross_site()
        form = await read_form(req)
        await service.deny(form.get("user_code", ""), client_address(req))
        return _html(page.denied(), 200, bridge)

    return await _serve(req, "deny_code", step, browser=True)


async def oauth_callback(req: HttpRequest) -> Response:
    async def step(service: "LoginService", bridge: Bridge) -> Response:
        query = req.query_params
        person = await service.finish(
            query.get("state", ""), query.get("code"), query.get("error"), req.cookies.get(BROWSER_COOKIE)
        )
        response = _html(page.signed_in(person.name), 200, bridge)
        response.delete_cookie(BROWSER_COOKIE, path="/oauth/callback")
        return response

    return await _serve(req, "oauth_callback", step, browser=True)
