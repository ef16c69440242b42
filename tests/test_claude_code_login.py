"""The real Claude Code 2.1.332 signs in to the bridge with `/login` and works through it (issue 22).

The CLI runs interactively in a pseudo-terminal (tests/support/terminal.py) with its own HOME and
CLAUDE_CONFIG_DIR, onboarding done and the working directory trusted, and a user `settings.json` with
`forceLoginMethod: "gateway"` and `forceLoginGatewayUrl` (the bridge on 127.0.0.1: loopback is the one
plain-http host the client accepts), as in the recorded session
(../shared/claude-gateway-protocol/2.1.332/client-session.md).  `BROWSER` is
tests/support/login_browser.py, which confirms the code on the bridge's page and signs in at the Entra
ID stand-in.  The screens, in order: the gateway URL ("Enter to connect"), "Trust gateway 127.0.0.1?"
(default No: one key up), the code and "Waiting for sign-in", "Signed in to Cloud gateway as
<email>" (default No: one key up), "Login successful"; then a prompt answered through the bridge by the
fake Azure, and `/logout`, after which the bearer the CLI held is refused.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.bridge import RunningBridge, request_lines
from tests.support.fake_azure import FakeAzure, RecordedRequest, Text
from tests.support.fake_entra import FakeEntra, new_user
from tests.support.paths import ROOT
from tests.support.terminal import ENTER, UP, Terminal
from tests.test_login import login_bridge as login_bridge  # the fixture: the bridge of the HTTP tests

VERSION = "2.1.332"
CLI = ROOT / "tests" / "cli" / "node_modules" / f"claude-code-{VERSION}" / "bin" / "claude.exe"
REPLY = "The bridge answered through Entra"
PROMPT = "say the magic words"

pytestmark = [
    pytest.mark.process,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CLI, os.X_OK),
        reason=f"Claude Code {VERSION} not installed at {CLI.relative_to(ROOT)}: run `npm ci --prefix tests/cli` (scripts/test does)",
    ),
]


def cli_home(tmp_path: Path, gateway: str) -> tuple[Path, Path]:
    """A HOME whose Claude Code has finished onboarding, trusts the work directory and points /login at `gateway`."""
    home, work = tmp_path / "home", tmp_path / "work"
    config = home / ".claude"
    config.mkdir(parents=True)
    work.mkdir()
    settings = {"forceLoginMethod": "gateway", "forceLoginGatewayUrl": gateway}
    (config / "settings.json").write_text(json.dumps(settings))
    state = {"hasCompletedOnboarding": True, "projects": {str(work): {"hasTrustDialogAccepted": True}}}
    (config / ".claude.json").write_text(json.dumps(state))
    return home, work


def browser_script(tmp_path: Path) -> Path:
    script = tmp_path / "browser"
    script.write_text(f'#!/bin/sh\ncd "{ROOT}" && exec "{sys.executable}" -m tests.support.login_browser "$1"\n')
    script.chmod(0o755)
    return script


def test_cli_signs_in_with_login_and_its_bearer_works(
    login_bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    person = new_user("Bridge.User")
    entra.signing_in = person

    def answer(request: RecordedRequest) -> Text | None:
        return Text(REPLY) if PROMPT in json.dumps(request.body) else None

    fake_azure.respond_with(answer)
    home, work = cli_home(tmp_path, login_bridge.url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TERM": "xterm-256color",
        "IS_SANDBOX": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "BROWSER": str(browser_script(tmp_path)),
        "LOGIN_BROWSER_LOG": str(tmp_path / "browser.log"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    terminal = Terminal([str(CLI)], cwd=work, env=env)
    try:
        terminal.wait_for("auto mode on", "for shortcuts", "/effort")
        terminal.send("/login", pause=1.5)
        terminal.send(ENTER)
        terminal.wait_for("Enter to connect")
        terminal.send(ENTER)
        terminal.wait_for("Trust gateway 127.0.0.1?")
        terminal.send(UP)
        terminal.send(ENTER)
        terminal.wait_for(f"Signed in to Cloud gateway as {person.username}", timeout=90)
        terminal.send(UP)
        terminal.send(ENTER)
        terminal.wait_for("Connected to Cloud gateway")
        terminal.send(ENTER)
        terminal.wait_for("Login successful")
        credentials = json.loads((home / ".claude" / ".credentials.json").read_text())["enterpriseGateway"]
        assert credentials["url"] == login_bridge.url and credentials["email"] == person.username
        assert credentials["revocationEndpoint"] == login_bridge.url + "/oauth/revoke"
        terminal.send(PROMPT, pause=1.0)
        terminal.send(ENTER)
        terminal.wait_for(REPLY, timeout=90)
        asked = [line for line in request_lines(login_bridge) if line["route"] == "messages" and line["status"] == 200]
        assert any((line["user_id"], line["auth"]) == (person.object_id, "login") for line in asked), asked
        bearer = credentials["jwt"]
        assert httpx.get(login_bridge.url + "/v1/usage", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
        terminal.send("/logout", pause=1.5)
        terminal.send(ENTER)
        terminal.wait_for("Successfully logged out", "Logged out", "Signed out", timeout=60)
        revoked = httpx.get(login_bridge.url + "/v1/usage", headers={"Authorization": f"Bearer {bearer}"})
        assert revoked.status_code == 401 and revoked.headers["x-should-retry"] == "false"
    finally:
        terminal.close()
        fake_azure.respond_with(None)
