"""What a request holds of its caller's budgets while it runs, and what it is charged at the end.

    allowance (held at admission)   its input, counted locally (`bridge.upstreams.token_count`), plus its output limit:
                                    max_tokens as sent upstream (after *_MAX_TOKENS and MAX_TOKENS_LIMIT),
                                    at most OUTPUT_HOLD_CAP, which is also what a request that sets none holds;
                                    in dollars, those tokens at the deployment's price, all of the input as if
                                    none of it were cached (the most it can cost)
    reported (charged at the end    Azure's usage: input, of which cached, and output (reasoning included), and
      when Azure's usage came)       their cost at the deployment's price (`bridge.gateway.pricing`)
    estimate (charged at the end    its input, counted locally, plus the text the upstream produced until
      when Azure's usage is          it stopped (text, reasoning summaries, tool names and arguments): its
      missing: a stream cut, a       first 32,000 characters counted with the same tokenizer, once, at the end,
      call abandoned)                the rest at CHARS_PER_TOKEN (4) characters a token; an answer the client
                                     abandoned before any of it came is charged its input; priced the same way,
                                     its input as not cached

A deployment without a price is charged its tokens and counted as an unpriced request: its cost is unknown,
never $0 (a caller with a dollar budget never gets that far: admission refuses).

Why the cap: Claude Code asks for max_tokens 64,000 or 128,000 on every call, and answers that long are rare
(32,000 tokens is a 120 KB file written at once); holding the full limit would let a person run two to four
times fewer requests at once near the end of their budget, for nothing.  The cost: an answer longer than the
cap may pass the budget by what it writes beyond it.  The estimate misses the reasoning a model did not show
(its summary is counted, the hidden tokens are not), so a cut reasoning answer is charged less than Azure billed.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable

from bridge.gateway.pricing.price import Cost, Price
from bridge.gateway.usage.ledger import Amount
from bridge.gateway.usage.store import Counts
from bridge.model import Api, Request, Usage
from bridge.upstreams.stream import Received
from bridge.upstreams.token_count import CHARS_PER_TOKEN, count_input_tokens, count_text_tokens

OUTPUT_HOLD_CAP = 32_000


def allowance(input_tokens: int, max_tokens: int | None, price: Price | None = None) -> Amount:
    """What a request holds while it runs."""
    output = OUTPUT_HOLD_CAP if max_tokens is None else min(max_tokens, OUTPUT_HOLD_CAP)
    micros = price.cost(input_tokens, 0, output).total if price is not None else 0
    return Amount(input_tokens + output, micros)


def priced(input_tokens: int, cached_tokens: int, output_tokens: int, price: Price | None) -> tuple[Counts, Cost | None]:
    """One request's counts: `input_tokens` not cached, `cached_tokens`, `output_tokens`, at `price` (None: unpriced)."""
    cost = price.cost(input_tokens, cached_tokens, output_tokens) if price is not None else None
    counts = Counts(
        input_tokens + cached_tokens,
        cached_tokens,
        output_tokens,
        1,
        cost.total if cost is not None else 0,
        0 if cost is not None else 1,
    )
    return counts, cost


def reported(usage: Usage, price: Price | None) -> tuple[Counts, Cost | None]:
    """A finished request as Azure reported it, and its cost."""
    return priced(usage.input_tokens, usage.cached_tokens, usage.output_tokens, price)


async def estimated(
    request: Request, api: Api, output: Received | None, price: Awaitable[Price | None], input_tokens: int | None = None
) -> tuple[Counts, Cost | None]:
    """A request Azure reported no usage for: `input_tokens` (counted at admission) or counted now, and what the
    upstream produced (`output`; None: nothing came), and its cost at `price`."""
    counted = input_tokens if input_tokens is not None else await count_input_tokens(request, api)
    produced = 0
    if output is not None:
        produced = (await count_text_tokens(output.pieces) if output.pieces else 0) + math.ceil(output.beyond / CHARS_PER_TOKEN)
    return priced(counted, 0, produced, await price)
