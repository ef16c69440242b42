"""Prices (issue 20): the kept table's Azure rows, PRICES over it, a request's cost to the micro-dollar, and never a
silent $0."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bridge.gateway.pricing.book import PriceBook
from bridge.gateway.pricing.price import FREE, Cost, Price, Rate
from bridge.gateway.pricing.rules import parse_prices
from bridge.gateway.pricing.table import table_price
from tests.support.paths import ROOT

AZURE_GLOBAL = {
    # model: USD per million input, cached input, output tokens, as Azure's Retail Prices API lists the Global
    # deployment meters (prices.azure.com/api/retail/prices, fetched 2026-08-11: "GPT 5 Inpt Glbl", "cchd Inpt Glbl", ...)
    "gpt-5": ("1.25", "0.125", "10"),
    "gpt-5-mini": ("0.25", "0.025", "2"),
    "gpt-4.1": ("2", "0.5", "8"),
    "gpt-4o": ("2.5", "1.25", "10"),
    "o3": ("2", "0.5", "8"),
    "o4-mini": ("1.1", "0.275", "4.4"),
}


@pytest.mark.parametrize("model", list(AZURE_GLOBAL))
def test_the_table_has_azures_global_prices(model: str) -> None:
    price = table_price(model)
    assert price is not None
    assert (price.input.base, price.cached.base, price.output.base) == tuple(Decimal(v) for v in AZURE_GLOBAL[model])
    assert price.source.startswith("genai-prices 0.2.5: ")


def test_dated_and_versioned_names_find_their_model() -> None:
    for name in ("gpt-5-2025-08-07", "GPT-5", "gpt-4o-2024-11-20", "gpt-4.1-mini-2025-04-14"):
        assert table_price(name) is not None, name
    for name in ("my-gpt5-deploy", "model-router", "gpt-5.2_2025-12-11"):
        assert table_price(name) is None, f"{name}: an arbitrary deployment name needs PRICES"


def azure_models() -> list[str]:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    ids: set[str] = set()
    for provider in snapshot.providers:
        if provider.id in ("azure", "openai"):
            ids.update(model.id for model in provider.models)
    return sorted(ids)


def test_costs_agree_with_the_tables_own_calculation_on_every_azure_row() -> None:
    """`Price.cost` by kind, rounded to micro-dollars, is genai-prices' `ModelPrice.calc_price` on every row the
    Azure provider resolves (tiers included: above 272,000 input tokens every token costs the tier's rate)."""
    from genai_prices import Usage, data_snapshot

    now = datetime.now(UTC)
    snapshot = data_snapshot.get_snapshot()
    checked = 0
    for model in azure_models():
        price = table_price(model, now)
        if price is None:
            continue
        _, info = snapshot.find_provider_model(model, None, "azure", None)
        for uncached, cached, output in ((1_000, 800, 200), (30_000, 250_000, 5_000), (400_000, 0, 1)):
            mine = price.cost(uncached, cached, output)
            theirs = info.get_prices(now).calc_price(
                Usage(input_tokens=uncached + cached, cache_read_tokens=cached, output_tokens=output)
            )
            assert abs(mine.total - theirs["total_price"] * 1_000_000) <= 2, (model, uncached, cached, output)
            assert abs(mine.output - theirs["output_price"] * 1_000_000) <= 1, (model, uncached, cached, output)
        checked += 1
    assert checked > 100, f"only {checked} rows checked"


def test_a_long_request_costs_the_tier_rate_for_all_its_tokens() -> None:
    price = table_price("gpt-5.4")
    assert price is not None and price.input.tiers == ((272_000, Decimal("5")),)
    assert price.cost(100_000, 0, 0) == Cost(input=250_000)
    assert price.cost(300_000, 0, 0) == Cost(input=1_500_000), "$5 per million for all 300,000"
    assert price.cost(100_000, 200_000, 1000).cached == 100_000, "cached tokens count towards the tier: $0.50 per million"


def test_a_model_without_a_cache_price_bills_cached_tokens_as_input() -> None:
    price = table_price("gpt-5-pro")
    assert price is not None and price.cached == price.input
    assert price.cost(0, 100_000, 0) == Cost(cached=1_500_000)


def test_parts_are_rounded_once_half_to_even() -> None:
    price = Price(Rate(Decimal("0.125")), Rate(Decimal("0.125")), Rate(Decimal("0.5")), "test")
    assert price.cost(4, 12, 1) == Cost(input=0, cached=2, output=0), "0.5 → 0, 1.5 → 2, 0.5 → 0"
    assert price.cost(0, 0, 0).total == 0


# ----- PRICES ---------------------------------------------------------------------------------------------------


def test_prices_of_their_own_a_models_times_a_factor_and_free() -> None:
    rules, problems = parse_prices(
        "gpt-5=input:1.25,cached:0.125,output:10; my-ft = input:3,output:12;my-deploy=model:gpt-5*1.1;local=free"
    )
    assert problems == []
    own = rules["gpt-5"].price
    assert own is not None and (own.input.base, own.cached.base, own.output.base) == (
        Decimal("1.25"),
        Decimal("0.125"),
        Decimal(10),
    )
    uncached = rules["my-ft"].price
    assert uncached is not None and uncached.cached == uncached.input, "no cached price: cached input at the input rate"
    assert (rules["my-deploy"].model, rules["my-deploy"].factor) == ("gpt-5", Decimal("1.1"))
    assert rules["local"].price is FREE


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("gpt-5=input:0,output:0", "'0' must be more than 0 (write `free` for a deployment that costs nothing)"),
        ("gpt-5=input:1.25,cached:0,output:10", "'0' must be more than 0"),
        ("gpt-5=input:-1,output:10", "'-1' must be more than 0"),
        ("gpt-5=model:gpt-5*0", "'0' must be more than 0"),
        ("gpt-5=model:gpt-5*-1", "'-1' must be more than 0"),
        ("gpt-5=input:1", "output missing"),
        ("gpt-5=input:abc,output:1", "'abc' is not a number"),
        ("gpt-5=input:NaN,output:1", "'NaN' must be more than 0"),
        ("gpt-5=in:1,out:2", "'in:1' must be input:<usd>"),
        ("gpt-5", "must look like <deployment>=input:"),
        ("gpt-5=model:", "model: needs the name of a model"),
    ],
)
def test_a_price_that_would_make_traffic_free_is_refused(raw: str, problem: str) -> None:
    """The attacker's (or the typo's) probe: nothing but `free` prices a deployment at $0."""
    rules, problems = parse_prices(raw)
    assert "gpt-5" not in rules, "left without a price, so a dollar budget refuses its requests"
    assert len(problems) == 1 and problems[0].startswith("PRICES: ") and problem in problems[0], problems
    book = PriceBook(rules)
    assert book.lookup("gpt-5") is not None, "the table still prices the deployment named like its model"
    assert PriceBook(parse_prices(raw.replace("gpt-5=", "my-deploy="))[0]).lookup("my-deploy") is None


