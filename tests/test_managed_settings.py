"""Managed settings per app role and group (issue 22, item 3): MANAGED_SETTINGS merged per person, and
`GET /managed/settings` as Claude Code's gateway protocol says (../shared/claude-gateway-protocol/2.1.332/):
the `{uuid, checksum, settings}` wrapper, the checksum the client computes itself, ETag and 304 only in answer
to a matching If-None-Match, 404 when no policy applies, `x-cc-gateway-version` and never `no-store`.

The pure rules first (merge, checksum as JavaScript writes JSON, the setting's errors), then a bridge with
CLIENT_AUTH=entra answering people with different roles and groups.  The real CLI receiving them through
`/login` is tests/test_claude_code_login.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.gateway.auth.caller import Caller
from bridge.gateway.managed_settings import (
    SESSION_CHECKSUM_HEADER,
    canonical_json,
    checksum,
    js_number,
    merged,
    parse_managed_settings,
    session_settings,
    unchanged,
)
from tests.support.bicep import INFRA, app_settings, text
from tests.support.bridge import RunningBridge, bridge_env, line_of, running_bridge
from tests.support.fake_azure import FakeAzure
from tests.support.fake_entra import ALICE, BOB, FakeEntra, User
from tests.support.gateway_protocol import captured_json, recorded

ENGINEERING = "6d1f0c9e-2222-4bbb-9ccc-0123456789ab"
"""ALICE's group (tests/support/fake_entra.py)."""
DENY_RM = {"permissions": {"deny": ["Bash(rm -rf:*)"]}}
POLICY: list[dict[str, Any]] = [
    {"for": "role:Bridge.User", "settings": {**DENY_RM, "env": {"MARKER": "users"}}},
    {"for": "role:Bridge.Lead", "settings": {"permissions": {"deny": ["WebFetch"]}, "model": "opus"}},
    {"for": f"group:{ENGINEERING}", "settings": {"env": {"MARKER": "engineering", "CLAUDE_CODE_GATEWAY_HINT_HEADERS": "1"}}},
    {"for": "role:Bridge.Nobody", "settings": {"model": "haiku"}},
]
VERSION_HEADER = "x-cc-gateway-version"


def person(*roles: str, groups: tuple[str, ...] = (), overage: bool = False) -> Caller:
    return Caller("oid", "someone", "entra", roles=frozenset(roles), groups=frozenset(groups), groups_overage=overage)


def policy() -> Any:
    managed, problems = parse_managed_settings(json.dumps(POLICY))
    assert problems == []
    return managed


def test_the_checksum_is_the_one_the_recorded_gateway_served() -> None:
    served = captured_json("Response: `etag:")
    assert served["uuid"] == served["checksum"]
    recorded_prefix = served["checksum"].rstrip("…")
    assert checksum(served["settings"]).startswith(recorded_prefix) and len(recorded_prefix) > len("sha256:")
    assert "keys sorted at every level and no whitespace" in recorded("protocol.md")


def test_a_person_gets_the_merge_of_what_matches_them_in_order() -> None:
    managed = policy()
    lead = managed.document(person("Bridge.User", "Bridge.Lead", groups=(ENGINEERING.upper(),)))
    assert lead is not None
    assert lead.settings == {
        "permissions": {"deny": ["Bash(rm -rf:*)", "WebFetch"]},
        "env": {"MARKER": "engineering", "CLAUDE_CODE_GATEWAY_HINT_HEADERS": "1"},
        "model": "opus",
    }
    assert lead.body() == {"uuid": lead.checksum, "checksum": lead.checksum, "settings": lead.settings}
    user = managed.document(person("Bridge.User"))
    assert user is not None and user.settings == {**DENY_RM, "env": {"MARKER": "users"}}
    assert user.checksum != lead.checksum
    assert managed.document(person("Bridge.Other")) is None, "no entry applies: no managed policy (404)"


