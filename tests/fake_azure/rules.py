"""Azure OpenAI's request rules for chat/completions and its real error bodies.

Every body here was copied from a recorded response (see
`../shared/wire-corpus/recorded/azure-error-*.json`) or, where no recording
exists, follows the OpenAI-style `{"error": {message, type, param, code}}`
shape the service uses.  Key order and layout matter: the model backend
pretty-prints its 400s with two-space indentation, while the front door
(401, 404 "Resource not found") and the v1 router (`unknown_model`) send
compact JSON; `AzureError.render` reproduces both byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KNOWN_PARAMETERS: frozenset[str] = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "reasoning_effort",
        "functions",
        "function_call",
        "data_sources",
        "prediction",
        "store",
        "metadata",
        "modalities",
        "audio",
        "service_tier",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
        "web_search_options",
    }
)
"""Top-level chat/completions parameters the service recognises."""

ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
TOOL_NAME_MAX = 64
DATA_IMAGE_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")
CONTENT_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment on the fake resource: its name and the model profile behind it.

    `reasoning` marks gpt-5 / o-series models (no `max_tokens`, `temperature`,
    `top_p` or `stop`); `efforts` are the reasoning efforts such a model
    accepts (gpt-5: minimal to high; gpt-5.1: none, low to high); `max_output_tokens`
    is the completion-token ceiling (16384 for gpt-4o, 128000 for gpt-5);
    `web_search` says whether the Responses `web_search` tool is available;
    `operations` and `effort_with_tools_on_chat` say which API a request must use;
    `model` is the versioned model name the replies report (defaults to the
    deployment name).
    """

    name: str
    reasoning: bool = False
    max_output_tokens: int = 16384
    supports_tools: bool = True
    supports_images: bool = True
    model: str | None = None
    efforts: tuple[str, ...] = ("minimal", "low", "medium", "high")
    web_search: bool = True
    operations: tuple[str, ...] = ("chat", "responses")
    """The APIs the model is offered through (codex models: Responses only; older models: chat only)."""
    effort_with_tools_on_chat: bool = True
    """False: chat/completions refuses reasoning_effort together with function tools (gpt-5.x)."""

    @property
    def model_name(self) -> str:
        """The model name written into replies."""
        return self.model or self.name

    @property
    def system_fingerprint(self) -> str | None:
        """Reasoning models stream `null` fingerprints; older models an `fp_` string."""
        return None if self.reasoning else "fp_efad92c60b"


@dataclass(frozen=True, slots=True)
class AzureError:
    """An error reply: status, the JSON body and whether Azure pretty-prints it."""

    status: int
    body: Mapping[str, Any]
    pretty: bool = False

    def render(self) -> bytes:
        """The body exactly as the service sends it."""
        if self.pretty:
            return json.dumps(self.body, indent=2, ensure_ascii=False).encode()
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


ACCESS_DENIED = AzureError(
    401,
    {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API endpoint "
            "for your resource.",
        }
    },
)
RESOURCE_NOT_FOUND = AzureError(404, {"error": {"code": "404", "message": "Resource not found"}})
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


def unknown_model(name: str) -> AzureError:
    """The v1 API's answer to a `model` that names no deployment (400, not 404)."""
    message = f"Unknown model: {name}"
    return AzureError(400, {"error": {"code": "unknown_model", "message": message, "details": message}})


def content_filter_error() -> AzureError:
    """The 400 Azure sends when the prompt trips the content filter."""
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


def rate_limited(retry_after: int = 1) -> AzureError:
    """The 429 Azure sends when the deployment's tokens-per-minute quota is spent."""
    return AzureError(
        429,
        {
            "error": {
                "code": "429",
                "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please "
                f"retry after {retry_after} second{'s' if retry_after != 1 else ''}. Please contact Azure "
                "support service if you would like to further increase the default rate limit.",
            }
        },
    )


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> AzureError:
    """A model-backend 400 in the OpenAI shape (pretty-printed, like the recordings)."""
    return AzureError(
        400,
        {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}},
        pretty=True,
    )


