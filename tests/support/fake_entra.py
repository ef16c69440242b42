"""A stand-in for the Microsoft identity platform's token signing, as a protected web API sees it.

It serves what a resource server reads from Entra ID (v2.0 endpoints):

    GET /{tenant}/v2.0/.well-known/openid-configuration   issuer {url}/{tenant}/v2.0, jwks_uri
    GET /{tenant}/discovery/v2.0/keys                      {"keys": [RSA public JWKs with kid, use "sig"]}

and mints access tokens as Entra does (RS256, `kid` in the header): v2.0
(aud = the client id, iss {url}/{tenant}/v2.0, preferred_username, ver
"2.0") and v1.0, what an app registration left at its default gets (aud
api://<client id>, iss https://sts.windows.net/{tenant}/, upn, ver "1.0"),
with tid, oid, name, roles, groups, scp (the bridge's delegated scope), iat,
nbf, exp, for the two test users, any claim or header overridden.  Besides a
person's tokens it mints an application's (`app_token`: the client credentials
flow, `idtyp` "app", no `scp`, only the app roles assigned to the service
principal) and a person's token with a groups overage (`overage_token`: more
groups than a token holds, so `_claim_names`/`_claim_sources` point to
Microsoft Graph instead of a `groups` claim).  `down` makes both endpoints
answer 503; `hang_seconds` makes them wait that long first.  Keys are RSA keys
generated here with `cryptography`; `rotate()` publishes a new key and retires
the old one, as Entra's key rollover does.

It also signs people in to a confidential client, as the v2.0 endpoints do for
the bridge's `/login` (and as the capture's IdP did, it approves at once):

    GET  /{tenant}/oauth2/v2.0/authorize   client_id, response_type=code, redirect_uri (must be one of
                                           `redirect_uris`, else a 400 page and no redirect: AADSTS50011),
                                           state, nonce, code_challenge (S256) → 302 redirect_uri?code&state
                                           for `signing_in`, or ?error=access_denied with `deny_next`
    POST /{tenant}/oauth2/v2.0/token       authorization_code (single use, the same redirect_uri, the PKCE
                                           verifier) or refresh_token; the client authenticates with
                                           `client_secret` (client_secret_post) or a `client_assertion` that
                                           `trusts_assertion` accepts (a managed identity's token through a
                                           federated credential).  Answers a v2.0 access token for the
                                           client's own API (its current roles: `set_roles`), an ID token
                                           with the nonce, and a new refresh token; `refuse(user)` makes a
                                           disabled account (400 invalid_grant, AADSTS50057)

Not covered: consent, conditional access and MFA prompts, `prompt`/`login_hint`, token lifetimes other than
one hour, refresh tokens that expire, the error codes beyond those above.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bridge.gateway.auth.entra_config import EntraConfig

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
CLIENT_ID = "3f1e2d4c-5b6a-4789-8abc-def012345678"
LIFETIME_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class User:
    object_id: str
    username: str
    name: str
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


ALICE = User(
    "0c5e4f3a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "alice@contoso.example",
    "Alice Example",
    roles=("Bridge.User", "Bridge.Lead"),
    groups=("6d1f0c9e-2222-4bbb-9ccc-0123456789ab",),
)
BOB = User("7a8b9c0d-1e2f-4a5b-9c6d-7e8f9a0b1c2d", "bob@contoso.example", "Bob Example", roles=("Bridge.User",))


@dataclass(frozen=True, slots=True)
class App:
    """An application of the tenant (a service principal, or a managed identity) calling with its own identity."""

    object_id: str
    """The service principal's object id (a client credentials token's `oid` and `sub`)."""
    app_id: str
    """Its application (client) id (`azp` in v2.0 tokens, `appid` in v1.0)."""
    roles: tuple[str, ...] = ()


BUILD_SERVER = App("9e1d2c3b-4a5f-4e6d-8c7b-0a1b2c3d4e5f", "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "x5t": self.kid}

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_user(*roles: str) -> User:
    """A user nobody else in the test run is: a fresh object id, so their usage starts at zero."""
    object_id = str(uuid.uuid4())
    return User(object_id, f"user-{object_id[:8]}@contoso.example", f"User {object_id[:8]}", roles=roles)


def b64(data: bytes) -> str:
    """base64url without padding, as JWS segments are."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: Mapping[str, object], claims: Mapping[str, object], hmac_key: bytes | None = None) -> str:
    """A JWS built by hand, as an attacker would: HMAC-SHA256-signed with `hmac_key`, or unsigned (`alg: none`)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b64(hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()) if hmac_key is not None else ""
    return f"{signing_input}.{signature}"


def new_signing_key() -> SigningKey:
    return SigningKey(secrets.token_urlsafe(20), rsa.generate_private_key(public_exponent=65537, key_size=2048))


class FakeEntra:
    """Entra ID's OpenID configuration and key set for any tenant, and a token mint."""

    def __init__(self, tenant: str = TENANT, client_id: str = CLIENT_ID) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self.published: list[SigningKey] = [new_signing_key()]
        self.configuration_requests = 0
        self.key_requests = 0
        self.down = False
        self.hang_seconds = 0.0
        self.url: str | None = None
        self.redirect_uris: set[str] = set()
        self.client_secret = "fake-entra-secret-" + secrets.token_hex(8)
        self.trusts_assertion: Callable[[str], bool] = lambda _assertion: False
        self.signing_in: User = ALICE
        self.deny_next = False
        self.roles: dict[str, tuple[str, ...]] = {}
        self.refused: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, User] = {}
        self.app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._configuration, methods=["GET"]),
                Route("/{tenant}/discovery/v2.0/keys", self._keys, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/authorize", self._authorize, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            ]
        )

    @property
    def authority(self) -> str:
        assert self.url is not None, "serve it with tests.support.serving.running"
        return self.url

    @property
    def signing_key(self) -> SigningKey:
        """The key tokens are signed with: the newest published one."""
        return self.published[-1]

    def config(self, required_role: str | None = None) -> EntraConfig:
        return EntraConfig(self.tenant, self.client_id, self.authority, required_role)

    def bridge_settings(self) -> dict[str, str]:
        """The settings of a bridge that signs callers in against this stand-in (CLIENT_AUTH=entra)."""
        return {
            "CLIENT_AUTH": "entra",
            "ENTRA_TENANT_ID": self.tenant,
            "ENTRA_CLIENT_ID": self.client_id,
            "ENTRA_AUTHORITY": self.authority,
        }

    def login_settings(self) -> dict[str, str]:
        """The settings of a bridge that offers /login against this stand-in (its client secret, a signing key)."""
        return {**self.bridge_settings(), "ENTRA_CLIENT_SECRET": self.client_secret, "LOGIN_SIGNING_KEY": "k" * 40}

    def set_roles(self, user: User, roles: tuple[str, ...]) -> None:
        """The app roles `user` holds from now on (tokens issued later carry them)."""
        self.roles[user.object_id] = roles

    def refuse(self, user: User) -> None:
        """`user`'s account is disabled: Entra refuses every refresh and sign-in."""
        self.refused.add(user.object_id)

    def _current(self, user: User) -> User:
        roles = self.roles.get(user.object_id)
        return user if roles is None else User(user.object_id, user.username, user.name, roles, user.groups)

    def issuer(self, tenant: str | None = None) -> str:
        return f"{self.authority}/{tenant or self.tenant}/v2.0"

    def rotate(self) -> SigningKey:
        """Publish a new signing key and retire the old ones: tokens are signed with the new key from now on."""
        self.published = [new_signing_key()]
        return self.signing_key

    def claims(self, user: User = ALICE, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": self.client_id,
            "iss": self.issuer(),
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECONDS,
            "aio": secrets.token_urlsafe(16),
            "azp": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "azpacr": "0",
            "name": user.name,
            "oid": user.object_id,
            "preferred_username": user.username,
            "rh": "0.A" + secrets.token_urlsafe(8),
            "roles": list(user.roles),
            "groups": list(user.groups),
            "scp": "user_impersonation",
            "sub": secrets.token_urlsafe(32),
            "tid": self.tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self, user: User = ALICE, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token for `user` signed by `key` (default: the current signing key); a claim given as None is left out."""
        key = key or self.signing_key
        return jwt.encode(
            self.claims(user, **claims), key.private_key, algorithm="RS256", headers={"kid": key.kid, **(headers or {})}
        )

    def app_token(self, app: App = BUILD_SERVER, *, version: str = "2.0", **claims: Any) -> str:
        """An application's own token (client credentials, `--resource api://<client id>` as a service principal or
        managed identity): no scope, no name, the app roles assigned to it; `idtyp` "app" as Entra sends it when asked."""
        app_claims: dict[str, Any] = {
            "oid": app.object_id,
            "sub": app.object_id,
            "roles": list(app.roles),
            "groups": None,
            "scp": None,
            "name": None,
            "preferred_username": None,
            "idtyp": "app",
        }
        if version == "2.0":
            app_claims |= {"azp": app.app_id, "azpacr": "1"}
        else:
            v1 = {"aud": f"api://{self.client_id}", "iss": f"https://sts.windows.net/{self.tenant}/", "ver": "1.0"}
            app_claims |= {**v1, "azp": None, "azpacr": None, "appid": app.app_id, "appidacr": "1"}
        return self.token(ALICE, **{**app_claims, **claims})

    def overage_token(self, user: User = ALICE, **claims: Any) -> str:
        """A person in more groups than a token lists (200 in a JWT): no `groups`, a pointer to Microsoft Graph instead."""
        source = {"src1": {"endpoint": f"https://graph.microsoft.com/v1.0/users/{user.object_id}/getMemberObjects"}}
        overage = {"groups": None, "_claim_names": {"groups": "src1"}, "_claim_sources": source}
        return self.token(user, **{**overage, **claims})

    def v1_token(self, user: User = ALICE, **claims: Any) -> str:
        """A v1.0 token, as a registration with requestedAccessTokenVersion null gets for `--resource api://<client id>`."""
        v1 = {"aud": f"api://{self.client_id}", "iss": f"https://sts.windows.net/{self.tenant}/", "ver": "1.0"}
        v1 |= {"upn": user.username, "unique_name": user.username, "preferred_username": None, "azp": None, "azpacr": None}
        v1 |= {"appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "appidacr": "0"}
        return self.token(user, **{**v1, **claims})

    async def _configuration(self, request: Request) -> Response:
        self.configuration_requests += 1
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        if self.down:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        tenant = request.path_params["tenant"]
        return JSONResponse(
            {
                "token_endpoint": f"{self.authority}/{tenant}/oauth2/v2.0/token",
                "jwks_uri": f"{self.authority}/{tenant}/discovery/v2.0/keys",
                "issuer": self.issuer(tenant),
                "authorization_endpoint": f"{self.authority}/{tenant}/oauth2/v2.0/authorize",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
            }
        )

    async def _keys(self, _request: Request) -> Response:
        self.key_requests += 1
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        if self.down:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return JSONResponse({"keys": [key.jwk() for key in self.published]})

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != self.client_id:
            return HTMLResponse("AADSTS700016: application not found in the directory", 400)
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return HTMLResponse("AADSTS50011: the redirect URI does not match the ones registered", 400)
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.deny_next:
            self.deny_next = False
            back |= {"error": "access_denied", "error_description": "AADSTS65004: the user declined"}
        elif query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            back |= {"error": "invalid_request", "error_description": "AADSTS900144: PKCE with S256 is required"}
        else:
            code = secrets.token_urlsafe(32)
            self._codes[code] = {
                "redirect_uri": redirect_uri,
                "challenge": query.get("code_challenge", ""),
                "nonce": query.get("nonce"),
                "user": self.signing_in,
            }
            back["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    def _client_authenticated(self, form: Mapping[str, str]) -> bool:
        if form.get("client_id") != self.client_id:
            return False
        if "client_secret" in form:
            return hmac.compare_digest(form["client_secret"], self.client_secret)
        assertion = form.get("client_assertion")
        kind = form.get("client_assertion_type")
        return (
            assertion is not None
            and kind == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            and (self.trusts_assertion(assertion))
        )

    @staticmethod
    def _error(error: str, description: str, status: int = 400) -> Response:
        code = int(description.split(":")[0].removeprefix("AADSTS")) if description.startswith("AADSTS") else 0
        return JSONResponse({"error": error, "error_description": description, "error_codes": [code]}, status)

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        if self.down:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        if not self._client_authenticated(form):
            return self._error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
        grant = form.get("grant_type")
        nonce: str | None = None
        if grant == "authorization_code":
            issued = self._codes.pop(form.get("code", ""), None)
            if issued is None:
                return self._error("invalid_grant", "AADSTS70008: The provided authorization code has expired or was used.")
            if form.get("redirect_uri") != issued["redirect_uri"]:
                return self._error("invalid_grant", "AADSTS50148: The redirect_uri does not match the one of the code.")
            verifier = form.get("code_verifier", "")
            if b64(hashlib.sha256(verifier.encode()).digest()) != issued["challenge"]:
                return self._error("invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge.")
            user: User = issued["user"]
            nonce = issued["nonce"]
        elif grant == "refresh_token":
            found = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if found is None:
                return self._error("invalid_grant", "AADSTS9002313: Invalid request. The refresh token is malformed.")
            user = found
        else:
            return self._error("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        if user.object_id in self.refused:
            return self._error("invalid_grant", "AADSTS50057: The user account is disabled.")
        user = self._current(user)
        refresh = secrets.token_urlsafe(48)
        self._refresh_tokens[refresh] = user
        now = int(time.time())
        id_claims = {
            "aud": self.client_id,
            "iss": self.issuer(),
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECONDS,
            "oid": user.object_id,
            "sub": secrets.token_urlsafe(16),
            "tid": self.tenant,
            "preferred_username": user.username,
            "name": user.name,
            "ver": "2.0",
            **({"nonce": nonce} if nonce is not None else {}),
        }
        key = self.signing_key
        id_token = jwt.encode(id_claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
        return JSONResponse(
            {
                "token_type": "Bearer",
                "scope": form.get("scope", ""),
                "expires_in": LIFETIME_SECONDS,
                "ext_expires_in": LIFETIME_SECONDS,
                "access_token": self.token(user),
                "refresh_token": refresh,
                "id_token": id_token,
            }
        )
