"""Azure OpenAI's request rules for the Responses API, and the fake's encrypted reasoning.

Error bodies follow the service's OpenAI-style shape (`rules.invalid_request`);
the wording is copied from the service where it is known (unknown parameters,
`call_id` lengths, unanswered function calls, `max_output_tokens` minimum,
refused efforts, encrypted content on a model without reasoning).  The
web-search refusal is an approximation: no recording of it exists.

Encrypted reasoning: the fake issues `encrypted_content` it can verify later
without keeping state (an HMAC over the item id and summary, like the real
service's opaque tokens), so a reasoning item sent back on the next turn is
checked exactly: a token it did not issue, or one moved to another item id,
gets the 400 the service gives for content it cannot decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .rules import (
    DATA_IMAGE_URL,
    INVALID_JSON,
    TOOL_NAME,
    AzureError,
    Deployment,
    invalid_request,
    unsupported_effort,
    unsupported_parameter,
)

KNOWN_PARAMETERS: frozenset[str] = frozenset(
    {
        "model",
        "input",
        "instructions",
        "stream",
        "stream_options",
        "store",
        "include",
        "max_output_tokens",
        "max_tool_calls",
        "temperature",
        "top_p",
        "top_logprobs",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "text",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "user",
        "metadata",
        "previous_response_id",
        "conversation",
        "truncation",
        "service_tier",
        "background",
    }
)
INCLUDABLE = frozenset(
    {
        "reasoning.encrypted_content",
        "web_search_call.action.sources",
        "message.output_text.logprobs",
        "file_search_call.results",
        "message.input_image.image_url",
    }
)
ROLES = ("user", "assistant", "system", "developer")
INPUT_PARTS = ("input_text", "input_image", "input_file")
ASSISTANT_PARTS = ("output_text", "refusal")
MAX_ID_LENGTH = 64
MIN_OUTPUT_TOKENS = 16
TOKEN_PREFIX = "gAAAAAB"
_SECRET = b"fake-azure-reasoning-key"


def issue_encrypted(item_id: str, summary: str, *, valid: bool = True) -> str:
    """An opaque token for reasoning item `item_id` that `verify_encrypted` accepts (unless not `valid`)."""
    payload = json.dumps({"id": item_id, "summary": summary}, separators=(",", ":")).encode()
    mac = hmac.new(_SECRET if valid else b"other", payload, hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(mac + payload).decode()


def verify_encrypted(item_id: str, token: str) -> bool:
    """Whether `token` is one the fake issued, for this very item."""
    if not token.startswith(TOKEN_PREFIX):
        return False
    try:
        raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode())
        mac, payload = raw[:32], raw[32:]
        issued = json.loads(payload)
    except ValueError:
        return False
    expected = hmac.new(_SECRET, payload, hashlib.sha256).digest()
    return hmac.compare_digest(mac, expected) and isinstance(issued, dict) and issued.get("id") == item_id


def _unknown_parameter(name: str) -> AzureError:
    return invalid_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def _invalid(message: str, param: str, code: str | None = "invalid_value") -> AzureError:
    return invalid_request(message, param, code)


def _too_long(where: str, value: str) -> AzureError:
    return _invalid(
        f"Invalid '{where}': string too long. Expected a string with maximum length {MAX_ID_LENGTH}, "
        f"but got a string with length {len(value)} instead.",
        where,
        "string_above_max_length",
    )


def validate_responses_request(body: Any, deployment: Deployment) -> AzureError | None:
    """The first rule `body` breaks for `deployment`, or None when Azure would accept it."""
    if not isinstance(body, dict):
        return INVALID_JSON
    for name in body:
        if name not in KNOWN_PARAMETERS:
            return _unknown_parameter(name)
    for check in (_check_input, _check_tools, _check_limits, _check_reasoning, _check_text):
        error = check(body, deployment)
        if error is not None:
            return error
    return None


def _check_input(body: Mapping[str, Any], _deployment: Deployment) -> AzureError | None:
    items = body.get("input")
    if isinstance(items, str):
        return None
    if not isinstance(items, list) or not items:
        return invalid_request("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    for index, item in enumerate(items):
        error = _check_item(f"input[{index}]", item, body)
        if error is not None:
            return error
    return _check_calls_answered(items)


def _check_item(where: str, item: Any, body: Mapping[str, Any]) -> AzureError | None:
    if not isinstance(item, dict):
        return _invalid(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
    kind = item.get("type", "message")
    if kind == "message":
        return _check_message(where, item)
    if kind in ("function_call", "function_call_output"):
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            return invalid_request(
                f"Missing required parameter: '{where}.call_id'.", f"{where}.call_id", "missing_required_parameter"
            )
        if len(call_id) > MAX_ID_LENGTH:
            return _too_long(f"{where}.call_id", call_id)
        if kind == "function_call" and not (isinstance(item.get("name"), str) and isinstance(item.get("arguments"), str)):
            return invalid_request(
                f"Missing required parameter: '{where}.arguments'.", f"{where}.arguments", "missing_required_parameter"
            )
        if kind == "function_call_output" and not isinstance(item.get("output"), (str, list)):
            return invalid_request(
                f"Missing required parameter: '{where}.output'.", f"{where}.output", "missing_required_parameter"
            )
        return None
    if kind == "reasoning":
        return _check_reasoning_item(where, item, body)
    return _invalid(
        f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', 'function_call_output' and 'reasoning'.",
        f"{where}.type",
    )


def _check_message(where: str, item: Mapping[str, Any]) -> AzureError | None:
    role = item.get("role")
    if role not in ROLES:
        return _invalid(
            f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", f"{where}.role"
        )
    content = item.get("content")
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return _invalid(
            f"Invalid type for '{where}.content': expected one of a string or array of objects.",
            f"{where}.content",
            "invalid_type",
        )
    allowed = ASSISTANT_PARTS if role == "assistant" else INPUT_PARTS
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            supported = ", ".join(f"'{name}'" for name in allowed)
            return _invalid(f"Invalid value: '{kind}'. Supported values are: {supported}.", f"{where}.content[{index}].type")
        if kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not (url.startswith("https://") or DATA_IMAGE_URL.match(url)):
                return _invalid(
                    f"Invalid '{where}.content[{index}].image_url'. Expected a valid URL.", f"{where}.content[{index}].image_url"
                )
    return None


def _check_reasoning_item(where: str, item: Mapping[str, Any], body: Mapping[str, Any]) -> AzureError | None:
    item_id = item.get("id")
    if not isinstance(item.get("summary"), list):
        return invalid_request(
            f"Missing required parameter: '{where}.summary'.", f"{where}.summary", "missing_required_parameter"
        )
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str):
        if body.get("store") is False:
            return AzureError(
                404,
                {
                    "error": {
                        "message": f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
                        "Try again with `store` set to true, or remove this item from your input.",
                        "type": "invalid_request_error",
                        "param": "input",
                        "code": None,
                    }
                },
                pretty=True,
            )
        return None
    if not isinstance(item_id, str) or not verify_encrypted(item_id, encrypted):
        return invalid_request(
            f"The encrypted content for item {item_id} could not be verified.", None, "invalid_encrypted_content"
        )
    return None


def _check_calls_answered(items: Sequence[Mapping[str, Any]]) -> AzureError | None:
    calls = [item["call_id"] for item in items if item.get("type") == "function_call"]
    outputs = [item["call_id"] for item in items if item.get("type") == "function_call_output"]
    for call_id in outputs:
        if call_id not in calls:
            return invalid_request(f"No tool call found for function call output with call_id {call_id}.", "input")
    for call_id in calls:
        if call_id not in outputs:
            return invalid_request(f"No tool output found for function call {call_id}.", "input")
    return None


def _check_tools(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    tools = body.get("tools")
    if "tool_choice" in body and not tools:
        return invalid_request("Tool choice is only allowed when 'tools' are specified.", "tool_choice")
    for index, tool in enumerate(tools or ()):
        kind = tool.get("type") if isinstance(tool, dict) else None
        where = f"tools[{index}]"
        if kind == "function":
            name = tool.get("name")
            if not isinstance(name, str) or not TOOL_NAME.match(name) or len(name) > MAX_ID_LENGTH:
                return _invalid(f"Invalid '{where}.name': string does not match pattern.", f"{where}.name")
            if not isinstance(tool.get("parameters"), dict):
                return invalid_request(
                    f"Missing required parameter: '{where}.parameters'.", f"{where}.parameters", "missing_required_parameter"
                )
            if not deployment.supports_tools:
                return unsupported_parameter("tools")
        elif kind in ("web_search", "web_search_preview"):
            if not deployment.web_search:
                return _invalid(f"Tool type '{kind}' is not supported by deployment '{deployment.name}'.", f"{where}.type")
        else:
            return _invalid(f"Invalid value: '{kind}'. Supported values are: 'function' and 'web_search'.", f"{where}.type")
    return None


def _check_limits(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    limit = body.get("max_output_tokens")
    if isinstance(limit, int) and limit < MIN_OUTPUT_TOKENS:
        return _invalid(
            f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, "
            f"but got {limit} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    if isinstance(limit, int) and limit > deployment.max_output_tokens:
        return _invalid(
            f"max_output_tokens is too large: {limit}. This model supports at most {deployment.max_output_tokens} "
            f"output tokens, whereas you provided {limit}.",
            "max_output_tokens",
        )
    for name in ("prompt_cache_key", "safety_identifier"):
        value = body.get(name)
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            return _too_long(name, value)
    for value in body.get("include") or ():
        if value not in INCLUDABLE:
            return _invalid(f"Invalid value: '{value}'.", "include")
    return None


def _check_reasoning(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    if not deployment.reasoning:
        if "effort" in reasoning:
            return unsupported_parameter("reasoning.effort")
        if "summary" in reasoning:
            return unsupported_parameter("reasoning.summary")
        if "reasoning.encrypted_content" in (body.get("include") or ()):
            return invalid_request("Encrypted content is not supported with this model.", "include", "unsupported_parameter")
        return None
    effort = reasoning.get("effort")
    if effort is not None and effort not in deployment.efforts:
        return unsupported_effort("reasoning.effort", effort, deployment.efforts)
    for name in ("temperature", "top_p"):
        if name in body and body[name] != 1:
            return unsupported_parameter(name)
    return None


def _check_text(body: Mapping[str, Any], _deployment: Deployment) -> AzureError | None:
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    name = fmt.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-zA-Z0-9_-]{1,64}$", name):
        return invalid_request(
            "Missing required parameter: 'text.format.name'.", "text.format.name", "missing_required_parameter"
        )
    if not isinstance(fmt.get("schema"), dict):
        return invalid_request(
            "Missing required parameter: 'text.format.schema'.", "text.format.schema", "missing_required_parameter"
        )
    if fmt.get("strict") is True and _open_object(fmt["schema"]):
        return invalid_request(
            f"Invalid schema for response_format '{name}': In context=(), 'additionalProperties' is required to be supplied and to be false.",
            "text.format.schema",
            "invalid_json_schema",
        )
    return None


def _open_object(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if (schema.get("type") == "object" or properties) and schema.get("additionalProperties") is not False:
        return True
    return any(_open_object(child) for child in properties.values())
