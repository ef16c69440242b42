"""PRICES: the price of a deployment the table does not know, or knows at the wrong rate.

Entries are separated by `;`, each `<deployment>=<price>`, where <price> is one of:

    input:<usd>,cached:<usd>,output:<usd>   USD per million tokens (cached may be left out: cached input is then
                                            billed at the input rate); e.g. gpt-5=input:1.25,cached:0.125,output:10
    model:<model>                           the table's price of <model> (an arbitrarily named deployment names its
                                            model); e.g. my-deploy=model:gpt-5
    model:<model>*<factor>                  the same times <factor>: a Data Zone (+10 %: *1.1) or regional uplift,
                                            a negotiated discount (*0.8); e.g. gpt-5=model:gpt-5*1.1
    free                                    costs nothing (a model on your own hardware); the only way to price at $0

A price of zero, a negative one or a factor of zero is refused (named in
`problems`, and the deployment is left without a price, so a dollar budget
refuses its requests): a typo must never make traffic free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bridge.gateway.pricing.price import FREE, Price, Rate

KINDS = ("input", "cached", "output")
FREE_WORD = "free"
MODEL_KEY = "model"


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One PRICES entry: a price of its own, or a table row's (times a factor)."""

    deployment: str
    price: Price | None = None
    model: str | None = None
    factor: Decimal = Decimal(1)

    def source(self) -> str:
        times = f"*{self.factor}" if self.factor != 1 else ""
        return f"PRICES: model {self.model}{times}"


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text.strip()!r} must be more than 0 (write `free` for a deployment that costs nothing)")
    return value


def _own_price(spec: str) -> Price:
    rates: dict[str, Decimal] = {}
    for item in (i.strip() for i in spec.split(",")):
        kind, colon, amount = (part.strip() for part in item.partition(":"))
        if not colon or kind not in KINDS:
            raise ValueError(f"{item!r} must be input:<usd>, cached:<usd> or output:<usd> (USD per million tokens)")
        if kind in rates:
            raise ValueError(f"{kind} is given twice")
        rates[kind] = _amount(amount)
    missing = [kind for kind in ("input", "output") if kind not in rates]
    if missing:
        raise ValueError(f"{' and '.join(missing)} missing: a price names input and output (cached is optional)")
    input_rate = Rate(rates["input"])
    return Price(input_rate, Rate(rates["cached"]) if "cached" in rates else input_rate, Rate(rates["output"]), "PRICES")


def _rule(deployment: str, spec: str) -> PriceRule:
    if spec.lower() == FREE_WORD:
        return PriceRule(deployment, FREE)
    key, colon, rest = spec.partition(":")
    if colon and key.strip() == MODEL_KEY:
        model, star, factor = (part.strip() for part in rest.partition("*"))
        if not model:
            raise ValueError("model: needs the name of a model in the price table, e.g. model:gpt-5")
        return PriceRule(deployment, model=model, factor=_amount(factor) if star else Decimal(1))
    return PriceRule(deployment, _own_price(spec))


def parse_prices(raw: str, setting: str = "PRICES") -> tuple[Mapping[str, PriceRule], list[str]]:
    """The rules `raw` holds, by deployment, and what is wrong with it (messages naming `setting`); never raises."""
    rules: dict[str, PriceRule] = {}
    problems: list[str] = []
    for entry in (e.strip() for e in raw.split(";")):
        if not entry:
            continue
        deployment, equals, spec = (part.strip() for part in entry.partition("="))
        if not equals or not deployment or not spec:
            problems.append(
                f"{setting}: {entry!r} must look like <deployment>=input:<usd>,cached:<usd>,output:<usd> or "
                "<deployment>=model:<model in the price table>"
            )
            continue
        if deployment in rules:
            problems.append(f"{setting}: {deployment!r} is priced twice")
            continue
        try:
            rules[deployment] = _rule(deployment, spec)
        except ValueError as reason:
            problems.append(f"{setting}: {deployment!r} left without a price: {reason}")
    return rules, problems
