"""The Function App as the Azure Functions Python worker indexes it, in a fresh interpreter.

`tests/support/worker_gates.py` runs in its own `python -I` process with nothing imported but what the
worker imports (azure.functions, then function_app from the function app directory) and asks the
worker's own gates from `azurefunctions.extensions.base`; see its docstring.  It runs once with the
settings `func start` gives the worker (local.settings.sample.json) and once with those the Bicep
deploys (infra/functionapp.bicep), so dropping PYTHON_ENABLE_INIT_INDEXING from either fails here.
The binding metadata it reports is what the host receives; it must match `bridge.routes.ROUTES` and
the reconciliation's timer, and each route, under host.json's route prefix, must be a path `python -m bridge` serves.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match, Route

from bridge.app import create_app
from bridge.routes import ROUTES
from tests.support.bicep import app_settings
from tests.support.paths import ROOT

GATES = ROOT / "tests" / "support" / "worker_gates.py"

pytestmark = pytest.mark.process  # the worker's gates run in a fresh interpreter
STREAMING_EXTENSION = "azurefunctions.extensions.http.fastapi"
ENVIRONMENTS = ("local.settings.sample.json", "infra/functionapp.bicep")
TIMER = "reconcile"
"""The daily reconciliation's timer function: the one that is not a route."""
SEGMENT = re.compile(r"\{(\*?)(\w+)(?::[^}?]*(?:\([^)]*\))?)*(\?)?\}")
"""A Functions route parameter: `{name}`, `{*catchall}`, `{name:constraint(arg)?}`."""


def worker_environment(source: str) -> dict[str, str]:
    """The worker's settings from the sample (func start) or from the Bicep app settings (Azure)."""
    if source == "local.settings.sample.json":
        values: dict[str, str] = json.loads((ROOT / source).read_text())["Values"]
        return values
    # The worker's own switches are the PYTHON_* settings; the others are expressions of parameters.
    return {name: value for name, value in app_settings().items() if name.startswith("PYTHON_") and isinstance(value, str)}


