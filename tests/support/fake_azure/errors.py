"""Azure OpenAI's real error bodies, and how each layer of the service writes them.

Three shapes, as the catalog (`../shared/azure-behaviours/README.md`) records them:

    layer                         shape                                               layout
    ----------------------------  --------------------------------------------------  --------------------
    model backend (400, 500)      {"error": {message, type, param, code}} (IRE)       pretty, 2-space indent
    gateway (401/403/404/408/429, {"error": {code, message}}, no type or param        compact
      version gates, operations)
    Entra token check (401)       {"statusCode": 401, "message": M}, no wrapper       compact

The recordings in `../shared/wire-corpus/recorded/azure-error-*.json` fix the
byte layout (`AzureError.render`); where the catalog abbreviates a message with
`…`, the rest is filled in once here, consistently.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Api = Literal["chat", "responses"]
SUPPORT_LINK = "https://go.microsoft.com/fwlink/?linkid=2213926"


@dataclass(frozen=True, slots=True)
class AzureError:
    """An error reply: status, the JSON body and how the service lays it out.

    `raw`, when set, is the body byte for byte (the front door's 404 has an
    odd space after one colon); `pretty` is the model backend's indented JSON.
    """

    status: int
    body: Mapping[str, Any]
    pretty: bool = False
    raw: bytes | None = None

    def render(self) -> bytes:
        """The body exactly as the service sends it."""
        if self.raw is not None:
            return self.raw
        if self.pretty:
            return json.dumps(self.body, indent=2, ensure_ascii=False).encode()
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


def gateway(status: int, code: str, message: str) -> AzureError:
    """A gateway error: `{"error": {"code", "message"}}`, compact."""
    return AzureError(status, {"error": {"code": code, "message": message}})


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> AzureError:
    """A model-backend 400 in the OpenAI shape (pretty-printed, like the recordings)."""
    return backend(400, message, "invalid_request_error", param, code)


def backend(status: int, message: str, kind: str | None, param: str | None = None, code: str | None = None) -> AzureError:
    """A model-backend error `{"error": {message, type, param, code}}` with any status and type."""
    return AzureError(status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, pretty=True)


# --- front door: routing, credentials, versions -------------------------------------------------------------

ACCESS_DENIED = gateway(
    401,
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource.",
)
ENTRA_UNAUTHORIZED = AzureError(
    401,
    {
        "statusCode": 401,
        "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
        "(https://cognitiveservices.azure.com), or have expired.",
    },
)
KEY_AUTH_DISABLED = gateway(403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.")
RESOURCE_NOT_FOUND = AzureError(
    404,
    {"error": {"code": "404", "message": "Resource not found"}},
    raw=b'{"error":{"code":"404","message": "Resource not found"}}',
)
API_VERSION_NOT_SUPPORTED = gateway(400, "BadRequest", "API version not supported")
RESPONSES_API_VERSION = gateway(
    400, "BadRequest", "Azure OpenAI Responses API is enabled only for api-version 2025-03-01-preview and later"
)
TIMEOUT = gateway(408, "Timeout", "The operation was timeout.")
DEPLOYMENT_NOT_FOUND = AzureError(
    404,
    {
        "error": {
            "type": "invalid_request_error",
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created the deployment "
            "within the last 5 minutes, please wait a moment and try again.",
        }
    },
    pretty=True,
)
DATA_ACTIONS: Mapping[Api, tuple[str, str]] = {
    "chat": (
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
        "POST /openai/deployments/{deployment-id}/chat/completions",
    ),
    "responses": ("Microsoft.CognitiveServices/accounts/OpenAI/responses/write", "POST /openai/responses"),
}
"""The data action each API needs (granted by *Cognitive Services OpenAI User*) and the operation it names."""
OPERATIONS: Mapping[Api, str] = {"chat": "chatCompletion", "responses": "responses"}
"""Operation names in `OperationNotSupported` messages."""
RATE_LIMITED_OPERATIONS: Mapping[Api, str] = {"chat": "ChatCompletions_Create", "responses": "Responses_Create"}
"""Operation names in 429 messages."""


def unknown_model(name: str) -> AzureError:
    """The v1 API's answer to a `model` that names no deployment (400, not 404)."""
    message = f"Unknown model: {name}"
    return AzureError(400, {"error": {"code": "unknown_model", "message": message, "details": message}})


def permission_denied(principal: str, api: Api = "chat") -> AzureError:
    """The 401 (not 403) for an identity without the data-plane role."""
    action, operation = DATA_ACTIONS[api]
    return gateway(
        401,
        "PermissionDenied",
        f"The principal `{principal}` lacks the required data action `{action}` to perform `{operation}` operation.",
    )