def test_a_person_whose_groups_are_unknown_gets_no_group_entry() -> None:
    document = policy().document(person("Bridge.User", overage=True))
    assert document is not None and document.settings["env"] == {"MARKER": "users"}


def test_an_empty_policy_is_not_no_policy() -> None:
    managed, _ = parse_managed_settings('[{"for": "everyone", "settings": {}}]')
    document = managed.document(person())
    assert document is not None and document.settings == {}
    assert document.checksum == "sha256:" + hashlib.sha256(b"{}").hexdigest()


def test_merging_never_changes_the_declared_entries() -> None:
    base = {"permissions": {"deny": ["a"]}}
    over = {"permissions": {"deny": ["a", "b"], "allow": ["c"]}, "model": "x"}
    assert merged(base, over) == {"permissions": {"deny": ["a", "b"], "allow": ["c"]}, "model": "x"}
    assert base == {"permissions": {"deny": ["a"]}} and over["permissions"] == {"deny": ["a", "b"], "allow": ["c"]}
    assert merged({"model": "a", "env": {"A": "1"}}, {"env": "replaced"}) == {"model": "a", "env": "replaced"}


@pytest.mark.parametrize(
    ("number", "javascript"),
    [(1.0, "1"), (0.5, "0.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (1e-6, "0.000001"),
     (123.456, "123.456"), (-2.5e-8, "-2.5e-8"), (2**53, "9007199254740992"), (0.1 + 0.2, "0.30000000000000004")],
)  # fmt: skip
def test_numbers_are_written_as_javascript_writes_them(number: float, javascript: str) -> None:
    assert js_number(number) == javascript


def test_keys_sort_by_utf16_and_text_stays_unescaped() -> None:
    value = {"b": [1, True, None], "a": {"é": "ü", "\U0001f600": 1, "\uff5e": 2}, "A": 2.0}
    assert canonical_json(value) == '{"A":2,"a":{"é":"ü","\U0001f600":1,"\uff5e":2},"b":[1,true,null]}'


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_canonical_json_is_json_of_the_same_value(value: Any) -> None:
    assert json.loads(canonical_json(value)) == value


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{", "not valid JSON"),
        ('{"for": "everyone"}', "JSON list"),
        ('[{"for": "everyone"}]', 'exactly "for" and "settings"'),
        ('[{"for": "team:x", "settings": {}}]', '"for" must be'),
        ('[{"for": "group:Engineering", "settings": {}}]', "object id"),
        ('[{"for": "everyone", "settings": []}]', "JSON object"),
        ('[{"for": "everyone", "settings": {"n": NaN}}]', "NaN is not JSON"),
    ],
)
def test_a_malformed_setting_serves_nothing_and_says_why(raw: str, says: str) -> None:
    managed, problems = parse_managed_settings(raw)
    assert managed.problem is not None and says in managed.problem
    assert problems and all(p.startswith("MANAGED_SETTINGS") for p in problems)
    assert managed.entries == ()


def test_if_none_match_names_the_checksum_quoted_bare_weak_or_listed() -> None:
    current = "sha256:abc"
    assert unchanged('"sha256:abc"', current) and unchanged("sha256:abc", current)
    assert unchanged('W/"sha256:abc"', current) and unchanged('"x", "sha256:abc"', current)
    assert not unchanged("*", current) and not unchanged(None, current) and not unchanged('"sha256:abd"', current)


def test_a_sessions_checksum_is_compared_with_what_its_person_is_served() -> None:
    """The module's table: served, other, none, or nothing to say."""
    served = policy().document(person("Bridge.User"))
    assert served is not None
    assert session_settings(served, served.checksum) == "served"
    assert session_settings(served, f" {served.checksum} ") == "served"
    assert session_settings(served, "sha256:" + "0" * 64) == "other", "stale, or edited on the machine"
    assert session_settings(None, served.checksum) == "other", "settings the bridge does not serve this person"
    assert session_settings(served, None) == "none", "an unmanaged session, or no hint headers"
    assert session_settings(None, None) is None


