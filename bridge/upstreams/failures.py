"""What an upstream said when it refused or failed a request, and the helpful `BridgeError` it becomes.

`ErrorReport` is Azure's raw error object, whatever shape it came in (its
message with anything key-like taken out: `redaction`):

    shape                                                     where
    --------------------------------------------------------  -----------------------------------------
    {"error": {"message", "type", "param", "code"}}           request validation (400), server errors
    {"error": {"code", "message"}}                            Azure's gateway: 401/403/404/408/429, versions
    {"statusCode": 401, "message"}                            a refused Microsoft Entra ID token
    {"type": "error", "error": {...}} / response.error        inside a 200 stream (Responses)
    {"error": {...}} chunk                                    inside a 200 stream (chat/completions)

Each upstream API's recovery step (`recovery.py`) reads it first; what no
step can fix becomes, through `client_error`:

    upstream error                                    client sees
    ------------------------------------------------  ----------------------------------------------
    404 DeploymentNotFound, unknown_model             404 not_found_error naming the deployment and
                                                      the setting it came from
    404 Resource not found                            500 (no retry): fix AZURE_OPENAI_ENDPOINT
                                                      (the resource's base URL, no path)
    400 API version not supported                     500 (no retry): fix AZURE_OPENAI_API_VERSION
    content_filter, ResponsibleAIPolicyViolation,     400 invalid_request_error: Azure's content
      content_policy_violation                        filter, with the categories that fired
    context_length_exceeded / "maximum context        400 "prompt is too long: N tokens > M maximum"
      length" / "exceed the configured limit"         (Anthropic's wording: Claude Code compacts)
    an image Azure cannot use: too large              400 "image exceeds 20 MB maximum ..."
      (invalid_image); bad data URL, wrong format,    400 "Could not process image: ..." with what
      download timeout (invalid_image_format,         Azure takes (Anthropic's wordings, which
      invalid_image_url, param ...image_url)          Claude Code recognises)
    401 PermissionDenied                              500 (no retry): assign Cognitive Services
                                                      OpenAI User to that principal
    401 with a key / with an Entra ID token           500 (no retry): check the key / the identity,
                                                      its tenant and the token's audience
    403 AuthenticationTypeDisabled                    500 (no retry): unset the key, use Entra ID
    403 otherwise, with Entra ID                      500 (no retry): the identity's role or the
                                                      resource's network rules
    insufficient_quota (in a stream or not)           429 (no retry): raise the deployment's quota
                                                      or add a resource
    429, rate_limit_exceeded in a stream              429 rate_limit_error, retry-after passed on
                                                      (no retry when Azure asks for more than
                                                      CLIENT_WAIT_LIMIT seconds: SDKs would not wait)
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
from bridge.errors import NO_RETRY, BridgeError, ErrorKind, kind_for_upstream_status, misconfigured
from bridge.model import Target
from bridge.upstreams.redaction import redact
from bridge.upstreams.transport import requested_wait

IN_STREAM = 200
"""The status of an error reported inside a stream that began with HTTP 200."""
RETRY_HEADERS = ("retry-after", "retry-after-ms")
NOT_FOUND_CODES = frozenset({"DeploymentNotFound", "unknown_model", "model_not_found"})
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "ResponsibleAIPolicyViolation"})
STREAM_KINDS: dict[str, ErrorKind] = {
    "rate_limit_exceeded": "rate_limit_error",
    "server_is_overloaded": "overloaded_error",
    "invalid_prompt": "invalid_request_error",
}
TRUNCATED = "stream_truncated"
IMAGE_CODES = frozenset({"invalid_image", "invalid_image_url", "invalid_image_format"})
RESOURCE_NOT_FOUND = "Resource not found"
VERSION_NOT_SUPPORTED = "API version not supported"
CLIENT_WAIT_LIMIT = 60.0
"""The longest `retry-after` the Anthropic and OpenAI SDKs wait for; beyond it they retry after their own short backoff."""
_IMAGE_PARAM = re.compile(r"image_url|input_image")
_CONTEXT_NUMBERS = (
    re.compile(r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.S),
    re.compile(r"exceed the configured limit of (\d+) tokens.*?resulted in (\d+) tokens", re.S),
)
_CONTEXT_WORDS = re.compile(r"maximum context length|exceeds? the context window|exceed the configured limit", re.I)
_RETRY_AFTER_TEXT = re.compile(r"(?:retry after|try again in) (\d+(?:\.\d+)?) seconds?", re.I)


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class ErrorReport:
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
    def of(cls, status: int, error: Any, headers: Mapping[str, str] | None = None, fallback: str = "") -> ErrorReport:
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
    def from_body(cls, status: int, payload: bytes, headers: Mapping[str, str]) -> ErrorReport:
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

    def is_image_refusal(self) -> bool:
        return self.code in IMAGE_CODES or bool(self.param and _IMAGE_PARAM.search(self.param))

    def refuses_schema(self, where: str) -> bool:
        """Whether Azure refused the structured-output schema at `where` (`text.format`, `response_format`) as strict."""
        return self.code == "invalid_json_schema" or ((self.param or "").startswith(where) and "schema" in self.message.lower())


class UpstreamError(Exception):
    """Raised by a stream translator when the upstream reports a failure inside its stream."""

    def __init__(self, report: ErrorReport) -> None:
        super().__init__(report.message)
        self.report = report


def truncated() -> UpstreamError:
    return UpstreamError(ErrorReport(IN_STREAM, "The upstream stream ended before the response was complete", code=TRUNCATED))


def _prompt_too_long(report: ErrorReport) -> BridgeError:
    for pattern in _CONTEXT_NUMBERS:
        numbers = pattern.search(report.message)
        if numbers:
            limit, used = numbers.groups()
            return BridgeError("invalid_request_error", f"prompt is too long: {used} tokens > {limit} maximum")
    return BridgeError("invalid_request_error", f"prompt is too long: {report.message}")


def _not_found(report: ErrorReport, target: Target) -> BridgeError:
    fix = (
        "Name an existing deployment, or a Claude model (opus, sonnet, haiku) to use BIG_MODEL, MIDDLE_MODEL or SMALL_MODEL"
        if target.setting == "model"
        else f"Create it, or set {target.setting} to a deployment that exists"
    )
    return BridgeError(
        "not_found_error",
        f"Azure OpenAI has no deployment named '{target.deployment}' (from {target.source}). {fix}. Azure said: {report.message}",
    )


def _refused_credentials(report: ErrorReport, keyed: bool) -> BridgeError:
    said = f"Azure said: {report.message}"
    if report.code == "PermissionDenied":
        return misconfigured(
            "The bridge's identity may not call this Azure OpenAI resource: assign it the 'Cognitive Services OpenAI "
            f"User' role on the resource (the principal Azure names below). {said}"
        )
    if report.code == "AuthenticationTypeDisabled":
        return misconfigured(
            "This Azure OpenAI resource does not accept keys: unset AZURE_OPENAI_API_KEY so the bridge signs in with "
            f"Microsoft Entra ID (its identity needs the 'Cognitive Services OpenAI User' role). {said}"
        )
    if report.status == 401 and keyed:
        return misconfigured(f"Azure refused the key: check AZURE_OPENAI_API_KEY and that it belongs to the endpoint. {said}")
    if report.status == 401:
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


def _image_refused(report: ErrorReport) -> BridgeError:
    said = f"Azure said: {report.message}"
    if report.code == "invalid_image":
        return BridgeError(
            "invalid_request_error",
            f"image exceeds 20 MB maximum (Azure OpenAI's limit for one image): send a smaller image. {said}",
        )
    if report.code == "invalid_image_url":
        return BridgeError(
            "invalid_request_error",
            "Could not process image: Azure OpenAI could not download it from its URL. Send the image itself "
            f"(base64 data), or a URL Azure can reach. {said}",
        )
    return BridgeError(
        "invalid_request_error",
        "Could not process image: Azure OpenAI takes PNG, JPEG, GIF and WebP images of at most 20 MB, sent as "
        f"base64 data with their media type or as an https URL. {said}",
    )


def rate_limit_headers(headers: dict[str, str], retry: float | None) -> dict[str, str]:
    """A wait longer than the SDKs honour (they would retry after a short backoff, in vain): the client is told not to
    retry, and keeps Azure's `retry-after`."""
    return {**headers, **NO_RETRY} if retry is not None and retry > CLIENT_WAIT_LIMIT else headers


