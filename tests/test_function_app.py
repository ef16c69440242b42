"""The Azure Functions app, by calling its handlers directly (Core Tools cannot run here).

Whether the worker indexes it at all (the HTTP-streaming gate, the handlers' annotations, the binding
metadata the host receives) is checked as the worker does it, in a fresh interpreter:
tests/test_worker_indexing.py.  Importing function_app here would already have opened that gate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from starlette.responses import StreamingResponse

import function_app
from bridge.config.load import load_settings
from bridge.config.table import SETTINGS
from bridge.routes import ROUTES
from bridge.serving.process import Bridge, use_bridge
from tests.support.anthropic_grammar import check_grammar, parse_sse
from tests.support.bridge import CLIENT_TOKEN, bridge_env
from tests.support.direct_requests import make_request
from tests.support.fake_azure import FakeAzure, Text
from tests.support.paths import ROOT

INDEXED = function_app.app.get_functions()  # the library allows one call per app, as the worker makes


def functions() -> dict[str, dict[str, Any]]:
    return {f.get_function_name(): json.loads(f.get_function_json()) for f in INDEXED}


def test_every_route_is_a_function_with_the_intended_trigger() -> None:
    found = functions()
    expected = {
        "root": ("{root:maxlength(0)?}", ["HEAD", "GET"]),
        "health": ("health", ["GET"]),
        "messages": ("v1/messages", ["POST"]),
        "count_tokens": ("v1/messages/count_tokens", ["POST"]),
        "chat_completions": ("v1/chat/completions", ["POST"]),
        "models": ("v1/models", ["GET"]),
        "create_key": ("v1/keys", ["POST"]),
        "list_keys": ("v1/keys", ["GET"]),
        "revoke_key": ("v1/keys/{key_id}", ["DELETE"]),
        "usage": ("v1/usage", ["GET"]),
        "managed_settings": ("managed/settings", ["GET"]),
        "oauth_usage": ("api/oauth/usage", ["GET"]),
        "otlp_metrics": ("v1/metrics", ["POST"]),
        "otlp_logs": ("v1/logs", ["POST"]),
        "otlp_traces": ("v1/traces", ["POST"]),
        "export_usage": ("v1/usage/export", ["GET"]),
        "oauth_discovery": (".well-known/oauth-authorization-server", ["GET"]),
        "device_authorization": ("oauth/device_authorization", ["POST"]),
        "oauth_token": ("oauth/token", ["POST"]),
        "oauth_revoke": ("oauth/revoke", ["POST"]),
        "verification_page": ("device", ["GET"]),
        "verify_code": ("device", ["POST"]),
        "deny_code": ("device/deny", ["POST"]),
        "oauth_callback": ("oauth/callback", ["GET"]),
        "preflight": ("{*path}", ["OPTIONS"]),
    }
    assert set(found) == set(expected) | {"reconcile"}
    for name, (template, methods) in expected.items():
        trigger = next(b for b in found[name]["bindings"] if b["type"] == "httpTrigger")
        assert trigger["route"] == template
        assert trigger["methods"] == methods
        assert trigger["authLevel"] == "ANONYMOUS"
        assert trigger["name"] == "req"


def test_the_reconciliation_is_a_daily_timer() -> None:
    (timer,) = functions()["reconcile"]["bindings"]
    assert timer == {
        "direction": "IN",
        "type": "timerTrigger",
        "name": "timer",
        "schedule": function_app.RECONCILE_SCHEDULE,
        "runOnStartup": False,
        "useMonitor": True,
    }
    seconds, minutes, hours, *every_day = function_app.RECONCILE_SCHEDULE.split()
    assert every_day == ["*", "*", "*"] and int(hours) < 24 and int(minutes) < 60 and int(seconds) < 60


def test_host_json_and_sample_settings() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensionBundle"]["version"].startswith("[4.")
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert values["PYTHON_ENABLE_INIT_INDEXING"] == "1"
    for setting in SETTINGS:
        name = setting.sample_key
        assert name in values, f"{name} missing from local.settings.sample.json"
        assert values[name].startswith("<"), f"{name} should hold a placeholder"
    assert load_settings(values).custom_headers == {}, "placeholders count as unset"


@pytest.mark.process  # a fresh interpreter
def test_app_indexes_with_no_configuration_at_all() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    code = "import function_app; print(len(function_app.app.get_functions()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(ROUTES) + 1), "a function per route, and the reconciliation's timer"


HEAVY_FOR_THE_GATEWAY = ("jwt", "cryptography", "azure.data.tables")
"""PyJWT and cryptography (Entra sign-in, /login) and Azure Tables (shared keys and counters): ~65 ms and 137
modules of every start-up before, now loaded only by a bridge configured to need them."""

START_UP_PROBE = f"""
import json, sys
import function_app
import bridge.__main__
from bridge.serving.process import current_bridge
heavy = {HEAVY_FOR_THE_GATEWAY!r}
imported = [name for name in heavy if name in sys.modules]
current_bridge().gateway
print(json.dumps({{"imported": imported, "built": [name for name in heavy if name in sys.modules]}}))
"""

ENTRA_WITH_TABLES = {
    "CLIENT_AUTH": "entra",
    "ENTRA_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "ENTRA_CLIENT_ID": "0f8a7b1c-5d2e-4c3b-9a6f-1e2d3c4b5a69",
    "LOGIN_SIGNING_KEY": "a" * 40,
    "USAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
}


@pytest.mark.process  # a fresh interpreter, as the worker (or python -m bridge) starts
@pytest.mark.parametrize(
    ("settings", "built"),
    [({"CLIENT_AUTH": "token", "ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN}, []), (ENTRA_WITH_TABLES, list(HEAVY_FOR_THE_GATEWAY))],
    ids=["token", "entra-with-tables"],
)
def test_the_gateways_libraries_load_only_where_the_gateway_needs_them(settings: dict[str, str], built: list[str]) -> None:
    """Importing the app loads none of them; building the gateway (the first request) loads what its settings need."""
    env = {"PATH": "/usr/bin:/bin", **settings}
    result = subprocess.run([sys.executable, "-c", START_UP_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"imported": [], "built": built}


@pytest.mark.anyio
async def test_messages_handler_called_directly_streams(fake_azure: FakeAzure) -> None:
    with use_bridge(Bridge(load_settings(bridge_env(fake_azure)))):
        fake_azure.enqueue(Text("Streaming from a direct call.", pieces=5))
        body = {"model": "claude-opus-4-8", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        request = make_request("POST", "/v1/messages?beta=true", json.dumps(body).encode(), {"x-api-key": CLIENT_TOKEN})
        handler = next(f for f in INDEXED if f.get_function_name() == "messages").get_user_function()
        response = await handler(request)
        assert isinstance(response, StreamingResponse)
        chunks = [chunk async for chunk in response.body_iterator]
        assert len(chunks) > 1, "the body arrives in pieces"
        events = parse_sse(b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks))
        check_grammar(events)
        text = "".join(d["delta"]["text"] for e, d in events if e == "content_block_delta")
        assert text == "Streaming from a direct call."


@pytest.mark.anyio
async def test_missing_configuration_names_the_setting() -> None:
    with use_bridge(Bridge(load_settings({}))):
        body = {"model": "claude-opus-4-8", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        messages = {r.name: r.handler for r in ROUTES}
        response = await messages["messages"](make_request("POST", "/v1/messages", json.dumps(body).encode()))
        assert response.status_code == 500
        assert response.headers["x-should-retry"] == "false"
        error = json.loads(response.body)["error"]
        assert "BIG_MODEL" in error["message"]
        health = await messages["health"](make_request("GET", "/health"))
        assert health.status_code == 503
        problems = json.loads(health.body)["problems"]
        assert any("AZURE_OPENAI_ENDPOINT" in p for p in problems) and any("BIG_MODEL" in p for p in problems)
        root = await messages["root"](make_request("HEAD", "/"))
        assert root.status_code == 200
