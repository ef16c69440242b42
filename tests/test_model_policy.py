"""MODEL_POLICY (issue 20): the tiers a person may use, what a request for another becomes, what GET /v1/models lists."""

from __future__ import annotations

import pytest

from bridge.config.load import load_settings
from bridge.fronts.anthropic.model_names import model_list as anthropic_models
from bridge.fronts.openai.model_names import model_ids
from bridge.gateway.auth.caller import Caller
from bridge.gateway.policy import parse_policy
from bridge.model import Message, Request, TextPart
from bridge.serving.tiers import families_asked, within

LEADS = "6d1f0c9e-2222-4bbb-9ccc-0123456789ab"
INTERNS = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
POLICY = f"role:Bridge.Lead=opus,sonnet,haiku;group:{LEADS}=opus;group:{INTERNS}=haiku;default=sonnet,haiku"
SETTINGS = load_settings(
    {
        "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
        "BIG_MODEL": "gpt-5",
        "MIDDLE_MODEL": "gpt-5-mini",
        "SMALL_MODEL": "gpt-4o",
        "THINK_MODEL": "o3",
    }
)


def person(*roles: str, groups: tuple[str, ...] = (), overage: bool = False) -> Caller:
    return Caller("u", "u@contoso.example", "entra", roles=frozenset(roles), groups=frozenset(groups), groups_overage=overage)


def test_the_tiers_of_each_person() -> None:
    policy, problems = parse_policy(POLICY)
    assert problems == []
    assert policy.tiers(person("Bridge.Lead")) == {"opus", "sonnet", "haiku"}
    assert policy.tiers(person()) == {"sonnet", "haiku"}, "no entry matches: the default"
    assert policy.tiers(person(groups=(LEADS.upper(),))) == {"opus"}, "an entry replaces the default"
    assert policy.tiers(person(groups=(LEADS, INTERNS))) == {"opus", "haiku"}, "matching entries add up"
    assert policy.tiers(person(overage=True)) == set(), "groups unknown: only what the default and every group allow"
    assert policy.tiers(person("Bridge.Lead", overage=True)) == {"opus", "sonnet", "haiku"}
    assert parse_policy("")[0].tiers(person()) is None, "unset: every tier"
    assert parse_policy("role:Bridge.Lead=opus")[0].tiers(person()) == {"opus", "sonnet", "haiku"}, "no default: every tier"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("default=gpt-5", "tiers must be some of opus, sonnet, haiku, got 'gpt-5'"),
        ("default=", "tiers must be some of opus, sonnet, haiku"),
        ("role:Bridge.Lead", "must look like role:<app role>=opus,sonnet"),
        ("user:alice=opus", "must start with role:<app role>=, group:<group object id>= or default="),
        ("group:Leads=opus", "groups are named by their object id"),
    ],
)
def test_what_is_wrong_with_the_policy_is_said_never_raised(raw: str, problem: str) -> None:
    _, problems = parse_policy(raw + ";role:Fine=haiku")
    assert len(problems) == 1 and problems[0].startswith("MODEL_POLICY: ") and problem in problems[0], problems


def request(model: str) -> Request:
    return Request(model=model, messages=[Message("user", [TextPart("hi")])])


@pytest.mark.parametrize(
    ("model", "asked"),
    [
        ("claude-opus-4-8", {"opus"}),
        ("claude-sonnet-5-5", {"sonnet"}),
        ("claude-haiku-4-5-20251001", {"haiku"}),
        ("gpt-5", {"opus"}),
        ("GPT-5-MINI", {"sonnet"}),
        ("o3", set()),
        ("some-deployment", set()),
    ],
)
def test_what_a_model_name_asks_for(model: str, asked: set[str]) -> None:
    assert families_asked(model, SETTINGS) == asked


def test_a_request_for_another_tier_gets_the_most_capable_allowed() -> None:
    allowed = frozenset({"sonnet", "haiku"})
    for model in ("claude-opus-4-8", "gpt-5", "o3", "some-deployment"):
        moved, family = within(request(model), allowed, SETTINGS)
        assert (moved is not None and moved.model, family) == ("sonnet", "sonnet"), model
    kept, family = within(request("claude-haiku-4-5"), allowed, SETTINGS)
    assert kept is not None and kept.model == "claude-haiku-4-5" and family is None
    upward, family = within(request("claude-haiku-4-5"), frozenset({"opus"}), SETTINGS)
    assert upward is not None and (upward.model, family) == ("opus", "opus"), "the most capable they may use, as asked"
    assert within(request("claude-opus-4-8"), frozenset(), SETTINGS) == (None, None)


def test_the_model_lists_show_only_the_tiers_a_person_may_use() -> None:
    listed = anthropic_models(SETTINGS, frozenset({"sonnet", "haiku"}))
    assert [m["id"] for m in listed["data"]] == ["claude-sonnet-5-5", "claude-haiku-5-5"]
    assert [m["id"] for m in anthropic_models(SETTINGS)["data"]] == ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]
    assert model_ids(SETTINGS, frozenset({"sonnet", "haiku"})) == ["gpt-5-mini", "gpt-4o"], "no opus: no gpt-high aliases"
    assert model_ids(SETTINGS, frozenset({"opus"})) == ["gpt-high", "gpt-medium", "gpt-low", "gpt-minimal", "gpt-5"]
