"""Internal `Completion` → Anthropic `message` object (non-streaming), and the usage block.

    internal                      Anthropic
    ----------------------------  ----------------------------------------------------
    TextPart                      {"type": "text", "text"} (+ "citations" when it cites)
    Citation                      {"type": "web_search_result_location", url, title,
                                  cited_text, encrypted_index: ""}
    ReasoningPart                 {"type": "thinking", "thinking", "signature"}
    ToolCall                      {"type": "tool_use", "id", "name", "input": parsed JSON}
    WebSearchCall                 {"type": "server_tool_use", "id", "name": "web_search",
                                  "input": {"query"}}
    WebSearchResults              {"type": "web_search_tool_result", "tool_use_id", "content":
                                  [{"type": "web_search_result", url, title,
                                  encrypted_content: "", page_age: null}]}
    Finish.reason / stop_sequence stop_reason / stop_sequence
    Usage input (without cached)  input_tokens
    Usage cached                  cache_read_input_tokens
    Usage output                  output_tokens
    Usage reasoning               output_tokens_details.thinking_tokens (when non-zero)
    Usage web_search_requests     server_tool_use {web_search_requests, web_fetch_requests: 0}
                                  (when non-zero)

The web search results and citations carry no encrypted fields: Azure returns
none, and the bridge sends neither back upstream.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from bridge.model import Citation, Completion, ReasoningPart, TextPart, ToolCall, Usage, WebSearchCall, WebSearchResults

WEB_SEARCH_TOOL = "web_search"


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def usage_body(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
    }
    if usage.web_search_requests:
        body["server_tool_use"] = {"web_search_requests": usage.web_search_requests, "web_fetch_requests": 0}
    if usage.reasoning_tokens:
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body


def citation_body(citation: Citation) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "cited_text": citation.cited_text,
        "url": citation.url,
        "title": citation.title,
        "encrypted_index": "",
    }


def web_search_use_block(call_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "server_tool_use", "id": call_id, "name": WEB_SEARCH_TOOL, "input": arguments}


def web_search_results_block(results: WebSearchResults) -> dict[str, Any]:
    content = [
        {"type": "web_search_result", "url": source.url, "title": source.title, "encrypted_content": "", "page_age": None}
        for source in results.sources
    ]
    return {"type": "web_search_tool_result", "tool_use_id": results.call_id, "content": content}


def tool_input(arguments: str) -> Any:
    """The tool input as an object; models occasionally emit invalid JSON, which becomes {}."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _block(part: TextPart | ReasoningPart | ToolCall | WebSearchCall | WebSearchResults) -> dict[str, Any]:
    if isinstance(part, TextPart):
        if part.citations:
            return {"type": "text", "text": part.text, "citations": [citation_body(c) for c in part.citations]}
        return {"type": "text", "text": part.text}
    if isinstance(part, ReasoningPart):
        return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    if isinstance(part, WebSearchCall):
        return web_search_use_block(part.id, {"query": part.query})
    if isinstance(part, WebSearchResults):
        return web_search_results_block(part)
    return {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)}


def message_body(completion: Completion, message_id: str, model: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(part) for part in completion.content],
        "stop_reason": completion.finish.reason,
        "stop_sequence": completion.finish.stop_sequence,
        "usage": usage_body(completion.usage),
    }
