"""OpenAI chat/completions request → internal `Request`.

    OpenAI chat                                   internal
    --------------------------------------------  ------------------------------------------------
    model                                         model, as sent (`model_names.resolve_alias` maps aliases)
    messages[] role system | developer            Message("system"), its text
    role user: string | text, image_url parts     Message("user", TextPart | ImagePart)
      file parts {file_data | file_url}           FilePart (uploaded file ids not carried)
    role assistant: content                       TextPart, the bridge's Thinking sections removed
    role assistant: tool_calls[]                  ToolCallPart(id, function.name, function.arguments)
    role tool {tool_call_id, content}             ToolResultPart, consecutive ones in one user Message
    tools[] {type: function, function: {...}}     Tool (the flat {type: function, name, parameters}
                                                  too; other tool types skipped)
    tool_choice auto | none | required            ToolChoice auto | none | required
    tool_choice {type: function, function{name}}  ToolChoice("tool", name)
    parallel_tool_calls                           parallel_tool_calls
    reasoning_effort, else reasoning.effort       reasoning_effort
    response_format json_schema {name, schema,    ResponseFormat(schema, name, strict)
                                 strict}
    response_format json_object                   ResponseFormat({"type": "object"}, strict=False)
    response_format text                          none
    max_completion_tokens, else max_tokens        max_tokens
    stop (string | list of strings)               stop (matched by the bridge)
    temperature, top_p, stream                    same
    stream_options.include_usage                  ChatRequest.include_usage
    user                                          user (SHA-256 when over 64 characters)
    prompt_cache_key                              cache_key
    n other than 1                                refused: one choice only
    image detail, audio and file parts,           ignored: accepted, never rejected
    logprobs, seed, penalties, metadata, others

Cursor's agent sends some models' requests to chat/completions in the Responses
API's shape; a body with `input` and no `messages` is read that way:

    Responses-shaped body                         internal
    --------------------------------------------  ------------------------------------------------
    instructions                                  leading Message("system")
    input (string)                                Message("user")
    input[] {role, content: string | input_text,  Message(role) as above (developer is system);
             output_text, input_image parts}      input_image {image_url} is an ImagePart
    input[] {type: function_call, call_id,        ToolCallPart in the assistant message before it
             name, arguments}
    input[] {type: function_call_output,          ToolResultPart, consecutive ones in one user Message
             call_id, output}
    input[] reasoning, custom tool calls, others  skipped
    max_output_tokens                             max_tokens (after the two above)

Errors name the field at fault the way OpenAI does (`param: messages[2].content`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from bridge.errors import invalid_request
from bridge.fronts.openai.errors import ParamError, invalid_param
from bridge.fronts.openai.reasoning import strip_thinking
from bridge.model import (
    MAX_MODEL_NAME_LENGTH,
    FilePart,
    ImagePart,
    Media,
    Message,
    Part,
    ReasoningEffort,
    Request,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    bounded,
)
from bridge.sse import dumps

EFFORTS: tuple[str, ...] = get_args(ReasoningEffort)
ROLES = ("system", "developer", "user", "assistant", "tool")
EMPTY_PARAMETERS: dict[str, object] = {"type": "object", "properties": {}}


@dataclass(slots=True)
class ChatRequest:
    request: Request
    include_usage: bool = False


def _missing(path: str) -> ParamError:
    return invalid_param(path, f"Missing required parameter: '{path}'.", "missing_required_parameter")


def _wrong_type(path: str, expected: str) -> ParamError:
    return invalid_param(path, f"Invalid type for '{path}': expected {expected}.", "invalid_type")


def _choices(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _required(body: Mapping[str, Any], key: str, path: str) -> Any:
    if body.get(key) is None:
        raise _missing(path)
    return body[key]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a string")
    return value


def _required_string(body: Mapping[str, Any], key: str, path: str) -> str:
    return _string(_required(body, key, path), path)


def _optional(body: Mapping[str, Any], key: str, kind: type, expected: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _wrong_type(key, expected)
    return value


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong_type(key, "a number")
    return float(value)


def _image_url(raw: Any, path: str) -> ImagePart:
    url = raw.get("url") if isinstance(raw, dict) else raw
    if not isinstance(url, str) or not url:
        raise _missing(f"{path}.url")
    return ImagePart(url)


def _parts(content: Any, path: str) -> list[Media]:
    """Text, image and file parts of `content` (a string or an array of parts); other part types are not carried."""
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    if not isinstance(content, list):
        raise _wrong_type(path, "a string or an array of content parts")
    parts: list[Media] = []
    for i, part in enumerate(content):
        part_path = f"{path}[{i}]"
        if not isinstance(part, dict):
            raise _wrong_type(part_path, "an object")
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            text = _required_string(part, "text", f"{part_path}.text")
            if text:
                parts.append(TextPart(text))
        elif kind in ("image_url", "input_image"):
            parts.append(_image_url(part.get("image_url"), f"{part_path}.image_url"))
        elif kind in ("file", "input_file"):
            document = _file(part.get("file") if kind == "file" else part)
            if document is not None:
                parts.append(document)
    return parts


def _file(raw: Any) -> FilePart | None:
    """A `file` part's document when it carries its data or a URL (uploaded file ids are not carried)."""
    if not isinstance(raw, dict):
        return None
    url = raw.get("file_data") or raw.get("file_url")
    filename = raw.get("filename")
    if not isinstance(url, str) or not url:
        return None
    return FilePart(url, filename) if isinstance(filename, str) and filename else FilePart(url)