def operation_not_supported(api: Api, model: str) -> AzureError:
    """A model not offered through an API (a codex model on chat/completions)."""
    return AzureError(
        400,
        {
            "error": {
                "code": "OperationNotSupported",
                "message": f"The {OPERATIONS[api]} operation does not work with the specified model, {model}. "
                "Please choose different model and try again. You can learn more about which models can be used "
                "with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
            }
        },
    )


def rate_limited(retry_after: int = 1, *, api: Api = "chat", api_version: str = "2024-10-21") -> AzureError:
    """The 429 for a spent tokens-per-minute quota."""
    unit = "second" if retry_after == 1 else "seconds"
    return gateway(
        429,
        "429",
        f"Requests to the {RATE_LIMITED_OPERATIONS[api]} Operation under Azure OpenAI API version {api_version} have "
        "exceeded token rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {retry_after} {unit}. Please contact Azure support service if you would like to further "
        "increase the default rate limit.",
    )


def rate_limit_exceeded(seconds: int) -> AzureError:
    """The short 429 some resources send instead."""
    return gateway(429, "429", f"Rate limit is exceeded. Try again in {seconds} seconds.")


def server_error(request_id: str | None = None) -> AzureError:
    """The transient 500."""
    request_id = request_id or str(uuid.uuid4())
    return backend(
        500,
        "The server had an error processing your request. Sorry about that! You can retry your request, or contact us "
        f"through an Azure support request at: {SUPPORT_LINK} if the error persists. (Please include the request ID "
        f"{request_id} in your message.)",
        "server_error",
    )


def content_filter_error() -> AzureError:
    """The 400 for a prompt the content filter blocked (recorded verbatim, compact)."""
    safe = {"filtered": False, "severity": "safe"}
    return AzureError(
        400,
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                "management policy. Please modify your prompt and retry. To learn more about our content "
                "filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": safe,
                        "jailbreak": {"filtered": False, "detected": False},
                        "self_harm": {"filtered": True, "severity": "medium"},
                        "sexual": safe,
                        "violence": safe,
                    },
                },
            }
        },
    )


# --- model backend: request rules ---------------------------------------------------------------------------

INVALID_JSON = invalid_request(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def missing(where: str) -> AzureError:
    return invalid_request(f"Missing required parameter: '{where}'.", where, "missing_required_parameter")


def unknown_parameter(where: str) -> AzureError:
    return invalid_request(f"Unknown parameter: '{where}'.", where, "unknown_parameter")


def unrecognized_arguments(names: Sequence[str]) -> AzureError:
    """chat/completions' answer to top-level arguments it does not know (the plural form lists them all)."""
    if len(names) == 1:
        return invalid_request(f"Unrecognized request argument supplied: {names[0]}")
    return invalid_request(f"Unrecognized request arguments supplied: {', '.join(names)}")


def unsupported_parameter(name: str, hint: str = "") -> AzureError:
    """`Unsupported parameter: 'x' is not supported with this model.` plus an optional hint."""
    message = f"Unsupported parameter: '{name}' is not supported with this model."
    return invalid_request(f"{message} {hint}" if hint else message, name, "unsupported_parameter")


def unsupported_value(name: str, value: Any) -> AzureError:
    """A reasoning model's refusal of a sampling value other than the default 1."""
    return invalid_request(
        f"Unsupported value: '{name}' does not support {json.dumps(value)} with this model. "
        "Only the default (1) value is supported.",
        name,
        "unsupported_value",
    )


def listed(values: Sequence[str]) -> str:
    """`'a', 'b', and 'c'`, as Azure lists supported values."""
    quoted = [f"'{value}'" for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def unsupported_effort(value: Any, supported: Sequence[str], model: str) -> AzureError:
    """Responses: an effort the model lacks (`minimal` on gpt-5.1)."""
    return invalid_request(
        f"Unsupported value: '{value}' is not supported with the '{model}' model. Supported values are: {listed(supported)}.",
        "reasoning.effort",
        "unsupported_value",
    )


def invalid_effort(value: Any, supported: Sequence[str]) -> AzureError:
    """chat/completions on Azure: the same refusal, worded as an invalid value."""
    return invalid_request(
        f"Invalid value: '{value}'. Supported values are: {listed(supported)}.", "reasoning_effort", "invalid_value"
    )


def string_too_long(where: str, value: str, limit: int) -> AzureError:
    return invalid_request(
        f"Invalid '{where}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {len(value)} instead.",
        where,
        "string_above_max_length",
    )


def name_pattern(where: str, pattern: str) -> AzureError:
    return invalid_request(
        f"Invalid '{where}': string does not match pattern. Expected a string that matches the pattern '{pattern}'.",
        where,
        "invalid_value",
    )
