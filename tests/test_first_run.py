"""The first run, as a new user sees it (issue 14): start-up text, health that tells the truth, the command
line, near-miss routes, which deployment answered, and an adaptation log that says what changed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from bridge.config.load import load_settings
from bridge.serving.process import Bridge
from bridge.serving.startup import startup_lines
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import FakeAzure
from tests.support.paths import ROOT

BODY = {"model": "claude-opus-4-8", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": CLIENT_TOKEN}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


# --- start-up --------------------------------------------------------------------------------------------------


@pytest.mark.process
def test_start_up_says_what_serves_what_and_what_to_paste(fake_azure: FakeAzure, tmp_path: Path) -> None:
    with running_bridge(bridge_env(fake_azure), tmp_path / "bridge.log") as bridge:
        text = bridge.log()
        assert f"listening on {bridge.url}" in text
        assert "AZURE_OPENAI_ENDPOINT: 127.0.0.1" in text and "api key" in text
        assert "opus         → gpt-5 through chat/completions" in text
        assert "haiku        → gpt-4o through chat/completions" in text
        assert "client auth: on" in text
        assert f"export ANTHROPIC_BASE_URL={bridge.url}" in text
        assert "export CLAUDE_CODE_AUTO_COMPACT_WINDOW=272000" in text and "1,000,000" in text
        assert f"curl {bridge.url}/health" in text
        assert CLIENT_TOKEN not in text, "the token is never printed"


def test_start_up_warns_when_auth_is_off_and_louder_beyond_localhost() -> None:
    bridge = Bridge(load_settings({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "BIG_MODEL": "gpt-4.1"}))
    local = "\n".join(startup_lines(bridge, "127.0.0.1", 7071))
    wide = "\n".join(startup_lines(bridge, "0.0.0.0", 7071))
    assert "client auth is OFF" in local and "this machine" in local
    assert "client auth is OFF" in wide and "anyone on your network" in wide
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW=1047576" in local and "assumes" not in local, "gpt-4.1 holds 1M already"
    unknown = load_settings({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "BIG_MODEL": "my-model"})
    assert "the input window of my-model" in "\n".join(startup_lines(Bridge(unknown), "127.0.0.1", 7071))


@pytest.mark.process
def test_every_configuration_problem_is_named_at_start_up(fake_azure: FakeAzure, tmp_path: Path) -> None:
    env = bridge_env(fake_azure, BIG_MODEL="", MIDDLE_MODEL="gpt-5", REQUEST_TIMEOUT="soon")
    with running_bridge(env, tmp_path / "bridge.log") as running:
        text = running.log()
        assert "problem: BIG_MODEL is not set" in text and "problem: REQUEST_TIMEOUT must be a positive number" in text


# --- health ----------------------------------------------------------------------------------------------------


@pytest.fixture
def middle_only(fake_azure: FakeAzure, tmp_path: Path) -> Iterator[RunningBridge]:
    with running_bridge(bridge_env(fake_azure, BIG_MODEL="", SMALL_MODEL=""), tmp_path / "bridge.log", in_process=True) as served:
        yield served


def test_health_reports_a_tier_that_would_fail(middle_only: RunningBridge) -> None:
    health = httpx.get(middle_only.url + "/health", headers=HEADERS)
    assert health.status_code == 503
    assert any(problem.startswith("BIG_MODEL is not set") for problem in health.json()["problems"])
    response = httpx.post(middle_only.url + "/v1/messages", json=BODY, headers=HEADERS)
    assert response.status_code == 500 and "BIG_MODEL" in response.text


def test_health_tells_a_wrong_token_from_a_missing_one(bridge: RunningBridge) -> None:
    missing = httpx.get(bridge.url + "/health").json()["details"]
    wrong = httpx.get(bridge.url + "/health", headers={"x-api-key": "not-the-token"}).json()["details"]
    assert "present the client token" in missing
    assert "not this bridge's ANTHROPIC_AUTH_TOKEN" in wrong


# --- the command line ------------------------------------------------------------------------------------------


@pytest.mark.process
def test_help_lists_the_settings() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in ("AZURE_OPENAI_ENDPOINT", "BIG_MODEL", "ANTHROPIC_AUTH_TOKEN", "MAX_STREAM_SECONDS"):
        assert name in result.stdout


@pytest.mark.process
def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == "claude-azure-bridge 0.1.0"
    assert 'version = "0.1.0"' in (ROOT / "pyproject.toml").read_text(), "the package and pyproject agree"


@pytest.mark.process
def test_a_bad_port_is_one_line_not_a_traceback() -> None:
    result = run_cli("--port", "99999")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == "python -m bridge: error: argument --port: '99999' is not a port number (1 to 65535)"
    )


# --- near misses -----------------------------------------------------------------------------------------------


def test_the_functions_api_prefix_gets_a_404_that_says_where_the_routes_are(bridge: RunningBridge) -> None:
    response = httpx.post(bridge.url + "/api/v1/messages", json=BODY, headers=HEADERS)
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "no /api prefix" in message and "/v1/messages" in message


@pytest.mark.usefixtures("fake_azure")
def test_a_trailing_slash_works_without_a_redirect(bridge: RunningBridge) -> None:
    response = httpx.post(bridge.url + "/v1/messages/", json=BODY, headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
    assert httpx.get(bridge.url + "/health/").status_code == 200


def test_the_404_lists_the_routes_readably(bridge: RunningBridge) -> None:
    message = httpx.get(bridge.url + "/nothing").json()["error"]["message"]
    assert "HEAD /, GET /, GET /health, POST /v1/messages" in message


# --- which deployment answered -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_azure")
def test_every_answer_names_the_deployment_and_api(bridge: RunningBridge) -> None:
    with anthropic.Anthropic(base_url=bridge.url, api_key=CLIENT_TOKEN, max_retries=0) as client:
        whole = client.messages.with_raw_response.create(**BODY)  # type: ignore[arg-type]
        assert (whole.headers["x-bridge-deployment"], whole.headers["x-bridge-api"]) == ("gpt-5", "chat")
        with client.messages.with_streaming_response.create(**BODY, stream=True) as streamed:  # type: ignore[arg-type]
            assert streamed.headers["x-bridge-deployment"] == "gpt-5"
        haiku = client.messages.with_raw_response.create(**{**BODY, "model": "claude-haiku-4-5"})  # type: ignore[arg-type]
        assert haiku.headers["x-bridge-deployment"] == "gpt-4o"


# --- the adaptation log ----------------------------------------------------------------------------------------


def test_the_adaptation_log_names_the_parameter_and_both_values(fake_azure: FakeAzure, tmp_path: Path) -> None:
    """gpt-5 refuses `temperature` (the fake answers as Azure does); the log says what the bridge changed."""
    with running_bridge(bridge_env(fake_azure), tmp_path / "bridge.log", in_process=True) as bridge:
        response = httpx.post(bridge.url + "/v1/messages", json={**BODY, "temperature": 0.5}, headers=HEADERS)
        assert response.status_code == 200, response.text
        assert "deployment gpt-5 refused a parameter; adapted and retrying: temperature 0.5 → (not sent)" in bridge.log()
