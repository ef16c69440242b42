"""What a request holds of its caller's budget while it runs, and what it is charged when Azure's usage never came.

    allowance (held at admission)   its input, counted locally (`bridge.upstreams.token_count`), plus its output limit:
                                    max_tokens as sent upstream (after *_MAX_TOKENS and MAX_TOKENS_LIMIT),
                                    at most OUTPUT_HOLD_CAP, which is also what a request that sets none holds
    estimate (charged at the end    its input, counted locally, plus the text the upstream produced until
      when Azure's usage is          it stopped (text, reasoning summaries, tool names and arguments): its
      missing: a stream cut, a       first 32,000 characters counted with the same tokenizer, once, at the end,
      call abandoned)                the rest at CHARS_PER_TOKEN (4) characters a token; an answer the client
                                     abandoned before any of it came is charged its input

Why the cap: Claude Code asks for max_tokens 64,000 or 128,000 on every call, and answers that long are rare
(32,000 tokens is a 120 KB file written at once); holding the full limit would let a person run two to four
times fewer requests at once near the end of their budget, for nothing.  The cost: an answer longer than the
cap may pass the budget by what it writes beyond it.  The estimate misses the reasoning a model did not show
(its summary is counted, the hidden tokens are not), so a cut reasoning answer is charged less than Azure billed.
"""

from __future__ import annotations

import math

from bridge.gateway.usage.store import Tokens
from bridge.model import Api, Request, Usage
from bridge.upstreams.stream import Received
from bridge.upstreams.token_count import CHARS_PER_TOKEN, count_input_tokens, count_text_tokens

OUTPUT_HOLD_CAP = 32_000


def allowance(input_tokens: int, max_tokens: int | None) -> int:
    """What a request holds while it runs."""
    return input_tokens + (OUTPUT_HOLD_CAP if max_tokens is None else min(max_tokens, OUTPUT_HOLD_CAP))


def reported(usage: Usage) -> Tokens:
    """A finished request as Azure reported it: input (cached included) and output."""
    return Tokens(usage.input_tokens + usage.cached_tokens, usage.output_tokens, 1)


async def estimated(request: Request, api: Api, output: Received | None, input_tokens: int | None = None) -> Tokens:
    """A request Azure reported no usage for: `input_tokens` (counted at admission) or counted now, and what the
    upstream produced (`output`; None: nothing came)."""
    counted = input_tokens if input_tokens is not None else await count_input_tokens(request, api)
    produced = 0
    if output is not None:
        produced = (await count_text_tokens(output.pieces) if output.pieces else 0) + math.ceil(output.beyond / CHARS_PER_TOKEN)
    return Tokens(counted, produced, 1)
