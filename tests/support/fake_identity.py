"""A stand-in for the App Service / Azure Functions managed identity endpoint.

azure-identity's `ManagedIdentityCredential` (the one `DefaultAzureCredential`
tries third, after the environment and workload-identity credentials) uses it
when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, exactly as a Function
App's platform sets them.  The request (azure-identity 1.27,
`_credentials/app_service.py`):

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=https://cognitiveservices.azure.com
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

and the answer, as App Service sends it (`expires_on` in epoch seconds, as a string):

    {"access_token": "...", "expires_on": "1767225600", "resource": "...", "token_type": "Bearer", "client_id": "..."}

Every token issued is registered with the `FakeAzure` given (its
`bearer_tokens`), so the fake accepts it; `expire(token)` withdraws it again.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_azure import FakeAzure

API_VERSION = "2019-08-01"
TOKEN_PATH = "/msi/token"
CLIENT_ID = "00000000-0000-0000-0000-00000000c11d"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One token request as the stand-in received it."""

    query: Mapping[str, str]
    headers: Mapping[str, str]
    at: float


class FakeIdentity:
    """The managed identity endpoint: issues bearer tokens that `fake` accepts.

    `lifetime`: seconds between issuing a token and its `expires_on`.
    `register`: when False, tokens are issued but the fake is not told (Azure answers 401).
    `delay`: seconds to wait before answering (a slow identity endpoint).
    `outage`: statuses (500, 503, 429, ...) to answer the next token requests with, one each (an endpoint
    that is up but failing for a while); empty, tokens are issued.
    """

    def __init__(self, fake: FakeAzure, *, lifetime: float = 3600, register: bool = True, delay: float = 0.0) -> None:
        self.fake = fake
        self.lifetime = lifetime
        self.register = register
        self.delay = delay
        self.secret = "identity-header-" + secrets.token_hex(16)
        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self.outage: list[int] = []
        self.url: str | None = None
        self.app = Starlette(routes=[Route(TOKEN_PATH, self._token, methods=["GET"])])

    @property
    def endpoint(self) -> str:
        assert self.url is not None, "serve it with tests.support.serving.running"
        return self.url + TOKEN_PATH

    def env(self) -> dict[str, str]:
        """What the Functions platform sets for a managed identity."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.secret}

    def expire(self, token: str) -> None:
        """Azure stops accepting `token`."""
        self.fake.bearer_tokens.discard(token)

    async def _token(self, request: Request) -> Response:
        self.requests.append(TokenRequest(dict(request.query_params), dict(request.headers), time.time()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.outage:
            status = self.outage.pop(0)
            return JSONResponse({"statusCode": status, "message": "The managed identity endpoint is not available"}, status)
        if request.headers.get("x-identity-header") != self.secret:
            return JSONResponse({"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong"}, 401)
        resource = request.query_params.get("resource")
        if request.query_params.get("api-version") != API_VERSION or not resource:
            return JSONResponse({"statusCode": 400, "message": "api-version 2019-08-01 and resource are required"}, 400)
        token = f"entra-token-{len(self.issued) + 1}-{secrets.token_hex(20)}"
        self.issued.append(token)
        if self.register:
            self.fake.bearer_tokens.add(token)
        return JSONResponse(
            {
                "access_token": token,
                "expires_on": str(int(time.time() + self.lifetime)),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": CLIENT_ID,
            }
        )
