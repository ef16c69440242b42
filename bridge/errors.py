"""The one error type the bridge raises, and how upstream HTTP statuses map onto it.

Every failure a client can see is a `BridgeError`: an error type, an HTTP
status and a message that tells the user what to fix.  Fronts render it in
their own shape (Anthropic or OpenAI).  The kinds are Anthropic's error types:

    status  kind
    400     invalid_request_error
    401     authentication_error
    403     permission_error
    404     not_found_error
    413     request_too_large
    429     rate_limit_error
    429     billing_error         (a spend limit reached: Claude Code's gateway protocol)
    500     api_error
    529     overloaded_error      (upstream 503)
    504     timeout_error

An error a retry cannot cure (a client error other than a rate limit, or the
bridge's own configuration: `misconfigured`) carries `x-should-retry: false`,
which the Anthropic and OpenAI SDKs (and so Claude Code) obey instead of
retrying with growing delays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ErrorKind = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "billing_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
]

STATUS_OF_KIND: dict[ErrorKind, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "billing_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
    "timeout_error": 504,
}

_KIND_OF_UPSTREAM_STATUS: dict[int, ErrorKind] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


NOT_RETRYABLE: frozenset[ErrorKind] = frozenset(
    {"invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large", "billing_error"}
)
NO_RETRY = {"x-should-retry": "false"}


@dataclass
class BridgeError(Exception):
    kind: ErrorKind
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    http_status: int | None = None
    """The HTTP status when it is not the kind's own (a passing outage is `api_error` with 503)."""

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)
        if self.kind in NOT_RETRYABLE:
            self.headers = {**self.headers, **NO_RETRY}

    @property
    def status(self) -> int:
        return self.http_status or STATUS_OF_KIND[self.kind]


def invalid_request(message: str) -> BridgeError:
    return BridgeError("invalid_request_error", message)


def misconfigured(message: str) -> BridgeError:
    """A 500 that clients must not retry (`x-should-retry: false`, honoured by the Anthropic and OpenAI SDKs)."""
    return BridgeError("api_error", message, dict(NO_RETRY))


def kind_for_upstream_status(status: int) -> ErrorKind:
    """The error kind for an upstream HTTP status (unknown 4xx stay client errors, 5xx are api errors)."""
    if status in _KIND_OF_UPSTREAM_STATUS:
        return _KIND_OF_UPSTREAM_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"
