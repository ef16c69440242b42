"""The gateway as the lead wires it: its settings, who a presented credential is, the key and usage endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest

from bridge.config.table import GATEWAY_SETTINGS, SETTINGS
from bridge.errors import BridgeError
from bridge.gateway.auth.authenticate import Authenticator
from bridge.gateway.auth.caller import Caller, anonymous_caller, shared_token_caller
from bridge.gateway.auth.entra import EntraVerifier
from bridge.gateway.auth.key_table import TableKeyStore
from bridge.gateway.auth.keys import MemoryKeyStore, PersonalKeys
from bridge.gateway.build import Gateway, build_gateway
from bridge.gateway.endpoints import KEY_NOTE, create_key, list_keys, revoke_key, usage
from bridge.gateway.settings import GatewaySettings, load_gateway_settings
from bridge.gateway.usage.budget import Budget, Spending
from bridge.gateway.usage.ledger import Amount
from bridge.gateway.usage.limits import BudgetConfig, Override
from bridge.gateway.usage.report import report
from bridge.gateway.usage.store import Agent, Counts, MemoryUsageStore
from bridge.gateway.usage.table_store import TableUsageStore
from tests.support.azurite import Azurite, requires_azurite
from tests.support.fake_entra import ALICE, BOB, CLIENT_ID, TENANT, FakeEntra, new_user
from tests.support.serving import running

pytestmark = pytest.mark.anyio

SHARED = "shared-token-0123456789"
ENTRA_ENV = {"CLIENT_AUTH": "entra", "ENTRA_TENANT_ID": TENANT, "ENTRA_CLIENT_ID": CLIENT_ID}


def test_the_settings_are_new_names() -> None:
    names = [setting.name for setting in SETTINGS]
    assert len(set(names)) == len(names), "no setting is named twice"
    assert set(GATEWAY_SETTINGS) <= set(SETTINGS)


def test_nothing_set_is_todays_shared_token() -> None:
    assert load_gateway_settings({}) == GatewaySettings()


def test_entra_settings() -> None:
    settings = load_gateway_settings(
        {
            **ENTRA_ENV,
            "ENTRA_AUTHORITY": "https://login.microsoftonline.us/",
            "ENTRA_REQUIRED_ROLE": "Bridge.User",
            "PERSONAL_KEY_DAYS": "30",
            "BUDGET_DAILY_TOKENS": "2M",
            "BUDGET_MONTHLY_TOKENS": "<tokens per month>",
            "BUDGET_OVERRIDES": "role:Bridge.Lead=daily:unlimited",
            "USAGE_TABLE_ENDPOINT": "https://acct.table.core.windows.net/",
        }
    )
    assert settings.problems == () and settings.lockout is None
    assert settings.client_auth == "entra" and settings.entra is not None
    assert settings.entra.issuer == f"https://login.microsoftonline.us/{TENANT}/v2.0"
    assert settings.entra.required_role == "Bridge.User" and settings.key_lifetime_days == 30
    assert settings.budget == BudgetConfig(2_000_000, None, (Override("role", "Bridge.Lead", {"daily": None}),))
    assert settings.table_endpoint == "https://acct.table.core.windows.net" and settings.connection_string is None


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"CLIENT_AUTH": "entra"}, "CLIENT_AUTH=entra needs ENTRA_TENANT_ID"),
        ({**ENTRA_ENV, "ENTRA_TENANT_ID": "contoso.onmicrosoft.com"}, "ENTRA_TENANT_ID must be a GUID"),
        ({**ENTRA_ENV, "ENTRA_CLIENT_ID": f"api://{CLIENT_ID}"}, "ENTRA_CLIENT_ID must be a GUID"),
        ({**ENTRA_ENV, "ENTRA_AUTHORITY": "login.microsoftonline.com"}, "ENTRA_AUTHORITY must start with https://"),
        ({**ENTRA_ENV, "ENTRA_AUTHORITY": "http://login.microsoftonline.com"}, "ENTRA_AUTHORITY must start with https://"),
        ({**ENTRA_ENV, "ENTRA_AUTHORITY": "http://10.0.0.5:8080"}, "plain http only for a local stand-in"),
        ({"CLIENT_AUTH": "entraa"}, "CLIENT_AUTH must be 'token' or 'entra', got 'entraa'"),
    ],
)
def test_misconfigured_sign_in_refuses_every_request(env: dict[str, str], problem: str) -> None:
    settings = load_gateway_settings(env)
    assert any(problem in p for p in settings.problems)
    assert settings.lockout is not None and problem in settings.lockout


def test_roles_for_administrators_and_applications_and_the_sign_in_window() -> None:
    defaults = load_gateway_settings(ENTRA_ENV)
    assert defaults.entra is not None and defaults.entra.automation_role is None and defaults.admin_role is None
    assert (defaults.key_lifetime_days, defaults.key_sign_in_days) == (30, 7)
    env = {**ENTRA_ENV, "ENTRA_AUTOMATION_ROLE": "Bridge.Automation", "ENTRA_ADMIN_ROLE": "Bridge.Admin"}
    settings = load_gateway_settings({**env, "PERSONAL_KEY_SIGNIN_DAYS": "3"})
    assert settings.entra is not None and settings.entra.automation_role == "Bridge.Automation"
    assert (settings.admin_role, settings.key_sign_in_days, settings.problems) == ("Bridge.Admin", 3, ())
    assert (
        "PERSONAL_KEY_SIGNIN_DAYS must be a positive number"
        in load_gateway_settings({"PERSONAL_KEY_SIGNIN_DAYS": "0"}).problems[0]
    )


def test_the_table_endpoint_over_plain_http_only_on_this_machine() -> None:
    """The managed identity's token goes with every table call: never in the clear to another host; Azurite on
    this machine may use http."""
    local = load_gateway_settings({"USAGE_TABLE_ENDPOINT": "http://127.0.0.1:10002/devstoreaccount1"})
    assert local.problems == () and local.table_endpoint == "http://127.0.0.1:10002/devstoreaccount1"


@pytest.mark.parametrize("authority", ["http://127.0.0.1:8080", "http://localhost:9000/", "http://[::1]:7000"])
def test_a_local_stand_in_may_use_plain_http(authority: str) -> None:
    settings = load_gateway_settings({**ENTRA_ENV, "ENTRA_AUTHORITY": authority})
    assert settings.problems == () and settings.entra is not None and settings.entra.authority == authority.rstrip("/")


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"BUDGET_DAILY_TOKENS": "two million"}, "BUDGET_DAILY_TOKENS must be a token count"),
        ({"BUDGET_OVERRIDES": "group:Leads=daily:1"}, "BUDGET_OVERRIDES: groups are named by their object id"),
        ({"PERSONAL_KEY_DAYS": "0"}, "PERSONAL_KEY_DAYS must be a positive number, got '0'"),
        ({"PERSONAL_KEY_DAYS": "1.5"}, "PERSONAL_KEY_DAYS must be a whole number, got '1.5'"),
        ({"USAGE_TABLE_ENDPOINT": "acct.table.core.windows.net"}, "USAGE_TABLE_ENDPOINT must start with https://"),
        (
            {"USAGE_TABLE_ENDPOINT": "http://acct.table.core.windows.net"},
            "USAGE_TABLE_ENDPOINT must start with https:// (plain http only for a local stand-in",
        ),
        (
            {"USAGE_TABLE_ENDPOINT": "https://a.table.core.windows.net", "USAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
            "not both",
        ),
    ],
)
def test_other_problems_are_reported_not_refused(env: dict[str, str], problem: str) -> None:
    settings = load_gateway_settings(env)
    assert any(problem in p for p in settings.problems) and settings.lockout is None


async def caller_or_error(authenticator: Authenticator, presented: str | None) -> Caller | BridgeError:
    try:
        return await authenticator.caller(presented)
    except BridgeError as error:
        return error


async def test_shared_token_mode() -> None:
    assert await Authenticator("token").caller(None) == anonymous_caller()
    assert await Authenticator("token").caller("anything") == anonymous_caller()
    shared = Authenticator("token", shared_token=SHARED)
    assert await shared.caller(SHARED) == shared_token_caller()
    for presented in (None, "wrong", "cab_" + "A" * 43):
        error = await caller_or_error(shared, presented)
        assert isinstance(error, BridgeError) and error.kind == "authentication_error"
        assert "ANTHROPIC_AUTH_TOKEN" in error.message and error.headers == {"x-should-retry": "false"}


async def test_a_misconfigured_bridge_refuses_everyone() -> None:
    settings = load_gateway_settings({"CLIENT_AUTH": "entra"})
    gateway = build_gateway(settings, SHARED)
    try:
        error = await caller_or_error(gateway.authenticator, SHARED)
    finally:
        await gateway.aclose()
    assert isinstance(error, BridgeError) and error.kind == "api_error" and error.headers == {"x-should-retry": "false"}
    assert "ENTRA_TENANT_ID" in error.message


@pytest.fixture(scope="module")
def served_entra() -> Iterator[FakeEntra]:
    entra = FakeEntra()
    with running(entra):
        yield entra


def entra_env(entra: FakeEntra, **more: str) -> dict[str, str]:
    return {**ENTRA_ENV, "ENTRA_AUTHORITY": entra.authority, **more}


@pytest.fixture
async def gateway(served_entra: FakeEntra) -> AsyncIterator[Gateway]:
    built = build_gateway(load_gateway_settings(entra_env(served_entra, BUDGET_DAILY_TOKENS="1000")), SHARED)
    yield built
    await built.aclose()


async def test_entra_mode_callers(served_entra: FakeEntra, gateway: Gateway) -> None:
    signed_in = await gateway.authenticator.caller(served_entra.token(ALICE))
    assert (signed_in.user_id, signed_in.method) == (ALICE.object_id, "entra")
    made = await create_key(signed_in, {"name": "cursor"}, gateway.keys)
    by_key = await gateway.authenticator.caller(made["key"])
    assert (by_key.user_id, by_key.method, by_key.key_id) == (ALICE.object_id, "key", made["id"])
    missing = await caller_or_error(gateway.authenticator, None)
    assert isinstance(missing, BridgeError) and missing.kind == "authentication_error"
    assert f"apiKeyHelper to `az account get-access-token --resource api://{CLIENT_ID}" in missing.message
    shared = await caller_or_error(gateway.authenticator, SHARED)
    assert isinstance(shared, BridgeError) and "malformed" in shared.message, "the shared token is no way in with entra"


async def test_the_key_endpoints(served_entra: FakeEntra, gateway: Gateway) -> None:
    alice = await gateway.authenticator.caller(served_entra.token(ALICE))
    bob = await gateway.authenticator.caller(served_entra.token(BOB))
    made = await create_key(alice, {"name": "cursor", "expires_in_days": 10}, gateway.keys)
    assert made["key"].startswith("cab_") and made["note"] == KEY_NOTE and made["name"] == "cursor"
    assert set(made) == {"id", "name", "created_at", "expires_at", "last_used_at", "key", "note"}
    default_named = await create_key(alice, None, gateway.keys)
    assert default_named["name"].startswith("personal key 20")
    listed = await list_keys(alice, gateway.keys)
    assert [k["id"] for k in listed["data"]] == [made["id"], default_named["id"]]
    assert made["key"] not in repr(listed)
    assert await list_keys(bob, gateway.keys) == {"data": []}
    assert await revoke_key(alice, made["id"], gateway.keys) == {"id": made["id"], "revoked": True}
    with pytest.raises(BridgeError) as caught:
        await gateway.authenticator.caller(made["key"])
    assert caught.value.kind == "authentication_error"
    with pytest.raises(BridgeError) as caught:
        await revoke_key(alice, made["id"], gateway.keys)
    assert caught.value.kind == "not_found_error"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "must be a JSON object"),
        ({"name": 5}, "name must be a string"),
        ({"expires_in_days": "10"}, "expires_in_days must be a whole number"),
        ({"expires_in_days": True}, "expires_in_days must be a whole number"),
        ({"expires_in_days": 10_000}, "expires_in_days must be 1 to 30"),
        ({"name": "x", "scopes": ["all"]}, "Unknown field(s) 'scopes'"),
    ],
)
async def test_bad_key_requests(served_entra: FakeEntra, gateway: Gateway, body: object, problem: str) -> None:
    alice = await gateway.authenticator.caller(served_entra.token(ALICE))
    with pytest.raises(BridgeError) as caught:
        await create_key(alice, body, gateway.keys)
    assert caught.value.kind == "invalid_request_error" and problem in caught.value.message


async def test_only_entra_sign_in_manages_keys(served_entra: FakeEntra, gateway: Gateway) -> None:
    alice = await gateway.authenticator.caller(served_entra.token(ALICE))
    by_key = await gateway.authenticator.caller((await create_key(alice, {}, gateway.keys))["key"])
    app = Caller("9e1d2c3b-4a5f-4e6d-8c7b-0a1b2c3d4e5f", "pipeline", "app", TENANT, frozenset({"Bridge.Automation"}))
    for caller, reason in (
        (by_key, "a personal key cannot manage"),
        (shared_token_caller(), "need CLIENT_AUTH=entra"),
        (app, "an application cannot have personal keys"),
    ):
        for call in (
            create_key(caller, {}, gateway.keys),
            list_keys(caller, gateway.keys),
            revoke_key(caller, "k", gateway.keys),
        ):
            with pytest.raises(BridgeError) as caught:
                await call
            assert caught.value.kind == "permission_error" and reason in caught.value.message


async def test_only_an_administrator_lists_another_persons_keys(served_entra: FakeEntra) -> None:
    gateway = build_gateway(load_gateway_settings(entra_env(served_entra, ENTRA_ADMIN_ROLE="Bridge.Lead")), None)
    try:
        alice = await gateway.authenticator.caller(served_entra.token(ALICE))
        bob = await gateway.authenticator.caller(served_entra.token(BOB))
        made = await create_key(bob, {"name": "bob's cursor"}, gateway.keys)
        listed = await list_keys(alice, gateway.keys, BOB.object_id)
        assert listed == {
            "data": [
                {**{k: made[k] for k in listed["data"][0] if k != "owner"}, "owner": {"id": BOB.object_id, "name": BOB.username}}
            ]
        }
        assert (await list_keys(bob, gateway.keys, BOB.object_id))["data"][0]["id"] == made["id"], "one's own, by id"
        with pytest.raises(BridgeError) as caught:
            await list_keys(bob, gateway.keys, ALICE.object_id)
        assert caught.value.kind == "permission_error" and "'Bridge.Lead' (ENTRA_ADMIN_ROLE)" in caught.value.message
        assert await revoke_key(alice, made["id"], gateway.keys) == {"id": made["id"], "revoked": True}
        assert await list_keys(bob, gateway.keys) == {"data": []}
    finally:
        await gateway.aclose()


async def test_the_usage_endpoint_counts_keys_as_their_owner(served_entra: FakeEntra, gateway: Gateway) -> None:
    alice = await gateway.authenticator.caller(served_entra.token(ALICE))
    by_key = await gateway.authenticator.caller((await create_key(alice, {}, gateway.keys))["key"])
    await gateway.budget.record(Spending(alice, "gpt-5"), Counts(300, 0, 100, 1))
    await gateway.budget.record(Spending(by_key, "gpt-5-mini"), Counts(500, 0, 100, 1))
    answer = await usage(by_key, gateway.budget, gateway.keys)
    assert answer["today"]["total_tokens"] == 1000 and answer["today"]["remaining"] == 0
    assert set(answer["today"]["models"]) == {"gpt-5", "gpt-5-mini"}
    with pytest.raises(BridgeError) as caught:
        await gateway.budget.admit(alice, Amount(), 60)
    assert caught.value.kind == "rate_limit_error"
    await gateway.budget.admit(await gateway.authenticator.caller(served_entra.token(BOB)), Amount(), 60)


async def test_a_required_role_added_later_applies_to_existing_keys(served_entra: FakeEntra) -> None:
    keys = PersonalKeys(MemoryKeyStore())
    verifiers = [EntraVerifier(served_entra.config()), EntraVerifier(served_entra.config(required_role="Bridge.Lead"))]
    before, after = (Authenticator("entra", verifier=verifier, keys=keys) for verifier in verifiers)
    alices = await create_key(await before.caller(served_entra.token(ALICE)), {}, keys)
    bobs = await create_key(await before.caller(served_entra.token(BOB)), {}, keys)
    assert (await after.caller(alices["key"])).user_id == ALICE.object_id
    with pytest.raises(BridgeError) as caught:
        await after.caller(bobs["key"])
    assert caught.value.kind == "permission_error" and "'Bridge.Lead'" in caught.value.message


def test_without_a_table_everything_is_in_memory(served_entra: FakeEntra) -> None:
    gateway = build_gateway(load_gateway_settings(entra_env(served_entra)), None)
    assert isinstance(gateway.keys.store, MemoryKeyStore) and not gateway.shared


@requires_azurite
async def test_two_instances_share_keys_and_budgets_through_the_table(served_entra: FakeEntra, azurite: Azurite) -> None:
    env = entra_env(served_entra, BUDGET_DAILY_TOKENS="1000", USAGE_CONNECTION_STRING=azurite.connection_string)
    here, there = build_gateway(load_gateway_settings(env), None), build_gateway(load_gateway_settings(env), None)
    try:
        assert isinstance(here.keys.store, TableKeyStore) and isinstance(here.budget.store, TableUsageStore) and here.shared
        alice = await here.authenticator.caller(served_entra.token(new_user()))
        made = await create_key(alice, {"name": "cursor"}, here.keys)
        by_key = await there.authenticator.caller(made["key"])
        await there.budget.record(Spending(by_key, "gpt-5"), Counts(900, 0, 100, 1))
        with pytest.raises(BridgeError) as caught:
            await here.budget.admit(alice, Amount(), 60)
        assert "1,000 of 1,000 tokens today" in caught.value.message
        await revoke_key(alice, made["id"], here.keys)
        with pytest.raises(BridgeError) as caught:
            await there.authenticator.caller(made["key"])
        assert "revoked" in caught.value.message
    finally:
        await here.aclose()
        await there.aclose()


def test_a_secret_settings_problem_never_shows_its_value() -> None:
    from bridge.config.kinds import POSITIVE
    from bridge.config.table import Setting

    problems: list[str] = []
    secret = Setting("SOME_SECRET_NUMBER", POSITIVE, "a secret", secret=True)
    assert secret.value({"SOME_SECRET_NUMBER": "hunter2-value"}, problems) is None
    assert problems and "hunter2-value" not in problems[0] and "SOME_SECRET_NUMBER must be a positive number" in problems[0]
    plain: list[str] = []
    Setting("SOME_NUMBER", POSITIVE, "not secret").value({"SOME_NUMBER": "abc"}, plain)
    assert "got 'abc'" in plain[0], "other settings say what they got"


class SlowStore(MemoryUsageStore):
    """Counters that take a while to write, as a remote table does."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def add(self, user_id: str, user_name: str, roles: str, day: date, model: str, agent: Agent, counts: Counts) -> None:
        await self.release.wait()
        await super().add(user_id, user_name, roles, day, model, agent, counts)


