"""A deployment's price, and what a request's tokens cost at it, in whole micro-dollars.

    kind      counts                                    rate (USD per million tokens = micro-dollars per token)
    input     input tokens not read from the cache      input
    cached    input tokens read from the cache          cached (the input rate when the model has no cache price)
    output    output tokens, reasoning included         output

A rate may step up with the request's size (`Rate.tiers`, as the price table has
them: gpt-5.4 above 272,000 input tokens): the step the request's whole input
(cached included) passes applies to all of its tokens of that kind, the rule
genai-prices' `ModelPrice.calc_price` applies (tests check the two agree on
every Azure row of the table).  Each part is rounded to a whole micro-dollar
(half to even) once, per request; sums of micro-dollars are exact integers,
never floats.  Nothing here imports the table (`bridge.gateway.pricing.table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

MICROS_PER_USD = 1_000_000


def usd(micros: int) -> float:
    """Micro-dollars as dollars, for JSON and logs (six decimals are exact)."""
    return round(micros / MICROS_PER_USD, 6)


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens: `base`, or the price of the last tier whose start the request's input passes."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()
    """(start, price): from more than `start` input tokens on, every token of the kind costs `price`."""

    def at(self, input_tokens: int) -> Decimal:
        for start, price in reversed(self.tiers):
            if input_tokens > start:
                return price
        return self.base

    def times(self, factor: Decimal) -> Rate:
        return Rate(self.base * factor, tuple((start, price * factor) for start, price in self.tiers))

    def describe(self) -> str:
        steps = "".join(f", {_plain(price)} above {start:,} input tokens" for start, price in self.tiers)
        return f"{_plain(self.base)}{steps}"


def _plain(amount: Decimal) -> str:
    """`11` for 11.0, `2.75` for 2.750: the figure as people write it."""
    return f"{amount.normalize():f}"


def _micros(tokens: int, rate: Decimal) -> int:
    return int((tokens * rate).to_integral_value(ROUND_HALF_EVEN)) if tokens > 0 else 0


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request cost, by kind, in micro-dollars."""

    input: int = 0
    cached: int = 0
    output: int = 0

    @property
    def total(self) -> int:
        return self.input + self.cached + self.output

    def parts_usd(self) -> dict[str, float]:
        return {"input": usd(self.input), "cached": usd(self.cached), "output": usd(self.output)}


@dataclass(frozen=True, slots=True)
class Price:
    """A deployment's rates, and where they come from (shown on /health and in messages)."""

    input: Rate
    cached: Rate
    output: Rate
    source: str

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> Cost:
        """The cost of `input_tokens` (cache misses), `cached_tokens` (cache hits) and `output_tokens`."""
        whole_input = input_tokens + cached_tokens
        return Cost(
            _micros(input_tokens, self.input.at(whole_input)),
            _micros(cached_tokens, self.cached.at(whole_input)),
            _micros(output_tokens, self.output.at(whole_input)),
        )

    def times(self, factor: Decimal, source: str) -> Price:
        return Price(self.input.times(factor), self.cached.times(factor), self.output.times(factor), source)

    @property
    def free(self) -> bool:
        return all(rate.base == 0 and not rate.tiers for rate in (self.input, self.cached, self.output))

    def describe(self) -> dict[str, str]:
        """USD per million tokens, by kind, and the source (GET /health)."""
        return {
            "input": self.input.describe(),
            "cached": self.cached.describe(),
            "output": self.output.describe(),
            "source": self.source,
        }


FREE = Price(Rate(Decimal(0)), Rate(Decimal(0)), Rate(Decimal(0)), "PRICES: free")
