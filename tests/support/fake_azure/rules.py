"""Azure OpenAI's request rules for chat/completions.

rule                                                  answer (400 unless noted; bodies in `errors`)
----------------------------------------------------  ----------------------------------------------------------
argument the API (version) does not know              `Unrecognized request argument(s) supplied: a, b`
messages: shape, roles, content parts, image URLs     `Invalid ...` / `Missing required parameter` (see `images`)
assistant tool call id over 40 characters             `string_above_max_length` on `messages[i].tool_calls[j].id`
tool message without a preceding call / a call        `Invalid parameter: messages with role 'tool' must be ...` /
  left unanswered                                     `An assistant message with 'tool_calls' must be followed ...`
function name not `^[a-zA-Z0-9_-]+$`, over 64 chars   `string does not match pattern` / `string too long`
`strict: true` schema not closed (tools, format)      `Invalid schema for function|response_format 'x': ...`
reasoning model: `max_tokens`, sampling != 1, `stop`  `unsupported_parameter` / `unsupported_value`
effort the model lacks                                `Invalid value: 'x'. Supported values are: ...` (invalid_value)
`parallel_tool_calls` on o-series                     `unsupported_parameter`
effort with function tools (gpt-5.4 and later)        `Function tools with reasoning_effort are not supported ...`
token limit over the model's cap                      `max_tokens is too large: N. This model supports at most ...`
messages over the context window                      `context_length_exceeded` (see `limits`)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .deployment import Deployment
from .errors import (
    INVALID_JSON,
    AzureError,
    invalid_effort,
    invalid_request,
    missing,
    name_pattern,
    string_too_long,
    unrecognized_arguments,
    unsupported_parameter,
    unsupported_value,
)
from .images import image_url_error
from .limits import chat_context_error
from .schemas import strict_violation
from .versions import unknown_to

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
TOOL_CALL_ID_MAX = 40
CONTENT_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")


def validate_chat_request(body: Any, deployment: Deployment, api_version: str | None = None) -> AzureError | None:
    """The first rule `body` breaks for `deployment`, or None when Azure would accept it.

    `api_version` is the dated path's version (None on the v1 API): older versions lack some arguments.
    """
    if not isinstance(body, dict):
        return INVALID_JSON
    unknown = [name for name in body if name not in KNOWN_PARAMETERS] + unknown_to(api_version, list(body))
    if unknown:
        return unrecognized_arguments(unknown)
    for check in (_check_messages, _check_tools, _check_response_format, _check_stream_options):
        error = check(body)
        if error is not None:
            return error
    return _check_model_profile(body, deployment) or chat_context_error(body, deployment)


def _check_messages(body: Mapping[str, Any]) -> AzureError | None:
    messages = body.get("messages")
    if messages is None:
        return missing("messages")
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
        return missing(f"messages[{index}].tool_call_id")
    for call_index, call in enumerate(message.get("tool_calls") or ()):
        call_id = call.get("id") if isinstance(call, dict) else None
        if isinstance(call_id, str) and len(call_id) > TOOL_CALL_ID_MAX:
            return string_too_long(f"messages[{index}].tool_calls[{call_index}].id", call_id, TOOL_CALL_ID_MAX)
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
    return image_url_error(url, f"{where}.image_url.url", "chat")


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
        if not isinstance(function, dict) or not isinstance(name, str):
            return missing(where)
        if len(name) > TOOL_NAME_MAX:
            return string_too_long(where, name, TOOL_NAME_MAX)
        if not TOOL_NAME.match(name):
            return name_pattern(where, TOOL_NAME.pattern)
        violation = strict_violation(function.get("parameters")) if function.get("strict") is True else None
        if violation is not None:
            return invalid_request(
                f"Invalid schema for function '{name}': {violation}",
                f"tools[{index}].function.parameters",
                "invalid_function_parameters",
            )
    return None


def _check_response_format(body: Mapping[str, Any]) -> AzureError | None:
    fmt = body.get("response_format")
    schema = fmt.get("json_schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if not isinstance(schema, dict) or schema.get("strict") is not True:
        return None
    violation = strict_violation(schema.get("schema"))
    if violation is None:
        return None
    return invalid_request(
        f"Invalid schema for response_format '{schema.get('name')}': {violation}", "response_format", "invalid_json_schema"
    )


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
        effort = body.get("reasoning_effort")
        if "reasoning_effort" in body and effort not in deployment.efforts:
            return invalid_effort(effort, deployment.efforts)
        if "parallel_tool_calls" in body and not deployment.parallel_tool_calls:
            return unsupported_parameter("parallel_tool_calls")
        if body.get("tools") and effort not in (None, "none") and not deployment.effort_with_tools_on_chat:
            return invalid_request(
                f"Function tools with reasoning_effort are not supported for {deployment.model_name} in "
                "/v1/chat/completions. Please use /v1/responses instead.",
                "reasoning_effort",
            )
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