def test_a_deployment_priced_twice_keeps_the_first() -> None:
    rules, problems = parse_prices("a=input:1,output:2;a=input:3,output:4")
    assert rules["a"].price is not None and rules["a"].price.input.base == 1 and problems == ["PRICES: 'a' is priced twice"]


# ----- the book: PRICES over the table, problems named by setting and deployment ------------------------------------


def test_prices_come_from_prices_first_then_the_table_by_name() -> None:
    rules, _ = parse_prices("gpt-5=model:gpt-5*1.1;my-deploy=model:gpt-4.1;mine=input:3,output:12")
    book = PriceBook(rules)
    uplifted = book.lookup("gpt-5")
    assert uplifted is not None and uplifted.input.base == Decimal("1.375")
    assert uplifted.source == "PRICES: model gpt-5*1.1 (genai-prices 0.2.5: gpt-5)"
    assert uplifted.cost(1_000_000, 0, 0).total == 1_375_000, "Data Zone: +10 %"
    aliased = book.lookup("my-deploy")
    assert aliased is not None and aliased.output.base == 8
    assert aliased.source == "PRICES: model gpt-4.1 (genai-prices 0.2.5: gpt-4.1)"
    assert book.lookup("gpt-4o") is not None and book.lookup("nobody-knows") is None
    assert book.problems({"BIG_MODEL": "gpt-5", "SMALL_MODEL": "gpt-4o"}, "BUDGET_DAILY_USD") == []


def test_a_deployment_without_a_price_is_a_problem_named_by_setting_and_deployment() -> None:
    book = PriceBook(parse_prices("alias=model:gpt-99")[0])
    tiers = {"BIG_MODEL": "gpt-5", "SMALL_MODEL": "my-small"}
    assert [p.detailed for p in book.problems(tiers, None)] == [
        "PRICES: 'alias' names model 'gpt-99', which genai-prices 0.2.5 does not know: give its price instead "
        "(alias=input:<usd>,cached:<usd>,output:<usd> per million tokens)"
    ], "without a dollar budget, a tier without a price is no problem (its cost shows as unknown)"
    problems = book.problems(tiers, "BUDGET_DAILY_USD")
    assert len(problems) == 2
    detailed, public = problems[1].detailed, problems[1].public
    assert detailed.startswith("SMALL_MODEL deployment 'my-small' has no price while BUDGET_DAILY_USD is set")
    assert "my-small=model:<the model it deploys>" in detailed
    assert public.startswith("SMALL_MODEL has no price while BUDGET_DAILY_USD is set") and "my-small" not in public


@pytest.mark.anyio
async def test_the_table_is_read_in_a_worker_thread_and_kept() -> None:
    book = PriceBook()
    assert book.known("gpt-5") is not None and not isinstance(book.known("gpt-5"), Price)
    price = await book.price("gpt-5")
    assert price is not None and book.known("gpt-5") is price
    assert await book.price("not-a-model") is None and book.known("not-a-model") is None


@pytest.mark.process
def test_the_price_table_stays_off_the_function_apps_import() -> None:
    """genai-prices costs about 40 ms and 6 MB to import: the worker's import of the app must not pay it."""
    probe = "import sys, function_app; import bridge.serving.handler; print('genai_prices' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