def client_error(report: ErrorReport, target: Target, keyed: bool) -> BridgeError:
    """The client's error for an upstream error (`report`) no recovery step could fix."""
    said = f"Azure said: {report.message}"
    if report.status == 404 and report.message.strip() == RESOURCE_NOT_FOUND:
        return misconfigured(
            "Azure OpenAI has no such path: set AZURE_OPENAI_ENDPOINT (and any AZURE_OPENAI_ENDPOINT_N) to the "
            "resource's base URL, such as https://NAME.openai.azure.com, with no path after it; unset "
            f"AZURE_OPENAI_API_VERSION to use the v1 API. {said}"
        )
    if report.status == 400 and VERSION_NOT_SUPPORTED in report.message:
        return misconfigured(
            "Azure OpenAI does not offer the API version the bridge is set to: unset AZURE_OPENAI_API_VERSION (and "
            f"any AZURE_OPENAI_API_VERSION_N) to use the v1 API, or set one Azure lists, such as 2024-10-21. {said}"
        )
    if report.code in NOT_FOUND_CODES or (report.status == 404 and "deployment" in report.message.lower()):
        return _not_found(report, target)
    if report.is_content_filter():
        fired = f" (categories: {', '.join(report.categories)})" if report.categories else ""
        return BridgeError(
            "invalid_request_error",
            f"Azure OpenAI's content filter blocked this request{fired}. Rephrase the prompt, or ask your Azure "
            f"administrator about the deployment's content filter. Azure said: {report.message}",
        )
    if report.is_context_overflow():
        return _prompt_too_long(report)
    if report.is_image_refusal():
        return _image_refused(report)
    if report.status in (401, 403):
        return _refused_credentials(report, keyed)
    if report.code == "insufficient_quota":
        return BridgeError(
            "rate_limit_error",
            f"Azure OpenAI has no quota left for deployment '{target.deployment}' (from {target.source}): raise its "
            f"quota in the Azure AI Foundry portal, or add another resource (AZURE_OPENAI_ENDPOINT_2). {said}",
            dict(NO_RETRY),
        )
    retry = report.retry_after
    headers = dict(report.headers) or ({"retry-after": f"{retry:g}"} if retry is not None else {})
    if report.in_stream:
        kind = STREAM_KINDS.get(report.code or "", "api_error")
        message = report.message if report.code == TRUNCATED else f"The upstream failed mid-response: {report.message}"
        return BridgeError(kind, message, rate_limit_headers(headers, retry) if kind == "rate_limit_error" else {})
    kind = kind_for_upstream_status(report.status)
    return BridgeError(kind, report.message, rate_limit_headers(headers, retry) if kind == "rate_limit_error" else headers)
