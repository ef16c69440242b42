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
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.azurite import Azurite, requires_azurite
from tests.support.bridge import RunningBridge, bridge_env, request_lines, running_bridge
from tests.support.claude_code import CLI, READY, interactive_env, onboarded_home, requires_cli, status_line
from tests.support.fake_azure import FakeAzure, RecordedRequest, Text
from tests.support.fake_entra import FakeEntra, User, new_user
from tests.support.paths import ROOT
from tests.support.terminal import DOWN, ENTER, UP, Terminal, flat
from tests.test_login import login_bridge as login_bridge  # the fixture: the bridge of the HTTP tests
from tests.test_spend_limit import DAY, PRICED, spend_the_day, spending

REPLY = "The bridge answered through Entra"
POINTER = "\N{HEAVY RIGHT-POINTING ANGLE QUOTATION MARK ORNAMENT}"
"""What marks the chosen line of Claude Code's menus."""
PROMPT = "say the magic words"

pytestmark = [pytest.mark.process, pytest.mark.slow, requires_cli]


def cli_home(tmp_path: Path, gateway: str, **more: Any) -> tuple[Path, Path]:
    """An onboarded HOME whose user settings point /login at `gateway` (`more`: other user settings)."""
    return onboarded_home(tmp_path, forceLoginMethod="gateway", forceLoginGatewayUrl=gateway, **more)


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
    env = login_env(home, tmp_path)
    terminal = Terminal([str(CLI)], cwd=work, env=env)
    try:
        sign_in(terminal, person)
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


MARKER, CHANGED_MARKER = "BRIDGE_MANAGED_MARKER", "BRIDGE_MANAGED_CHANGE"


HINT_HEADERS = {"CLAUDE_CODE_GATEWAY_HINT_HEADERS": "1"}
"""Pushed with the markers: the sessions then send their managed settings' checksum on each model request."""


def managed(*variables: str) -> str:
    """MANAGED_SETTINGS pushing `variables` and the hint headers (and a deny rule) to every Bridge.User."""
    env = {**dict.fromkeys(variables, "from-the-bridge"), **HINT_HEADERS}
    settings = {"env": env, "permissions": {"deny": ["Bash(rm -rf:*)"]}}
    return json.dumps([{"for": "role:Bridge.User", "settings": settings}])


def login_env(home: Path, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment, its BROWSER the script that confirms the code and signs in at the Entra stand-in."""
    return interactive_env(home, BROWSER=str(browser_script(tmp_path)), LOGIN_BROWSER_LOG=str(tmp_path / "browser.log"))


def sign_in(terminal: Terminal, person: User) -> None:
    """/login from the start screen to "Connected to Cloud gateway", Enter pressed (the screens of the module's
    docstring)."""
    terminal.wait_for(*READY)
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


def approve_managed_settings(terminal: Terminal, variable: str) -> None:
    """The approval dialog names what is pushed, and is approved.  The first ever: "No, exit Claude Code", the
    default, then "Yes, I trust these settings" (down, until the screen shows it chosen: the dialog may draw
    itself anew after the first key); after an earlier approval the choices are numbered and "Yes" comes first."""
    terminal.wait_for("Managed settings require approval", timeout=60)
    terminal.wait_for(variable)
    if terminal.wait_for("Enter to select", "Enter to confirm") == "Enter to select":

        def chosen() -> bool:
            screen = flat(terminal.screen())
            return screen.rfind(POINTER + "yes,itrust") > screen.rfind(POINTER + "no,exit")

        for _ in range(5):
            terminal.send(DOWN, pause=1.0)
            if chosen():
                break
    else:
        (number, *_) = re.findall(r"(\d)\.yes,itrust", flat(terminal.screen()))[::-1]
        terminal.send(number)
    terminal.send(ENTER)


@requires_azurite
def test_cli_signs_in_gets_its_groups_settings_sees_its_spend_and_stops_at_the_cap(
    fake_azure: FakeAzure, entra: FakeEntra, azurite: Azurite, tmp_path: Path
) -> None:
    """The whole of issue 22 through the real CLI: /login; the group's settings, named in the approval dialog and
    applied (with the hint headers: each model request then says the session runs what it was served); three
    prompts under a $0.10 daily cap (Claude Code's own 77% notice, the status line's `spend_limit`
    with dollars, the third stopped at the cap with the bridge's message).  Then the bridge restarted with changed
    settings (an app setting change restarts the app; sessions in Azurite) and the CLI started again: its fetch
    (If-None-Match: the old checksum) gets the new settings, named in a new dialog."""
    person = new_user("Bridge.User")
    entra.signing_in = person
    env = bridge_env(
        fake_azure, **entra.login_settings(), ENTRA_REQUIRED_ROLE="Bridge.User",
        USAGE_CONNECTION_STRING=azurite.connection_string, MANAGED_SETTINGS=managed(MARKER),
        BUDGET_DAILY_USD="0.10", PRICES=PRICED,
    )  # fmt: skip
    recorded_input = tmp_path / "status-input.jsonl"
    fake_azure.respond_with(spending(DAY))
    with running_bridge(env, tmp_path / "bridge.log") as bridge:
        entra.redirect_uris.add(bridge.url + "/oauth/callback")
        home, work = cli_home(tmp_path, bridge.url, **status_line(recorded_input))
        terminal = Terminal([str(CLI)], cwd=work, env=login_env(home, tmp_path))
        try:
            sign_in(terminal, person)
            approve_managed_settings(terminal, MARKER)
            terminal.wait_for("Restarting Claude Code", timeout=60)
            terminal.wait_for("Cloud gateway", timeout=60)
            fetched = [line for line in request_lines(bridge) if line["route"] == "managed_settings"]
            assert fetched and fetched[0]["status"] == 200 and fetched[0]["auth"] == "login", fetched
            spend_the_day(terminal, recorded_input)
            asked = [line for line in request_lines(bridge) if line["route"] in ("messages", "oauth_usage")]
            assert all(line["auth"] == "login" for line in asked) and any(line["route"] == "oauth_usage" for line in asked)
            sessions = {line.get("managed_settings") for line in asked if line["route"] == "messages"}
            assert sessions == {"served"}, f"the session runs what it was served, and says so on each request: {asked}"
        finally:
            terminal.close()
            fake_azure.respond_with(None)
    changed = {**env, "MANAGED_SETTINGS": managed(MARKER, CHANGED_MARKER)}
    with running_bridge(changed, tmp_path / "bridge2.log", port=int(bridge.url.rsplit(":", 1)[1])) as bridge:
        terminal = Terminal([str(CLI)], cwd=work, env=login_env(home, tmp_path))
        try:
            approve_managed_settings(terminal, CHANGED_MARKER)
            terminal.wait_for(*READY, timeout=60)
            fetched = [line for line in request_lines(bridge) if line["route"] == "managed_settings"]
            assert fetched and fetched[0]["status"] == 200, fetched
        finally:
            terminal.close()