INVALID_JSON = invalid_request(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def unsupported_parameter(name: str, hint: str = "") -> AzureError:
    """`Unsupported parameter: 'x' is not supported with this model.` plus an optional hint."""
    message = f"Unsupported parameter: '{name}' is not supported with this model."
    return invalid_request(f"{message} {hint}" if hint else message, name, "unsupported_parameter")


def unsupported_effort(name: str, value: Any, supported: Sequence[str]) -> AzureError:
    """A reasoning model's refusal of an effort it does not know (gpt-5.1 and `minimal`, gpt-5 and `xhigh`)."""
    listed = ", ".join(f"'{effort}'" for effort in supported[:-1]) + f", and '{supported[-1]}'"
    return invalid_request(
        f"Unsupported value: '{name}' does not support '{value}' with this model. Supported values are: {listed}.",
        name,
        "unsupported_value",
    )


def unsupported_value(name: str, value: Any) -> AzureError:
    """A reasoning model's refusal of a sampling value other than the default 1."""
    return invalid_request(
        f"Unsupported value: '{name}' does not support {json.dumps(value)} with this model. "
        "Only the default (1) value is supported.",
        name,
        "unsupported_value",
    )


def validate_chat_request(body: Any, deployment: Deployment) -> AzureError | None:
    """The first rule `body` breaks for `deployment`, or None when Azure would accept it."""
    if not isinstance(body, dict):
        return INVALID_JSON
    for check in (_check_known_parameters, _check_messages, _check_tools, _check_stream_options):
        error = check(body)
        if error is not None:
            return error
    return _check_model_profile(body, deployment)


def _check_known_parameters(body: Mapping[str, Any]) -> AzureError | None:
    for name in body:
        if name not in KNOWN_PARAMETERS:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    return None


def _check_messages(body: Mapping[str, Any]) -> AzureError | None:
    messages = body.get("messages")
    if messages is None:
        return invalid_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        return invalid_request(
            f"Invalid type for 'messages': expected an array, but got {_json_type(messages)} instead.",
            "messages",
            "invalid_type",
        )
    if not messages:
        return invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    for index, message in enumerate(messages):
        error = _check_message(index, message)
        if error is not None:
            return error
    return _check_tool_protocol(messages)


def _check_message(index: int, message: Any) -> AzureError | None:
    if not isinstance(message, dict):
        return invalid_request(
            f"Invalid type for 'messages[{index}]': expected an object, but got {_json_type(message)} instead.",
            f"messages[{index}]",
            "invalid_type",
        )
    role = message.get("role")
    if role not in ROLES:
        return invalid_request(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
            f"messages[{index}].role",
            "invalid_value",
        )
    if role == "tool" and not message.get("tool_call_id"):
        return invalid_request(
            f"Missing required parameter: 'messages[{index}].tool_call_id'.",
            f"messages[{index}].tool_call_id",
            "missing_required_parameter",
        )
    content = message.get("content")
    if content is None:
        if role == "assistant" and message.get("tool_calls"):
            return None
        return invalid_request("Invalid value for 'content': expected a string, got null.", f"messages.[{index}].content")
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return invalid_request(
            f"Invalid type for 'messages[{index}].content': expected one of a string or array of objects, "
            f"but got {_json_type(content)} instead.",
            f"messages[{index}].content",
            "invalid_type",
        )
    if not content:
        return invalid_request(
            f"Invalid 'messages[{index}].content': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            f"messages[{index}].content",
            "empty_array",
        )
    for part_index, part in enumerate(content):
        error = _check_content_part(index, role, part_index, part)
        if error is not None:
            return error
    return None


def _check_content_part(index: int, role: str, part_index: int, part: Any) -> AzureError | None:
    where = f"messages[{index}].content[{part_index}]"
    part_type = part.get("type") if isinstance(part, dict) else None
    if part_type not in CONTENT_PART_TYPES:
        supported = ", ".join(f"'{kind}'" for kind in CONTENT_PART_TYPES[:-1])
        return invalid_request(
            f"Invalid value: '{part_type}'. Supported values are: {supported}, and '{CONTENT_PART_TYPES[-1]}'.",
            f"{where}.type",
            "invalid_value",
        )
    if part_type != "image_url":
        return None
    if role != "user":
        return invalid_request(
            f"Invalid 'messages[{index}]'. Image URLs are only allowed for messages with role 'user', but this "
            f"message with role '{role}' contains an image URL.",
            f"messages[{index}]",
            "invalid_value",
        )
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str) or not (url.startswith("https://") or DATA_IMAGE_URL.match(url)):
        return invalid_request(
            f"Invalid '{where}.image_url.url'. Expected a valid URL, or a base64-encoded data URL with an "
            "image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU=').",
            f"{where}.image_url.url",
            "invalid_value",
        )
    return None


