"""Azure OpenAI's request rules for the Responses API (top-level parameters, tools, reasoning, output format).

The `input` items have their own module (`responses_items`). Checked in this
order; bodies in `errors` (400 IRE unless noted):

    rule                                                    message
    ------------------------------------------------------  --------------------------------------------------------
    unknown top-level parameter                             `Unknown parameter: 'x'.`
    function name not `^[a-zA-Z0-9_-]+$`, over 64 chars     `string does not match pattern` / `string too long`
    `strict: true` tool schema not closed                   `Invalid schema for function 'x': In context=(), ...`
                                                            (param `tools[i].parameters`, invalid_function_parameters)
    web search on a deployment without it / failing (500)   approximation / the transient 500 (`web_search_outcome`)
    `max_output_tokens` below 16 / above the model's cap    `integer below minimum value` / `... is too large`
    `prompt_cache_retention` on a model without it          `prompt_cache_retention is not supported on this model`
    reasoning parameters on a model without reasoning       `Unsupported parameter: 'reasoning.effort' ...`
    `include` of encrypted reasoning, model without it      `Encrypted content is not supported with this model.`
    effort the model lacks                                  `Unsupported value: 'minimal' is not supported with the
                                                            'gpt-5.1' model. Supported values are: ...`
    `reasoning.summary`: organization unverified / model    `Your organization must be verified ...` /
      without summaries                                     `Unsupported parameter: 'reasoning.summary' ... '<model>' model.`
    `temperature` / `top_p` other than 1 on reasoning       `Unsupported parameter: 'temperature' ...`
    `text.format` json_schema, strict, schema not closed    `Invalid schema for response_format 'x': ...`
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .deployment import Deployment
from .encrypted import DEFAULT_VAULT, Vault
from .errors import (
    INVALID_JSON,
    AzureError,
    invalid_request,
    missing,
    name_pattern,
    server_error,
    string_too_long,
    unknown_parameter,
    unsupported_effort,
    unsupported_parameter,
)
from .responses_items import input_error
from .schemas import strict_violation

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
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
MAX_ID_LENGTH = 64
MIN_OUTPUT_TOKENS = 16
WEB_SEARCH_TOOLS = ("web_search", "web_search_preview")
VERIFY_ORGANIZATION = (
    "Your organization must be verified to generate reasoning summaries. Please go to: "
    "https://platform.openai.com/settings/organization/general and click on Verify Organization. If you just verified, "
    "it can take up to 15 minutes for access to propagate."
)

Check = Callable[[Mapping[str, Any], Deployment], AzureError | None]


def validate_responses_request(
    body: Any, deployment: Deployment, vault: Vault = DEFAULT_VAULT, api_version: str | None = None
) -> AzureError | None:
    """The first rule `body` breaks for `deployment`, or None when Azure would accept it.

    `vault` is the resource's reasoning state (encrypted content it can open, items that need their
    reasoning item); `api_version` the dated path's version (None on the v1 API).
    """
    if not isinstance(body, dict):
        return INVALID_JSON
    for name in body:
        if name not in KNOWN_PARAMETERS:
            return unknown_parameter(name)
    error = input_error(body, deployment, vault, api_version)
    if error is not None:
        return error
    checks: tuple[Check, ...] = (_check_tools, _check_limits, _check_reasoning, _check_text)
    for check in checks:
        error = check(body, deployment)
        if error is not None:
            return error
    return None


def _check_tools(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    tools = body.get("tools")
    if "tool_choice" in body and not tools:
        return invalid_request("Tool choice is only allowed when 'tools' are specified.", "tool_choice")
    for index, tool in enumerate(tools or ()):
        kind = tool.get("type") if isinstance(tool, dict) else None
        where = f"tools[{index}]"
        if kind == "function":
            error = _function_error(where, tool, deployment)
        elif kind in WEB_SEARCH_TOOLS:
            error = _web_search_error(where, kind, deployment)
        else:
            error = invalid_request(
                f"Invalid value: '{kind}'. Supported values are: 'function' and 'web_search'.", f"{where}.type", "invalid_value"
            )
        if error is not None:
            return error
    return None


def _function_error(where: str, tool: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    name = tool.get("name")
    if not isinstance(name, str):
        return missing(f"{where}.name")
    if len(name) > MAX_ID_LENGTH:
        return string_too_long(f"{where}.name", name, MAX_ID_LENGTH)
    if not TOOL_NAME.match(name):
        return name_pattern(f"{where}.name", TOOL_NAME.pattern)
    if not isinstance(tool.get("parameters"), dict):
        return missing(f"{where}.parameters")
    violation = strict_violation(tool["parameters"]) if tool.get("strict") is True else None
    if violation is not None:
        return invalid_request(
            f"Invalid schema for function '{name}': {violation}", f"{where}.parameters", "invalid_function_parameters"
        )
    return None if deployment.supports_tools else unsupported_parameter("tools")


def _web_search_error(where: str, kind: str, deployment: Deployment) -> AzureError | None:
    if not deployment.web_search:
        return invalid_request(
            f"Tool type '{kind}' is not supported by deployment '{deployment.name}'.", f"{where}.type", "invalid_value"
        )
    return server_error() if deployment.web_search_outcome == "server_error" else None


def _check_limits(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    limit = body.get("max_output_tokens")
    if isinstance(limit, int) and limit < MIN_OUTPUT_TOKENS:
        return invalid_request(
            f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, "
            f"but got {limit} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    if isinstance(limit, int) and limit > deployment.max_output_tokens:
        return invalid_request(
            f"max_output_tokens is too large: {limit}. This model supports at most {deployment.max_output_tokens} "
            f"output tokens, whereas you provided {limit}.",
            "max_output_tokens",
            "invalid_value",
        )
    for name in ("prompt_cache_key", "safety_identifier"):
        value = body.get(name)
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            return string_too_long(name, value, MAX_ID_LENGTH)
    if "prompt_cache_retention" in body and not deployment.prompt_cache_retention:
        return invalid_request(
            "prompt_cache_retention is not supported on this model", "prompt_cache_retention", "unsupported_parameter"
        )
    for value in body.get("include") or ():
        if value not in INCLUDABLE:
            return invalid_request(f"Invalid value: '{value}'.", "include", "invalid_value")
    return None


def _check_reasoning(body: Mapping[str, Any], deployment: Deployment) -> AzureError | None:
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict):
        reasoning = {}
    if not deployment.reasoning:
        for name in ("effort", "summary"):
            if name in reasoning:
                return unsupported_parameter(f"reasoning.{name}")
    if "reasoning.encrypted_content" in (body.get("include") or ()) and not deployment.accepts_encrypted_content:
        return invalid_request("Encrypted content is not supported with this model.", "include")
    if not deployment.reasoning:
        return None
    effort = reasoning.get("effort")
    if effort is not None and effort not in deployment.efforts:
        return unsupported_effort(effort, deployment.efforts, deployment.model_name)
    if reasoning.get("summary") is not None:
        if deployment.summaries == "unverified_organization":
            return invalid_request(VERIFY_ORGANIZATION, "reasoning.summary", "unsupported_value")
        if deployment.summaries == "unsupported":
            return invalid_request(
                f"Unsupported parameter: 'reasoning.summary' is not supported with the '{deployment.model_name}' model.",
                "reasoning.summary",
                "unsupported_parameter",
            )
    for name in ("temperature", "top_p"):
        if name in body and body[name] != 1:
            return unsupported_parameter(name)
    return None


def _check_text(body: Mapping[str, Any], _deployment: Deployment) -> AzureError | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    name = fmt.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-zA-Z0-9_-]{1,64}$", name):
        return missing("text.format.name")
    if not isinstance(fmt.get("schema"), dict):
        return missing("text.format.schema")
    violation = strict_violation(fmt["schema"]) if fmt.get("strict") is True else None
    if violation is not None:
        return invalid_request(
            f"Invalid schema for response_format '{name}': {violation}", "text.format.schema", "invalid_json_schema"
        )
    return None
