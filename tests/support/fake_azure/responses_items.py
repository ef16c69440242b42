"""Responses `input` items: their shapes, their ids, and the rules of a conversation kept without `store`.

Checked in this order; the first broken rule answers (400, IRE, `param: "input"` unless noted):

    rule                                                   message
    -----------------------------------------------------  -------------------------------------------------------------
    a field the item type does not take (`status` on a     `Unknown parameter: 'input[3].status'.` (unknown_parameter)
      reasoning item: output-only)
    an id with another type's prefix                       `Invalid 'input[3].id': 'toolu_1'. Expected an ID that begins
                                                           with 'fc'.` ('msg' messages, 'rs' reasoning; invalid_value)
    item shape (roles, content parts, image URLs, call     `Invalid value ...` / `Missing required parameter ...`
      ids of 64 characters at most)
    the same id twice                                      `Duplicate item found with id <id>. Remove duplicate items ...`
    reasoning without `encrypted_content`, store false     `Item with id 'rs_…' not found. Items are not persisted ...`
    `encrypted_content` another resource or model sealed   `The encrypted content for item rs_… could not be verified.
                                                           Reason: ...` (invalid_encrypted_content, param null; code
                                                           null on api-version 2025-03-01-preview)
    reasoning last, or followed by a user message / output `Item 'rs_…' of type 'reasoning' was provided without its
                                                           required following item.`
    a call or message sent with the id the resource gave   `Item 'fc_…' of type 'function_call' was provided without its
      it, without the reasoning item it followed           required 'reasoning' item: 'rs_…'.`
    an output with no call / a call with no output         `No tool call found for function call output with call_id X.` /
                                                           `No tool output found for function call X.`
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .deployment import Deployment
from .encrypted import Vault
from .errors import AzureError, invalid_request, missing, string_too_long, unknown_parameter
from .images import image_url_error

Item = Mapping[str, Any]
ITEM_FIELDS: Mapping[str, frozenset[str]] = {
    "message": frozenset({"type", "role", "content", "id", "status"}),
    "function_call": frozenset({"type", "id", "call_id", "name", "arguments", "status"}),
    "function_call_output": frozenset({"type", "id", "call_id", "output", "status"}),
    "reasoning": frozenset({"type", "id", "summary", "encrypted_content", "content"}),
}
"""The fields each input item type takes (a reasoning item's `status` is output-only)."""
ID_PREFIXES: Mapping[str, str] = {"message": "msg", "function_call": "fc", "reasoning": "rs"}
ROLES = ("user", "assistant", "system", "developer")
INPUT_PARTS = ("input_text", "input_image", "input_file")
ASSISTANT_PARTS = ("output_text", "refusal")
MAX_CALL_ID_LENGTH = 64
NULL_CODE_VERSION = "2025-03-01-preview"
"""The api-version whose invalid-encrypted-content refusal carries `code: null`."""


def _in_input(message: str) -> AzureError:
    return invalid_request(message, "input")


def _invalid(message: str, param: str, code: str = "invalid_value") -> AzureError:
    return invalid_request(message, param, code)


def input_error(
    body: Mapping[str, Any], deployment: Deployment, vault: Vault, api_version: str | None = None
) -> AzureError | None:
    """The first rule the `input` of `body` breaks, or None when the service would take it."""
    items = body.get("input")
    if isinstance(items, str):
        return None
    if not isinstance(items, list) or not items:
        return missing("input")
    for index, item in enumerate(items):
        error = _item_error(f"input[{index}]", item)
        if error is not None:
            return error
    checks: tuple[Callable[[Sequence[Item]], AzureError | None], ...] = (
        _duplicates,
        lambda checked: _reasoning_state(checked, body.get("store") is False, deployment, vault, api_version),
        _following_items,
        lambda checked: _needed_reasoning(checked, vault),
        _calls_answered,
    )
    for check in checks:
        error = check(items)
        if error is not None:
            return error
    return None


def _item_error(where: str, item: Any) -> AzureError | None:
    if not isinstance(item, dict):
        return _invalid(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
    kind = item.get("type", "message")
    if kind not in ITEM_FIELDS:
        return _invalid(
            f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', 'function_call_output' and 'reasoning'.",
            f"{where}.type",
        )
    for name in item:
        if name not in ITEM_FIELDS[kind]:
            return unknown_parameter(f"{where}.{name}")
    item_id = item.get("id")
    prefix = ID_PREFIXES.get(kind)
    if prefix is not None and isinstance(item_id, str) and not item_id.startswith(prefix):
        return _invalid(f"Invalid '{where}.id': '{item_id}'. Expected an ID that begins with '{prefix}'.", f"{where}.id")
    if kind == "message":
        return _message_error(where, item)
    if kind == "reasoning":
        return None if isinstance(item.get("summary"), list) else missing(f"{where}.summary")
    return _call_error(where, item, kind)


def _call_error(where: str, item: Item, kind: str) -> AzureError | None:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        return missing(f"{where}.call_id")
    if len(call_id) > MAX_CALL_ID_LENGTH:
        return string_too_long(f"{where}.call_id", call_id, MAX_CALL_ID_LENGTH)
    if kind == "function_call" and not (isinstance(item.get("name"), str) and isinstance(item.get("arguments"), str)):
        return missing(f"{where}.arguments")
    if kind == "function_call_output" and not isinstance(item.get("output"), (str, list)):
        return missing(f"{where}.output")
    return None


def _message_error(where: str, item: Item) -> AzureError | None:
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
            error = image_url_error(part.get("image_url"), f"{where}.content[{index}].image_url", "responses")
            if error is not None:
                return error
    return None


def _duplicates(items: Sequence[Item]) -> AzureError | None:
    seen: set[str] = set()
    for item in items:
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in seen:
                return _in_input(f"Duplicate item found with id {item_id}. Remove duplicate items from your input and try again.")
            seen.add(item_id)
    return None


def _reasoning_state(
    items: Sequence[Item], unstored: bool, deployment: Deployment, vault: Vault, api_version: str | None
) -> AzureError | None:
    for item in items:
        if item.get("type") != "reasoning":
            continue
        item_id = item.get("id")
        encrypted = item.get("encrypted_content")
        if not isinstance(encrypted, str):
            if unstored:
                return _in_input(
                    f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
                    "Try again with `store` set to true, or remove this item from your input."
                )
            continue
        if not isinstance(item_id, str) or not vault.opens(item_id, encrypted, deployment.model_name):
            code = None if api_version == NULL_CODE_VERSION else "invalid_encrypted_content"
            return invalid_request(
                f"The encrypted content for item {item_id} could not be verified. "
                "Reason: Encrypted content could not be decrypted or parsed.",
                None,
                code,
            )
    return None


def _following_items(items: Sequence[Item]) -> AzureError | None:
    for index, item in enumerate(items):
        if item.get("type") != "reasoning":
            continue
        following = items[index + 1] if index + 1 < len(items) else None
        if following is None or _is_input(following):
            return _in_input(f"Item '{item.get('id')}' of type 'reasoning' was provided without its required following item.")
    return None


def _is_input(item: Item) -> bool:
    """An item the caller wrote (a user turn or a tool output), not one the model produced."""
    kind = item.get("type", "message")
    return kind == "function_call_output" or (kind == "message" and item.get("role") != "assistant")


def _needed_reasoning(items: Sequence[Item], vault: Vault) -> AzureError | None:
    present = {item.get("id") for item in items if item.get("type") == "reasoning"}
    for item in items:
        item_id = item.get("id")
        needed = vault.needed_reasoning(item_id) if isinstance(item_id, str) else None
        if needed is not None and needed not in present:
            kind = item.get("type", "message")
            return _in_input(f"Item '{item_id}' of type '{kind}' was provided without its required 'reasoning' item: '{needed}'.")
    return None


def _calls_answered(items: Sequence[Item]) -> AzureError | None:
    calls = [item["call_id"] for item in items if item.get("type") == "function_call"]
    outputs = [item["call_id"] for item in items if item.get("type") == "function_call_output"]
    for call_id in outputs:
        if call_id not in calls:
            return _in_input(f"No tool call found for function call output with call_id {call_id}.")
    for call_id in calls:
        if call_id not in outputs:
            return _in_input(f"No tool output found for function call {call_id}.")
    return None