def _check_tool_protocol(messages: Sequence[Mapping[str, Any]]) -> AzureError | None:
    pending: list[str] = []
    pending_since = 0
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            if message["tool_call_id"] not in pending:
                return invalid_request(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    f"messages.[{index}].role",
                )
            pending.remove(message["tool_call_id"])
            continue
        if pending:
            return _unanswered_tool_calls(pending, index)
        if role == "assistant" and message.get("tool_calls"):
            pending = [call.get("id", "") for call in message["tool_calls"] if isinstance(call, dict)]
            pending_since = index
    if pending:
        return _unanswered_tool_calls(pending, pending_since)
    return None


def _unanswered_tool_calls(ids: Sequence[str], index: int) -> AzureError:
    return invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(ids)}",
        f"messages.[{index}].role",
    )


def _check_tools(body: Mapping[str, Any]) -> AzureError | None:
    tools = body.get("tools")
    if "tool_choice" in body and not tools:
        return invalid_request(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
        )
    for index, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        where = f"tools[{index}].function.name"
        if not isinstance(name, str):
            return invalid_request(f"Missing required parameter: '{where}'.", where, "missing_required_parameter")
        if len(name) > TOOL_NAME_MAX:
            return invalid_request(
                f"Invalid '{where}': string too long. Expected a string with maximum length {TOOL_NAME_MAX}, "
                f"but got a string with length {len(name)} instead.",
                where,
                "string_above_max_length",
            )
        if not TOOL_NAME.match(name):
            return invalid_request(
                f"Invalid '{where}': string does not match pattern. Expected a string that matches the pattern "
                f"'{TOOL_NAME.pattern}'.",
                where,
                "invalid_value",
            )
    return None


def _check_stream_options(body: Mapping[str, Any]) -> AzureError | None:
    if "stream_options" in body and body["stream_options"] is not None and body.get("stream") is not True:
        return invalid_request("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    return None


def _check_model_profile(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    if deployment.reasoning:
        if "max_tokens" in body:
            return unsupported_parameter("max_tokens", "Use 'max_completion_tokens' instead.")
        for name in ("temperature", "top_p"):
            if name in body and body[name] != 1:
                return unsupported_value(name, body[name])
        if "stop" in body:
            return unsupported_parameter("stop")
        if "reasoning_effort" in body and body["reasoning_effort"] not in deployment.efforts:
            return unsupported_effort("reasoning_effort", body["reasoning_effort"], deployment.efforts)
    elif "reasoning_effort" in body:
        return unsupported_parameter("reasoning_effort")
    if body.get("tools") and not deployment.supports_tools:
        return unsupported_parameter("tools")
    if not deployment.supports_images and _has_image(body["messages"]):
        return invalid_request(
            "Invalid content type. image_url is only supported by certain models.", "messages", "invalid_value"
        )
    for name in ("max_completion_tokens", "max_tokens"):
        limit = body.get(name)
        if isinstance(limit, int) and limit > deployment.max_output_tokens:
            return invalid_request(
                f"{name} is too large: {limit}. This model supports at most {deployment.max_output_tokens} "
                f"completion tokens, whereas you provided {limit}.",
                name,
                "invalid_value",
            )
    return None


def _has_image(messages: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def operation_not_supported(operation: str, deployment: Deployment) -> AzureError:
    """Azure's answer when a model is not offered through an operation (e.g. codex on chat/completions)."""
    return AzureError(
        400,
        {
            "error": {
                "code": "OperationNotSupported",
                "message": f"The {operation} operation does not work with the specified model, {deployment.model_name}. "
                "Please choose different model and try again. You can learn more about which models can be used "
                "with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
            }
        },
    )


def effort_with_tools_refused(deployment: Deployment) -> AzureError:
    return invalid_request(
        f"Function tools with reasoning_effort are not supported for {deployment.model_name} in /v1/chat/completions. "
        "Please use /v1/responses instead.",
        "reasoning_effort",
    )
