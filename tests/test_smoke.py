"""scripts/smoke against running bridges: `python -m bridge` with the fake Azure (passes), a Functions host that
indexed nothing (every route 404: fails with the indexing hint), a wrong token, a misconfigured bridge, and
CLIENT_AUTH=entra with the token from `az account get-access-token` (a stand-in `az` on PATH)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import FakeAzure
from tests.support.fake_entra import FakeEntra
from tests.support.paths import ROOT

SMOKE = ROOT / "scripts" / "smoke"
CHECKS = ("health", "messages", "stream", "models")

pytestmark = pytest.mark.process  # scripts/smoke, and the azd hook, run in processes of their own


def smoke(url: str, env: dict[str, str] | None = None, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    """Run scripts/smoke as a deploying machine does: system Python, nothing of the project's environment."""
    clean = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **(env or {})}
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    return subprocess.run([python, str(SMOKE), url], env=clean, capture_output=True, text=True, timeout=300, check=False)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The line of each check, by check name."""
    found = {}
    for line in result.stdout.splitlines():
        words = line.split(maxsplit=2)
        if len(words) >= 2 and words[0] in ("PASS", "FAIL") and words[1] in CHECKS:
            found[words[1]] = line
    return found


class _Nothing(BaseHTTPRequestHandler):
    """The Functions host when the worker indexed no function: 404, empty body, on every path and method."""

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _not_found

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nothing_indexed() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nothing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_is_an_executable_standard_library_script() -> None:
    assert os.access(SMOKE, os.X_OK)
    assert SMOKE.read_text().startswith("#!/usr/bin/env python3\n")
    imports = {line.split()[1].split(".")[0] for line in SMOKE.read_text().splitlines() if line.startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}, imports - set(sys.stdlib_module_names)


def test_a_working_bridge_passes_every_check(bridge: RunningBridge) -> None:
    result = smoke(bridge.url, {"ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert set(found) == set(CHECKS) and all(line.startswith("PASS") for line in found.values()), result.stdout
    assert "claude-haiku" in found["models"] and "gpt-4o" in found["messages"], "the haiku tier (SMALL_MODEL) answered"
    assert result.stdout.splitlines()[-1].startswith("smoke: 4/4 checks passed")


def test_a_host_that_indexed_nothing_fails_with_the_indexing_hint(nothing_indexed: str) -> None:
    result = smoke(nothing_indexed, {"ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN})
    assert result.returncode == 1
    found = lines(result)
    assert set(found) == set(CHECKS)
    for check in CHECKS:
        assert found[check].startswith("FAIL"), found[check]
        assert "did not index the app" in found[check] and "Worker failed to index" in found[check], found[check]
    assert "0/4 checks passed" in result.stdout


def test_a_wrong_token_points_at_the_token(bridge: RunningBridge) -> None:
    result = smoke(bridge.url, {"ANTHROPIC_AUTH_TOKEN": "not-the-token"})
    assert result.returncode == 1
    found = lines(result)
    assert found["health"].startswith("PASS")
    for check in ("messages", "stream", "models"):
        assert found[check].startswith("FAIL") and "401, the token was refused (ANTHROPIC_AUTH_TOKEN)" in found[check]


def test_a_misconfigured_bridge_names_the_setting(fake_azure: FakeAzure, tmp_path: Path) -> None:
    env = {k: v for k, v in bridge_env(fake_azure).items() if not k.endswith("_MODEL")}
    with running_bridge(env, tmp_path / "bridge.log", in_process=True) as running:
        result = smoke(running.url, {"ANTHROPIC_AUTH_TOKEN": CLIENT_TOKEN})
    assert result.returncode == 1
    found = lines(result)
    assert found["health"].startswith("FAIL") and "BIG_MODEL" in found["health"], found["health"]
    assert found["messages"].startswith("FAIL") and "look at the setting" in found["messages"], found["messages"]
    assert found["models"].startswith("FAIL") and "SMALL_MODEL" in found["models"], found["models"]


def test_with_entra_the_token_comes_from_az(fake_azure: FakeAzure, entra: FakeEntra, tmp_path: Path) -> None:
    token = entra.token()
    az = tmp_path / "bin" / "az"
    az.parent.mkdir()
    expected = f"account get-access-token --resource api://{entra.client_id} --query accessToken -o tsv"
    az.write_text(f'#!/bin/sh\n[ "$*" = "{expected}" ] || {{ echo "unexpected: $*" >&2; exit 2; }}\necho {token}\n')
    az.chmod(0o755)
    with running_bridge(bridge_env(fake_azure, **entra.bridge_settings()), tmp_path / "bridge.log", in_process=True) as running:
        result = smoke(running.url, {"ENTRA_CLIENT_ID": entra.client_id}, path=f"{az.parent}:/usr/bin:/bin")
        without_az = smoke(running.url, {"ENTRA_CLIENT_ID": entra.client_id, "ENTRA_TENANT_ID": entra.tenant})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"(token: az {expected})" in result.stdout.splitlines()[0]
    assert without_az.returncode == 1
    assert "the Azure CLI (az) is not installed" in lines(without_az)["messages"]


def run_hook(url: str, path: str = "/usr/bin:/bin", **env: str) -> subprocess.CompletedProcess[str]:
    """infra/hooks/postdeploy.sh as azd runs it: the environment's values (main.bicep's outputs) as variables."""
    outputs = {"AZURE_FUNCTION_URL": url, "AZURE_KEY_VAULT_NAME": "kv-test", "CLIENT_AUTH": "token", "SMOKE_WAIT_SECONDS": "0"}
    return subprocess.run(
        ["sh", str(ROOT / "infra" / "hooks" / "postdeploy.sh")],
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **outputs, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_azd_runs_the_smoke_test_after_every_deployment() -> None:
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]["postdeploy"]
    assert hooks["posix"] == {"shell": "sh", "run": "infra/hooks/postdeploy.sh", "interactive": True, "continueOnError": False}
    assert hooks["windows"]["shell"] == "pwsh" and hooks["windows"]["run"] == "infra/hooks/postdeploy.ps1"
    assert hooks["windows"]["continueOnError"] is False
    powershell = (ROOT / "infra" / "hooks" / "postdeploy.ps1").read_text()
    for piece in (
        "scripts/smoke') --wait $wait $url",
        "exit $status",
        "az keyvault secret show",
        "SMOKE_TEST",
        "ENTRA_CLIENT_ID",
    ):
        assert piece in powershell, piece


def test_the_hook_reads_the_token_from_key_vault_and_passes(bridge: RunningBridge, tmp_path: Path) -> None:
    az = tmp_path / "az"
    az.write_text(
        '#!/bin/sh\n[ "$*" = "keyvault secret show --vault-name kv-test --name anthropic-auth-token --query value -o tsv" ]'
        f" || exit 3\necho {CLIENT_TOKEN}\n"
    )
    az.chmod(0o755)
    result = run_hook(bridge.url, path=f"{tmp_path}:/usr/bin:/bin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: 4/4 checks passed" in result.stdout


def test_a_failed_smoke_test_fails_the_deployment_visibly(nothing_indexed: str) -> None:
    result = run_hook(nothing_indexed, ANTHROPIC_AUTH_TOKEN=CLIENT_TOKEN)
    assert result.returncode == 1
    assert "FAIL  health" in result.stdout and "did not index the app" in result.stdout
    assert "The deployed bridge does not work" in result.stderr


def test_the_smoke_test_can_be_skipped(nothing_indexed: str) -> None:
    result = run_hook(nothing_indexed, SMOKE_TEST="false")
    assert result.returncode == 0 and "smoke test skipped" in result.stderr