def _arguments(raw: Any, path: str) -> str:
    if raw is None:
        return "{}"
    if isinstance(raw, (dict, list)):
        return dumps(raw).decode()
    return _string(raw, path)


def _tool_calls(raw: Any, path: str) -> list[ToolCallPart]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _wrong_type(path, "an array")
    calls: list[ToolCallPart] = []
    for i, call in enumerate(raw):
        call_path = f"{path}[{i}]"
        if not isinstance(call, dict):
            raise _wrong_type(call_path, "an object")
        call_id = _required_string(call, "id", f"{call_path}.id")
        function = _required(call, "function", f"{call_path}.function")
        if not isinstance(function, dict):
            raise _wrong_type(f"{call_path}.function", "an object")
        name = _required_string(function, "name", f"{call_path}.function.name")
        calls.append(ToolCallPart(call_id, name, _arguments(function.get("arguments"), f"{call_path}.function.arguments")))
    return calls


def _assistant(item: Mapping[str, Any], path: str) -> list[Part]:
    parts: list[Part] = []
    for part in _parts(item.get("content"), f"{path}.content"):
        if isinstance(part, TextPart):
            text = strip_thinking(part.text)
            if text.strip():
                parts.append(TextPart(text))
    parts.extend(_tool_calls(item.get("tool_calls"), f"{path}.tool_calls"))
    return parts


def _messages(raw: Any, at: str | None = None) -> list[Message]:
    """Chat messages; `at` names the one item of a Responses-shaped input being read."""
    if not isinstance(raw, list):
        raise _wrong_type("messages", "an array")
    messages: list[Message] = []
    for i, item in enumerate(raw):
        path = at or f"messages[{i}]"
        if not isinstance(item, dict):
            raise _wrong_type(path, "an object")
        role = item.get("role")
        if role in ("system", "developer"):
            messages.append(Message("system", [part for part in _required_parts(item, path) if isinstance(part, TextPart)]))
        elif role == "user":
            messages.append(Message("user", [*_required_parts(item, path)]))
        elif role == "assistant":
            messages.append(Message("assistant", _assistant(item, path)))
        elif role == "tool":
            call_id = _required_string(item, "tool_call_id", f"{path}.tool_call_id")
            _add_result(messages, ToolResultPart(call_id, [*_parts(item.get("content"), f"{path}.content")]))
        else:
            message = f"Invalid value for '{path}.role': {role!r}. Supported values are: {_choices(ROLES)}."
            raise invalid_param(f"{path}.role", message)
    return messages


def _required_parts(item: Mapping[str, Any], path: str) -> list[Media]:
    return _parts(_required(item, "content", f"{path}.content"), f"{path}.content")


def _add_result(messages: list[Message], result: ToolResultPart) -> None:
    last = messages[-1] if messages else None
    if last is not None and last.parts and all(isinstance(p, ToolResultPart) for p in last.parts):
        last.parts.append(result)
    else:
        messages.append(Message("user", [result]))