def test_a_document_is_made_once_per_combination_of_entries() -> None:
    managed = policy()
    first = managed.document(person("Bridge.User", groups=(ENGINEERING,)))
    again = managed.document(person("Bridge.User", groups=(ENGINEERING,)))
    assert first is again and first is not None
    other = managed.document(person("Bridge.User"))
    assert other is not None and other.checksum != first.checksum and len(managed.documents) == 2


@pytest.fixture(scope="module")
def managed_bridge(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, **entra.bridge_settings(), MANAGED_SETTINGS=json.dumps(POLICY))
    with running_bridge(env, tmp_path_factory.mktemp("managed") / "bridge.log", in_process=True) as running:
        yield running


def fetch(bridge: RunningBridge, token: str, **headers: str) -> httpx.Response:
    return httpx.get(bridge.url + "/managed/settings", headers={"Authorization": f"Bearer {token}", **headers})


def test_the_policy_is_served_in_the_protocols_wrapper_with_its_etag(managed_bridge: RunningBridge, entra: FakeEntra) -> None:
    answer = fetch(managed_bridge, entra.token(ALICE), **{"cache-control": "no-cache", "pragma": "no-cache"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"uuid", "checksum", "settings"}
    assert body["settings"]["env"]["MARKER"] == "engineering" and body["settings"]["model"] == "opus"
    expected = (
        "sha256:" + hashlib.sha256(json.dumps(body["settings"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )
    assert body["checksum"] == body["uuid"] == expected
    assert answer.headers["etag"] == f'"{expected}"'
    assert answer.headers[VERSION_HEADER] == "2.1.332"
    assert "no-store" not in answer.headers.get("cache-control", ""), "with no-store Claude Desktop reads 304/404 strictly"


def test_a_matching_if_none_match_is_a_304_and_only_then(managed_bridge: RunningBridge, entra: FakeEntra) -> None:
    first = fetch(managed_bridge, entra.token(ALICE))
    etag = first.headers["etag"]
    again = fetch(managed_bridge, entra.token(ALICE), **{"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers[VERSION_HEADER] == "2.1.332"
    stale = fetch(managed_bridge, entra.token(ALICE), **{"if-none-match": '"sha256:' + "0" * 64 + '"'})
    assert stale.status_code == 200 and stale.json() == first.json()
    desktop = fetch(managed_bridge, entra.token(ALICE), **{"if-none-match": "*"})
    assert desktop.status_code == 200 and desktop.json() == first.json(), "`*` is answered as without the header"
    other = fetch(managed_bridge, entra.token(BOB), **{"if-none-match": etag})
    assert other.status_code == 200 and other.json()["settings"] == {**DENY_RM, "env": {"MARKER": "users"}}


def test_no_applying_entry_is_a_404_in_the_anthropic_envelope(managed_bridge: RunningBridge, entra: FakeEntra) -> None:
    stranger = User("1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b", "carol@contoso.example", "Carol", roles=("Bridge.Other",))
    answer = fetch(managed_bridge, entra.token(stranger))
    assert answer.status_code == 404
    assert answer.json()["type"] == "error" and answer.json()["error"]["type"] == "not_found_error"
    assert answer.headers[VERSION_HEADER] == "2.1.332"
    assert "no-store" not in answer.headers.get("cache-control", "")


def test_a_groups_overage_gets_the_role_entries_only(managed_bridge: RunningBridge, entra: FakeEntra) -> None:
    answer = fetch(managed_bridge, entra.overage_token(ALICE))
    assert answer.status_code == 200 and answer.json()["settings"]["env"] == {"MARKER": "users"}


def test_a_bad_bearer_is_a_401_not_retried(managed_bridge: RunningBridge) -> None:
    answer = fetch(managed_bridge, "not-a-token")
    assert answer.status_code == 401 and answer.headers["x-should-retry"] == "false"
    assert answer.json()["error"]["type"] == "authentication_error"


def test_a_malformed_setting_is_a_500_not_retried_and_named_at_health(
    fake_azure: FakeAzure, entra: FakeEntra, tmp_path: Path
) -> None:
    env = bridge_env(fake_azure, **entra.bridge_settings(), MANAGED_SETTINGS='[{"for": "team:x", "settings": {}}]')
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as running:
        answer = fetch(running, entra.token(ALICE))
        assert answer.status_code == 500 and answer.headers["x-should-retry"] == "false"
        assert "MANAGED_SETTINGS" in answer.json()["error"]["message"]
        health = httpx.get(running.url + "/health").json()
        assert any("MANAGED_SETTINGS" in problem for problem in health["problems"])


def test_the_deployment_serves_its_own_file_which_parses() -> None:
    main = text("main.bicep")
    assert "string(loadJsonContent('managed-settings.json'))" in main, "azd up compiles the file into MANAGED_SETTINGS"
    assert app_settings()["MANAGED_SETTINGS"] is not None
    managed, problems = parse_managed_settings((INFRA / "managed-settings.json").read_text())
    assert problems == [] and managed.problem is None


def ask(bridge: RunningBridge, token: str, **headers: str) -> dict[str, Any]:
    """A model request with `headers`; its line in the bridge's log."""
    answer = httpx.post(
        bridge.url + "/v1/messages",
        json={"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {token}", **headers},
    )
    assert answer.status_code == 200, answer.text
    return line_of(bridge, answer.headers["request-id"])


def test_each_model_request_says_whether_its_session_runs_the_served_settings(
    managed_bridge: RunningBridge, entra: FakeEntra
) -> None:
    """What an admin reads to find stale or unmanaged machines; the checksum itself is never written."""
    served = fetch(managed_bridge, entra.token(ALICE)).json()["checksum"]
    current = ask(managed_bridge, entra.token(ALICE), **{SESSION_CHECKSUM_HEADER: served})
    assert current["managed_settings"] == "served"
    stale = "sha256:" + "1" * 64
    assert ask(managed_bridge, entra.token(ALICE), **{SESSION_CHECKSUM_HEADER: stale})["managed_settings"] == "other"
    assert ask(managed_bridge, entra.token(BOB), **{SESSION_CHECKSUM_HEADER: served})["managed_settings"] == "other"
    assert ask(managed_bridge, entra.token(ALICE))["managed_settings"] == "none"
    log = managed_bridge.log()
    assert served not in log and stale not in log, "the header is sensitive: never logged"


def test_a_forged_checksum_is_only_ever_other(managed_bridge: RunningBridge, entra: FakeEntra) -> None:
    """Anyone with a bearer can send any value: garbage, a long one, another person's checksum; each is `other`,
    served as usual, and never written."""
    bob = fetch(managed_bridge, entra.token(BOB)).json()["checksum"]
    for forged in (bob, "x" * 8000, "sha256:" + "A" * 64, '"' + bob + '"', "*"):
        line = ask(managed_bridge, entra.token(ALICE), **{SESSION_CHECKSUM_HEADER: forged})
        assert line["managed_settings"] == "other", forged[:20]
    assert "x" * 100 not in managed_bridge.log()


def test_without_managed_settings_the_record_says_nothing(fake_azure: FakeAzure, entra: FakeEntra, tmp_path: Path) -> None:
    with running_bridge(bridge_env(fake_azure, **entra.bridge_settings()), tmp_path / "bridge.log", in_process=True) as bare:
        assert "managed_settings" not in ask(bare, entra.token(ALICE))
        sent = ask(bare, entra.token(ALICE), **{SESSION_CHECKSUM_HEADER: "sha256:" + "2" * 64})
        assert sent["managed_settings"] == "other", "a machine's own settings file, which this bridge does not serve"