async def test_settlements_outlive_the_request_and_count_before_the_rows_are_written() -> None:
    store = SlowStore()
    budget = Budget(BudgetConfig(daily=10), store)
    caller = Caller("u1", "someone", "entra")

    async def request() -> None:
        budget.settle_soon(Spending(caller, "gpt-5"), None, Counts(12, 0, 3, 1))
        await asyncio.sleep(3600)  # the client goes away: this task is cancelled

    served = asyncio.ensure_future(request())
    await asyncio.sleep(0)
    served.cancel()
    with pytest.raises(BridgeError) as over:
        await budget.admit(caller, Amount(), 60)
    assert over.value.kind == "rate_limit_error" and "15 of 10 tokens today" in over.value.message, "the ledger has it"
    reporting = asyncio.ensure_future(report(budget, caller.user_id, caller.name))
    await asyncio.sleep(0.01)
    assert not reporting.done(), "the usage report waits for the caller's rows still being written"
    store.release.set()
    assert (await reporting)["today"]["total_tokens"] == 15
    await budget.admit(Caller("u2", "someone else", "entra"), Amount(), 60)


def test_the_start_up_text_says_how_clients_sign_in() -> None:
    from bridge.config.load import load_settings
    from bridge.serving.process import Bridge
    from bridge.serving.startup import startup_lines

    env = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "BIG_MODEL": "gpt-5", **ENTRA_ENV}
    text = "\n".join(startup_lines(Bridge(load_settings(env), load_gateway_settings(env)), "127.0.0.1", 7071))
    assert f"client auth: Microsoft Entra ID (tenant {TENANT}" in text and "client auth is OFF" not in text
    assert f'"apiKeyHelper": "az account get-access-token --resource api://{CLIENT_ID} --query accessToken -o tsv"' in text
    broken = {**env, "ENTRA_CLIENT_ID": "not-a-guid"}
    refusing = "\n".join(startup_lines(Bridge(load_settings(broken), load_gateway_settings(broken)), "127.0.0.1", 7071))
    assert "REFUSING every request until this is fixed: its sign-in cannot work: ENTRA_CLIENT_ID must be a GUID" in refusing