def _input_messages(instructions: Any, raw: Any) -> list[Message]:
    """The conversation of a Responses-shaped body."""
    messages = [Message("system", [TextPart(instructions)])] if isinstance(instructions, str) and instructions else []
    if isinstance(raw, str):
        return [*messages, Message("user", [TextPart(raw)])]
    if not isinstance(raw, list):
        raise _wrong_type("input", "a string or an array of input items")
    for i, item in enumerate(raw):
        path = f"input[{i}]"
        if not isinstance(item, dict):
            raise _wrong_type(path, "an object")
        kind = item.get("type", "message")
        if kind == "function_call":
            call_id = _required_string(item, "call_id", f"{path}.call_id")
            name = _required_string(item, "name", f"{path}.name")
            call = ToolCallPart(call_id, name, _arguments(item.get("arguments"), f"{path}.arguments"))
            if messages and messages[-1].role == "assistant":
                messages[-1].parts.append(call)
            else:
                messages.append(Message("assistant", [call]))
        elif kind == "function_call_output":
            call_id = _required_string(item, "call_id", f"{path}.call_id")
            _add_result(messages, ToolResultPart(call_id, [*_parts(item.get("output"), f"{path}.output")]))
        elif kind == "message":
            messages.extend(_messages([item], path))
    return messages


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _wrong_type("tools", "an array")
    tools: list[Tool] = []
    for i, tool in enumerate(raw):
        path = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _wrong_type(path, "an object")
        if tool.get("type", "function") != "function":
            continue
        nested = isinstance(tool.get("function"), dict)
        spec = tool["function"] if nested else tool
        name_path = f"{path}.function.name" if nested else f"{path}.name"
        name = _required_string(spec, "name", name_path)
        description = spec.get("description")
        parameters = spec.get("parameters")
        if not isinstance(parameters, dict):
            parameters = EMPTY_PARAMETERS
        tools.append(Tool(name, description if isinstance(description, str) else "", parameters))
    return tools


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict) and raw.get("type") == "function":
        nested = raw.get("function")
        name = (nested if isinstance(nested, dict) else raw).get("name")
        if isinstance(name, str) and name:
            return ToolChoice("tool", name)
    raise invalid_param(
        "tool_choice",
        "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or "
        '{"type": "function", "function": {"name": ...}}.',
    )


def _effort(body: Mapping[str, Any]) -> ReasoningEffort | None:
    value, path = body.get("reasoning_effort"), "reasoning_effort"
    reasoning = body.get("reasoning")
    if value is None and isinstance(reasoning, dict):
        value, path = reasoning.get("effort"), "reasoning.effort"
    if value is None:
        return None
    if value not in EFFORTS:
        raise invalid_param(path, f"Invalid value for '{path}': {value!r}. Supported values are: {_choices(EFFORTS)}.")
    effort: ReasoningEffort = value
    return effort


def _response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _wrong_type("response_format", "an object")
    kind = raw.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat({"type": "object"}, "json_object", strict=False)
    if kind == "json_schema":
        spec = _required(raw, "json_schema", "response_format.json_schema")
        if not isinstance(spec, dict):
            raise _wrong_type("response_format.json_schema", "an object")
        schema = spec.get("schema")
        name = spec.get("name")
        return ResponseFormat(
            schema if isinstance(schema, dict) else {"type": "object"},
            name if isinstance(name, str) and name else "response",
            strict=spec.get("strict") is True,
        )
    message = "Invalid value for 'response_format.type': expected 'text', 'json_object' or 'json_schema'."
    raise invalid_param("response_format.type", message)


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = _optional(body, key, int, "an integer")
        if value is None:
            continue
        if value < 1:
            message = f"Invalid '{key}': integer below minimum value. Expected a value >= 1, but got {value} instead."
            raise invalid_param(key, message)
        return int(value)
    return None


def _stop(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw else []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _wrong_type("stop", "a string or an array of strings")
    return [item for item in raw if item]


def _user(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    return bounded(raw)


def parse_request(body: Any) -> ChatRequest:
    """Translate a decoded chat/completions body; raises `BridgeError` naming the field at fault."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object")
    model = _required_string(body, "model", "model")
    if not model.strip():
        raise invalid_param("model", "Invalid 'model': empty string. Expected a model name.")
    if len(model) > MAX_MODEL_NAME_LENGTH:
        message = (
            f"Invalid 'model': string too long. Expected a string with maximum length {MAX_MODEL_NAME_LENGTH}, "
            f"but got a string with length {len(model)} instead."
        )
        raise invalid_param("model", message, "string_above_max_length")
    if body.get("messages") is None and body.get("input") is not None:
        messages = _input_messages(body.get("instructions"), body["input"])
    else:
        messages = _messages(_required(body, "messages", "messages"))
    n = body.get("n")
    if n is not None and n != 1:
        raise invalid_param("n", "Invalid 'n': the bridge returns one choice; set n to 1.", "unsupported_value")
    options = _optional(body, "stream_options", dict, "an object") or {}
    parallel = _optional(body, "parallel_tool_calls", bool, "a boolean")
    cache_key = _optional(body, "prompt_cache_key", str, "a string")
    request = Request(
        model=model,
        messages=messages,
        max_tokens=_max_tokens(body),
        stream=_optional(body, "stream", bool, "a boolean") is True,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=parallel,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stop=_stop(body.get("stop")),
        user=_user(body.get("user")),
        reasoning_effort=_effort(body),
        response_format=_response_format(body.get("response_format")),
        cache_key=cache_key or None,
    )
    return ChatRequest(request, include_usage=options.get("include_usage") is True)
