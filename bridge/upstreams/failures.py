"""What an upstream said when it refused or failed a request, and the helpful `BridgeError` it becomes.

`UpstreamError` is Azure's raw error object, whatever shape it came in (its
message with anything key-like taken out: `redaction`):

    shape                                                     where
    --------------------------------------------------------  -----------------------------------------
    {"error": {"message", "type", "param", "code"}}           request validation (400), server errors
    {"error": {"code", "message"}}                            Azure's gateway: 401/403/404/408/429, versions
    {"statusCode": 401, "message"}                            a refused Microsoft Entra ID token
    {"type": "error", "error": {...}} / response.error        inside a 200 stream (Responses)
    {"error": {...}} chunk                                    inside a 200 stream (chat/completions)

Each upstream API's recovery step (`recovery.py`) reads it first; what no
step can fix becomes, through `describe`:

    upstream error                                    client sees
    ------------------------------------------------  ----------------------------------------------
    404 DeploymentNotFound, unknown_model             404 not_found_error naming the deployment and
                                                      the setting it came from
    content_filter, ResponsibleAIPolicyViolation,     400 invalid_request_error: Azure's content
      content_policy_violation                        filter, with the categories that fired
    context_length_exceeded / "maximum context        400 "prompt is too long: N tokens > M maximum"
      length" / "exceed the configured limit"         (Anthropic's wording: Claude Code compacts)
    401 PermissionDenied                              500 (no retry): assign Cognitive Services
                                                      OpenAI User to that principal
    401 with a key / with an Entra ID token           500 (no retry): check the key / the identity,
                                                      its tenant and the token's audience
    403 AuthenticationTypeDisabled                    500 (no retry): unset the key, use Entra ID
    403 otherwise, with Entra ID                      500 (no retry): the identity's role or the
                                                      resource's network rules
    429, rate_limit_exceeded in a stream              429 rate_limit_error, retry-after passed on
    503, server_is_overloaded                         529 overloaded_error
    a stream that failed after it started             api_error "The upstream failed mid-response"
    anything else                                     kind by status, upstream message kept
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge import sse
from bridge.errors import BridgeError, ErrorKind, kind_for_upstream_status, misconfigured
from bridge.redaction import redact
from bridge.tiers import Target
from bridge.upstreams.transport import requested_wait

IN_STREAM = 200
"""The status of an error reported inside a stream that began with HTTP 200."""
RETRY_HEADERS = ("retry-after", "retry-after-ms")
NOT_FOUND_CODES = frozenset({"DeploymentNotFound", "unknown_model", "model_not_found"})
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "ResponsibleAIPolicyViolation"})
STREAM_KINDS: dict[str, ErrorKind] = {
    "rate_limit_exceeded": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "server_is_overloaded": "overloaded_error",
    "invalid_prompt": "invalid_request_error",
}
TRUNCATED = "stream_truncated"
_CONTEXT_NUMBERS = (
    re.compile(r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.S),
    re.compile(r"exceed the configured limit of (\d+) tokens.*?resulted in (\d+) tokens", re.S),
)
_CONTEXT_WORDS = re.compile(r"maximum context length|exceeds? the context window|exceed the configured limit", re.I)
_RETRY_AFTER_TEXT = re.compile(r"(?:retry after|try again in) (\d+(?:\.\d+)?) seconds?", re.I)


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """An upstream's error: its HTTP status (`IN_STREAM` inside a stream) and Azure's error object."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    type: str | None = None
    inner_code: str | None = None
    categories: tuple[str, ...] = ()
    """Content-filter categories that fired ("hate (medium)")."""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, error: Any, headers: Mapping[str, str] | None = None, fallback: str = "") -> UpstreamError:
        """From a decoded error object (`{"error": {...}}`, the object itself, or Entra's `{"statusCode", "message"}`)."""
        if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
            error = error["error"]
        if isinstance(error, str):
            error = {"message": error}
        if not isinstance(error, Mapping):
            error = {}
        inner = error.get("innererror")
        inner = inner if isinstance(inner, Mapping) else {}
        results = inner.get("content_filter_result")
        results = results if isinstance(results, Mapping) else {}
        fired = tuple(
            f"{name} ({value.get('severity', 'detected')})"
            for name, value in results.items()
            if isinstance(value, Mapping) and value.get("filtered")
        )
        kept = {name.lower(): value for name, value in (headers or {}).items() if name.lower() in RETRY_HEADERS}
        return cls(
            status=status,
            message=redact(_text(error.get("message")) or fallback or f"HTTP {status} from the upstream"),
            code=_text(error.get("code")),
            param=_text(error.get("param")),
            type=_text(error.get("type")),
            inner_code=_text(inner.get("code")),
            categories=fired,
            headers=kept,
        )

    @classmethod
    def from_body(cls, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        """From an error response's body (JSON in any of Azure's shapes, or plain text)."""
        try:
            decoded: Any = sse.loads(payload)
        except ValueError:
            text = payload.decode("utf-8", "replace").strip()
            decoded = {"message": text[:500]} if text else {}
        return cls.of(status, decoded, headers)

    @property
    def in_stream(self) -> bool:
        return self.status == IN_STREAM

    @property
    def retry_after(self) -> float | None:
        """Seconds Azure asked to wait, from its headers or its message ("Please retry after 7 seconds")."""
        wait = requested_wait(self.headers)
        if wait is not None:
            return wait
        said = _RETRY_AFTER_TEXT.search(self.message)
        return float(said.group(1)) if said else None

    def is_content_filter(self) -> bool:
        return bool({self.code, self.inner_code} & CONTENT_FILTER_CODES)

    def is_context_overflow(self) -> bool:
        return self.code == "context_length_exceeded" or bool(_CONTEXT_WORDS.search(self.message))


class UpstreamFailure(Exception):
    """Raised by a stream translator when the upstream reports a failure inside its stream."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


def truncated() -> UpstreamFailure:
    return UpstreamFailure(UpstreamError(IN_STREAM, "The upstream stream ended before the response was complete", code=TRUNCATED))


def _prompt_too_long(error: UpstreamError) -> BridgeError:
    for pattern in _CONTEXT_NUMBERS:
        numbers = pattern.search(error.message)
        if numbers:
            limit, used = numbers.groups()
            return BridgeError("invalid_request_error", f"prompt is too long: {used} tokens > {limit} maximum")
    return BridgeError("invalid_request_error", f"prompt is too long: {error.message}")


def _not_found(error: UpstreamError, target: Target) -> BridgeError:
    fix = (
        "Name an existing deployment, or a Claude model (opus, sonnet, haiku) to use BIG_MODEL, MIDDLE_MODEL or SMALL_MODEL"
        if target.setting == "model"
        else f"Create it, or set {target.setting} to a deployment that exists"
    )
    return BridgeError(
        "not_found_error",
        f"Azure OpenAI has no deployment named '{target.deployment}' (from {target.source}). {fix}. Azure said: {error.message}",
    )


def _refused_credentials(error: UpstreamError, keyed: bool) -> BridgeError:
    said = f"Azure said: {error.message}"
    if error.code == "PermissionDenied":
        return misconfigured(
            "The bridge's identity may not call this Azure OpenAI resource: assign it the 'Cognitive Services OpenAI "
            f"User' role on the resource (the principal Azure names below). {said}"
        )
    if error.code == "AuthenticationTypeDisabled":
        return misconfigured(
            "This Azure OpenAI resource does not accept keys: unset AZURE_OPENAI_API_KEY so the bridge signs in with "
            f"Microsoft Entra ID (its identity needs the 'Cognitive Services OpenAI User' role). {said}"
        )
    if error.status == 401 and keyed:
        return misconfigured(f"Azure refused the key: check AZURE_OPENAI_API_KEY and that it belongs to the endpoint. {said}")
    if error.status == 401:
        return misconfigured(
            "Azure refused the bridge's Microsoft Entra ID token: check the identity (AZURE_CLIENT_ID for a user-assigned "
            "one), that it belongs to the resource's tenant, and that its token is for https://cognitiveservices.azure.com. "
            f"{said}"
        )
    if not keyed:
        return misconfigured(
            "The bridge's identity lacks the 'Cognitive Services OpenAI User' role on the Azure OpenAI resource "
            f"(or the resource's network rules block it). {said}"
        )
    return misconfigured(f"Azure refused the request with this key (the resource's network rules may block it). {said}")


def describe(error: UpstreamError, target: Target, keyed: bool) -> BridgeError:
    """The client's error for an upstream error no recovery step could fix."""
    if error.code in NOT_FOUND_CODES or (error.status == 404 and "deployment" in error.message.lower()):
        return _not_found(error, target)
    if error.is_content_filter():
        fired = f" (categories: {', '.join(error.categories)})" if error.categories else ""
        return BridgeError(
            "invalid_request_error",
            f"Azure OpenAI's content filter blocked this request{fired}. Rephrase the prompt, or ask your Azure "
            f"administrator about the deployment's content filter. Azure said: {error.message}",
        )
    if error.is_context_overflow():
        return _prompt_too_long(error)
    if error.status in (401, 403):
        return _refused_credentials(error, keyed)
    retry = error.retry_after
    headers = dict(error.headers) or ({"retry-after": f"{retry:g}"} if retry is not None else {})
    if error.in_stream:
        kind = STREAM_KINDS.get(error.code or "", "api_error")
        message = error.message if error.code == TRUNCATED else f"The upstream failed mid-response: {error.message}"
        return BridgeError(kind, message, headers if kind == "rate_limit_error" else {})
    return BridgeError(kind_for_upstream_status(error.status), error.message, headers)
