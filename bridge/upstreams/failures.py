"""Upstream error responses → `BridgeError`s that tell the user what to fix.

upstream answer                                   client sees
------------------------------------------------  ----------------------------------------------
400/404 the other API is needed                   WrongApi (the pipeline switches the deployment)
404 DeploymentNotFound, 400 unknown_model (v1 API) 404 not_found_error naming the deployment and
                                                  the setting it came from
400 content_filter / ResponsibleAIPolicyViolation 400 invalid_request_error: Azure's content
                                                  filter, with the categories that fired
400 context_length_exceeded                       400 "prompt is too long: N tokens > M maximum"
                                                  (Anthropic's wording: Claude Code compacts)
401 / 403                                         authentication_error / permission_error saying
                                                  whether the key or the identity is at fault
429                                               rate_limit_error, retry-after passed on
503                                               529 overloaded_error
anything else                                     kind by status, upstream message kept
"""

from __future__ import annotations

import json
import re
from typing import Any

from bridge.errors import BridgeError, kind_for_upstream_status
from bridge.routing import Route

_CONTEXT = re.compile(r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.S)
_RETRY_HEADERS = ("retry-after", "retry-after-ms")
NOT_FOUND_CODES = frozenset({"DeploymentNotFound", "unknown_model", "model_not_found"})


def error_object(payload: bytes) -> dict[str, Any]:
    """The `error` object of an upstream error body (empty when it has none)."""
    try:
        body = json.loads(payload)
    except ValueError:
        text = payload.decode("utf-8", "replace").strip()
        return {"message": text[:500]} if text else {}
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error
        if isinstance(error, str):
            return {"message": error}
    return {}


def _filter_categories(error: dict[str, Any]) -> str:
    inner = error.get("innererror")
    results = inner.get("content_filter_result") if isinstance(inner, dict) else None
    if not isinstance(results, dict):
        return ""
    fired = [
        f"{name} ({value.get('severity', 'detected')})"
        for name, value in results.items()
        if isinstance(value, dict) and value.get("filtered")
    ]
    return f" (categories: {', '.join(fired)})" if fired else ""


def _is_content_filter(error: dict[str, Any]) -> bool:
    inner = error.get("innererror")
    return error.get("code") == "content_filter" or (
        isinstance(inner, dict) and inner.get("code") == "ResponsibleAIPolicyViolation"
    )


_USE_RESPONSES = re.compile(r"/v1/responses|responses api", re.IGNORECASE)


def wanted_api(operation: str, status: int, error: dict[str, Any]) -> str | None:
    """The other API when the upstream says this deployment must be called through it, else None.

    codex models answer chat/completions with OperationNotSupported; gpt-5.x refuses reasoning
    effort with function tools on chat/completions and names /v1/responses; models not offered
    through the Responses API answer it with OperationNotSupported.
    """
    if status not in (400, 404):
        return None
    other = "responses" if operation == "chat/completions" else "chat"
    if error.get("code") == "OperationNotSupported":
        return other
    message = str(error.get("message") or "")
    if other == "responses" and status == 400 and _USE_RESPONSES.search(message):
        return other
    return None


def upstream_error(status: int, payload: bytes, headers: dict[str, str], route: Route, keyed: bool) -> BridgeError:
    """Translate one upstream error response; `keyed` says whether an API key (not Entra ID) was used."""
    error = error_object(payload)
    message = str(error.get("message") or f"HTTP {status} from the upstream")
    code = error.get("code")
    passed = {name: headers[name] for name in _RETRY_HEADERS if name in headers}
    if code in NOT_FOUND_CODES or (status == 404 and "deployment" in message.lower()):
        fix = (
            "Name an existing deployment, or a Claude model (opus, sonnet, haiku) to use BIG_MODEL, MIDDLE_MODEL or SMALL_MODEL"
            if route.setting == "model"
            else f"Create it, or set {route.setting} to a deployment that exists"
        )
        return BridgeError(
            "not_found_error",
            f"Azure OpenAI has no deployment named '{route.deployment}' (from {route.source}). {fix}. Azure said: {message}",
        )
    if _is_content_filter(error):
        return BridgeError(
            "invalid_request_error",
            f"Azure OpenAI's content filter blocked this request{_filter_categories(error)}. "
            f"Rephrase the prompt, or ask your Azure administrator about the deployment's content filter. Azure said: {message}",
        )
    context = _CONTEXT.search(message)
    if code == "context_length_exceeded" or context:
        if context:
            limit, used = context.groups()
            return BridgeError("invalid_request_error", f"prompt is too long: {used} tokens > {limit} maximum")
        return BridgeError("invalid_request_error", f"prompt is too long: {message}")
    if status == 401:
        cause = (
            "Check AZURE_OPENAI_API_KEY: Azure refused the key"
            if keyed
            else "Azure refused the Microsoft Entra ID token: check that the identity belongs to the resource's tenant"
        )
        return BridgeError("authentication_error", f"{cause}. Azure said: {message}")
    if status == 403 and not keyed:
        return BridgeError(
            "permission_error",
            "The bridge's identity lacks the 'Cognitive Services OpenAI User' role on the Azure OpenAI resource "
            f"(or the resource's network rules block it). Azure said: {message}",
        )
    return BridgeError(kind_for_upstream_status(status), message, passed)