@cache
def indexed(source: str) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", **worker_environment(source)}
    result = subprocess.run(
        [sys.executable, "-I", str(GATES), str(ROOT)], cwd="/", env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"the worker's indexing failed:\n{result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert "error" not in report, report.get("error")
    return report


def received(source: str = ENVIRONMENTS[0]) -> dict[str, dict[str, Any]]:
    """The functions whose metadata the host receives, by name (none when the worker fails to load one)."""
    return {f["name"]: f for f in indexed(source)["host_receives"]}


@pytest.mark.parametrize("source", ENVIRONMENTS)
def test_the_worker_turns_http_streaming_on(source: str) -> None:
    report = indexed(source)
    assert report["init_indexing"], f"PYTHON_ENABLE_INIT_INDEXING is not true in {source}: the worker starts no HTTP proxy"
    assert report["http_v2_enabled"], (
        f"HttpV2FeatureChecker.http_v2_enabled() is false after importing function_app: it must import {STREAMING_EXTENSION}"
    )
    assert report["web_extension"].startswith(STREAMING_EXTENSION)
    assert report["request_type"] == "<class 'starlette.requests.Request'>"


@pytest.mark.parametrize("source", ENVIRONMENTS)
def test_every_handler_passes_the_workers_annotation_check(source: str) -> None:
    refused = {
        f["name"]: {param: f["annotations"].get(param.replace("$", "")) for param, ok in f["gates"].items() if not ok}
        for f in indexed(source)["functions"]
        if not all(f["gates"].values())
    }
    assert not refused, f"the worker refuses these annotations (FunctionLoadError, 0 functions indexed): {refused}"
    for function in indexed(source)["functions"]:
        expected = {"timer", "parameters", "returns None"} if function["name"] == TIMER else {"req", "$return", "parameters"}
        assert set(function["gates"]) == expected, function["name"]


def test_the_host_receives_one_http_function_per_route_and_the_timer() -> None:
    found = received()
    assert found, f"the host receives no function (every route answers 404): {indexed(ENVIRONMENTS[0])['load_error']}"
    assert set(found) == {route.name for route in ROUTES} | {TIMER}
    (timer,) = found[TIMER]["raw_bindings"]
    assert timer["type"] == "timerTrigger" and timer["name"] == "timer" and timer["direction"] == "IN"
    assert found[TIMER]["annotations"] == {"timer": "azure.functions._abc.TimerRequest", "return": "builtins.NoneType"}
    for route in ROUTES:
        function = found[route.name]
        assert function["script_file"] == "function_app.py"
        trigger, output = function["raw_bindings"]
        assert trigger == {
            "direction": "IN",
            "type": "httpTrigger",
            "name": "req",
            "methods": list(route.methods),
            "authLevel": "ANONYMOUS",
            "route": route.functions_template,
        }, route.name
        assert output == {"direction": "OUT", "type": "http", "name": "$return"}, route.name


def url_path(route_prefix: str, template: str) -> str:
    """A concrete path the Functions host routes to `template` under `route_prefix` (parameters filled in)."""

    def fill(match: re.Match[str]) -> str:
        catch_all, name, optional = match.groups()
        if optional and "maxlength(0)" in match.group(0):
            return ""
        return "v1/messages" if catch_all else f"sample-{name}"

    prefix = route_prefix.strip("/")
    return "/" + "/".join(part for part in (prefix, SEGMENT.sub(fill, template)) if part)


def test_each_function_route_is_a_path_python_m_bridge_serves() -> None:
    prefix = json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"]
    app_routes = [route for route in create_app().routes if isinstance(route, Route)]
    assert url_path("", "{root:maxlength(0)?}") == "/" and url_path("api", "health") == "/api/health"
    assert url_path("", "v1/keys/{key_id}") == "/v1/keys/sample-key_id"
    assert received(), f"the host receives no function: {indexed(ENVIRONMENTS[0])['load_error']}"
    for name, function in received().items():
        trigger = function["raw_bindings"][0]
        if trigger["type"] != "httpTrigger":
            continue
        path = url_path(prefix, trigger["route"])
        for method in trigger["methods"]:
            scope = {"type": "http", "path": path, "method": method, "root_path": ""}
            served = [route.name for route in app_routes if route.matches(scope)[0] is Match.FULL]
            assert served[:1] == [name], f"{method} {path} (function {name}): python -m bridge serves it with {served}"


TIMER_APP = """
import azure.functions as func
import azurefunctions.extensions.http.fastapi  # noqa: F401
from azurefunctions.extensions.http.fastapi import Request, Response

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="health", methods=["GET"])
async def health(req: Request) -> Response:
    return Response("ok")


@app.timer_trigger(schedule="0 30 6 * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
async def reconcile({parameter}){returns}:
    return {value}
"""


@pytest.mark.parametrize(
    ("parameter", "returns", "value", "refused"),
    [
        ("timer: str", " -> None", "None", "timer"),
        ("tick: func.TimerRequest", " -> None", "None", "parameters"),
        ("timer: func.TimerRequest", " -> int", "0", "returns None"),
    ],
    ids=["wrong annotation", "parameter not the binding's name", "returns a value"],
)
def test_the_gates_refuse_a_timer_the_worker_refuses(
    tmp_path: Path, parameter: str, returns: str, value: str, refused: str
) -> None:
    """The gates are the worker's: a timer it would refuse fails here, and then no function reaches the host."""
    (tmp_path / "function_app.py").write_text(TIMER_APP.format(parameter=parameter, returns=returns, value=value))
    env = {"PATH": "/usr/bin:/bin", "PYTHON_ENABLE_INIT_INDEXING": "1"}
    result = subprocess.run(
        [sys.executable, "-I", str(GATES), str(tmp_path)], cwd="/", env=env, capture_output=True, text=True, timeout=120
    )
    report = json.loads(result.stdout)
    (timer,) = [function for function in report["functions"] if function["name"] == "reconcile"]
    assert timer["gates"][refused] is False and report["host_receives"] == [], report
