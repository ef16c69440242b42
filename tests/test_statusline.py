"""scripts/claude-statusline (issue 20): Claude Code's status-line JSON in, one line of the person's spend out.

A bridge with CLIENT_AUTH=entra against the local OpenID stand-in, $1 a day and $20 a month for everyone (its
counters in the process), in front of the fake Azure.  The script runs as Claude Code runs it: a command with the
status-line JSON on stdin, Claude Code's environment (ANTHROPIC_BASE_URL), and its settings.json naming the
apiKeyHelper.  The last test is the real thing: Claude Code 2.1.332 in a terminal (a pseudo-terminal here), the
script as its `statusLine`, a person's prompts spending their day.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyte
import pytest

from tests.support.bridge import RunningBridge, bridge_env, running_bridge
from tests.support.fake_azure import FakeAzure, Text
from tests.support.fake_entra import FakeEntra, User
from tests.support.paths import ROOT

pytestmark = pytest.mark.process

SCRIPT = ROOT / "scripts" / "claude-statusline"
CLI = ROOT / "tests" / "cli" / "node_modules" / "claude-code-2.1.332" / "bin" / "claude.exe"
SONNET = {"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
STATUS_INPUT: dict[str, Any] = {
    # What Claude Code 2.1.332 wrote on the status line's stdin after the first prompt of a session (captured with the
    # CLI of tests/cli in a pseudo-terminal, as `test_claude_code_draws_the_line_through_a_persons_day` runs it).
    "session_id": "6721f714-b420-44d7-a41f-2ce2a1f7716f",
    "transcript_path": "/home/dev/.claude/projects/-home-dev-project/6721f714-b420-44d7-a41f-2ce2a1f7716f.jsonl",
    "cwd": "/home/dev/project",
    "prompt_id": "3d5314c4-9a3f-4e90-987d-2ec05b0c7f8e",
    "effort": {"level": "medium"},
    "model": {"id": "claude-opus-5-5", "display_name": "Opus 5.5"},
    "workspace": {"current_dir": "/home/dev/project", "project_dir": "/home/dev/project", "added_dirs": []},
    "version": "2.1.332",
    "output_style": {"name": "default"},
    "cost": {
        "total_cost_usd": 0.055924,
        "total_duration_ms": 8585,
        "total_api_duration_ms": 78,
        "total_lines_added": 0,
        "total_lines_removed": 0,
    },
    "context_window": {
        "total_input_tokens": 13976,
        "total_output_tokens": 1,
        "context_window_size": 1000000,
        "current_usage": {
            "input_tokens": 13976,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
        "used_percentage": 1,
        "remaining_percentage": 99,
    },
    "exceeds_200k_tokens": False,
    "fast_mode": False,
    "thinking": {"enabled": True},
    # Signed in to a Claude gateway, 2.1.332 adds the spend limit (../shared/claude-gateway-protocol/2.1.332/client-session.md)
    "rate_limits": {
        "spend_limit": {"used_percentage": 77, "resets_at": 1796601600, "used_usd": 0.07, "limit_usd": 0.1, "period": "daily"}
    },
}


@pytest.fixture(scope="module")
def bridge(fake_azure: FakeAzure, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    settings = {
        **entra.bridge_settings(),
        "BUDGET_DAILY_USD": "1",
        "BUDGET_MONTHLY_USD": "20",
        "MIDDLE_MODEL": "gpt-5-mini",
        "MIDDLE_MODEL_API": "chat",
    }
    with running_bridge(bridge_env(fake_azure, **settings), tmp_path_factory.mktemp("statusline") / "bridge.log") as running:
        yield running


def person() -> User:
    object_id = str(uuid.uuid4())
    return User(object_id, f"user-{object_id[:8]}@contoso.example", f"User {object_id[:8]}")


def signed_in(home: Path, token: str, **more: Any) -> Path:
    """Claude Code's settings of a person signed in through an apiKeyHelper that prints `token`."""
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    (home / "token.txt").write_text(token)
    helper = home / "token-helper.sh"
    helper.write_text(f"#!/bin/sh\ncat '{home / 'token.txt'}'\n")
    helper.chmod(0o755)
    (config / "settings.json").write_text(json.dumps({"apiKeyHelper": str(helper), **more}))
    return config


def statusline(home: Path, url: str | None, *args: str, stdin: dict[str, Any] | None = None, **env: str) -> str:
    """The line the script prints, run as Claude Code runs it (its environment, its settings in CLAUDE_CONFIG_DIR)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    clean.update(HOME=str(home), CLAUDE_CONFIG_DIR=str(home / ".claude"), XDG_CACHE_HOME=str(home / ".cache"), **env)
    if url is not None:
        clean["ANTHROPIC_BASE_URL"] = url
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        input=json.dumps(STATUS_INPUT if stdin is None else stdin),
        capture_output=True,
        text=True,
        env=clean,
        timeout=30,
    )
    assert done.returncode == 0 and done.stderr == "", done
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0]


def spend(bridge: RunningBridge, token: str, fake_azure: FakeAzure, output_tokens: int) -> None:
    """One sonnet answer (gpt-5-mini: $2 per million output tokens) of `output_tokens`, with 4,000 input tokens."""
    fake_azure.enqueue(Text("ok", prompt_tokens=4000, reasoning_tokens=output_tokens - 1))
    answer = httpx.post(bridge.url + "/v1/messages", json=SONNET, headers={"x-api-key": token}, timeout=30)
    assert answer.status_code == 200, answer.text


def usage_requests(bridge: RunningBridge) -> int:
    return bridge.log().count('"route":"usage"')


def test_the_line_shows_the_day_and_the_month_of_the_person_signed_in(
    bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    token = entra.token(person())
    signed_in(tmp_path, token)
    assert statusline(tmp_path, bridge.url) == "bridge · today $0.00 of $1.00 · month $0.00 of $20"
    spend(bridge, token, fake_azure, 200_000)
    assert statusline(tmp_path, bridge.url, "--cache-seconds", "0") == "bridge · today $0.40 of $1.00 · month $0.40 of $20"


def test_the_answer_is_kept_thirty_seconds_for_the_same_sign_in_only(
    bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    token = entra.token(person())
    signed_in(tmp_path, token)
    before = usage_requests(bridge)
    first = statusline(tmp_path, bridge.url)
    spend(bridge, token, fake_azure, 300_000)
    assert statusline(tmp_path, bridge.url) == first, "drawn again within 30 s: the kept answer"
    assert usage_requests(bridge) == before + 1, "the bridge was asked once"
    cached = list((tmp_path / ".cache" / "claude-azure-bridge").glob("statusline-*.json"))
    assert len(cached) == 1 and token not in cached[0].read_text() and cached[0].stat().st_mode & 0o077 == 0
    other = person()
    (tmp_path / "token.txt").write_text(entra.token(other))
    assert statusline(tmp_path, bridge.url) == "bridge · today $0.00 of $1.00 · month $0.00 of $20", "someone else's line"
    os.utime(cached[0], (time.time() - 31, time.time() - 31))
    (tmp_path / "token.txt").write_text(token)
    assert statusline(tmp_path, bridge.url) == "bridge · today $0.60 of $1.00 · month $0.60 of $20", "30 s later: asked again"


def test_the_shared_token_and_settings_env_are_read_as_claude_code_reads_them(
    bridge: RunningBridge, entra: FakeEntra, tmp_path: Path
) -> None:
    token = entra.token(person())
    (tmp_path / ".claude").mkdir()
    settings = {"env": {"ANTHROPIC_BASE_URL": bridge.url, "ANTHROPIC_AUTH_TOKEN": token}}
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(settings))
    assert statusline(tmp_path, None).startswith("bridge · today $0.00 of $1.00")
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"env": {"ANTHROPIC_AUTH_TOKEN": "cab_" + "A" * 43}}))
    local = {**STATUS_INPUT, "workspace": {"current_dir": str(project), "project_dir": str(project)}}
    assert statusline(tmp_path, None, stdin=local) == "bridge · usage unavailable: 401 authentication_error", (
        "the project's local settings come first"
    )


def test_a_spent_budget_and_a_warning(bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path) -> None:
    token = entra.token(person())
    signed_in(tmp_path, token)
    spend(bridge, token, fake_azure, 424_500)
    assert statusline(tmp_path, bridge.url) == "bridge · today $0.85 of $1.00 · month $0.85 of $20 · ⚠ usd-day 85%"
    spend(bridge, token, fake_azure, 100_000)
    line = statusline(tmp_path, bridge.url, "--cache-seconds", "0")
    assert line == "bridge · today $1.05 of $1.00 (spent) · month $1.05 of $20 · ⚠ usd-day 105%"


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        ("no url", "bridge · usage unavailable: ANTHROPIC_BASE_URL is not set"),
        (
            "no sign-in",
            "bridge · usage unavailable: no sign-in: set apiKeyHelper in Claude Code's settings, or ANTHROPIC_AUTH_TOKEN",
        ),
        ("helper fails", "bridge · usage unavailable: the apiKeyHelper command failed (exit 3)"),
        ("bridge down", "bridge · usage unavailable: unreachable (URLError)"),
        ("bad token", "bridge · usage unavailable: 401 authentication_error"),
        ("not json", None),
    ],
)
def test_whatever_goes_wrong_the_line_says_so_and_the_command_succeeds(
    bridge: RunningBridge, entra: FakeEntra, tmp_path: Path, setup: str, said: str | None
) -> None:
    url: str | None = bridge.url
    (tmp_path / ".claude").mkdir()
    if setup == "no url":
        url = None
        signed_in(tmp_path, entra.token(person()))
    elif setup == "helper fails":
        (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"apiKeyHelper": "exit 3"}))
    elif setup == "bridge down":
        url = "http://127.0.0.1:9"
        signed_in(tmp_path, entra.token(person()))
    elif setup == "bad token":
        signed_in(tmp_path, "not-a-token")
    elif setup == "not json":
        signed_in(tmp_path, entra.token(person()))
        line = statusline(tmp_path, url, stdin=None, PYTHONIOENCODING="utf-8")
        assert line.startswith("bridge · today ")
        return
    assert statusline(tmp_path, url) == said


# ----- the real Claude Code, in a terminal ------------------------------------------------------------------------


class Terminal:
    """Claude Code in a pseudo-terminal of 200 by 50: the screen it draws, as a person sees it (pyte emulates the
    terminal, so redrawing only what changed shows as it does on a real one)."""

    COLUMNS, LINES = 200, 50

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes Claude Code
            os.chdir(cwd)
            os.execve(command[0], command, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", self.LINES, self.COLUMNS, 0, 0))
        self.screen = pyte.Screen(self.COLUMNS, self.LINES)
        self.stream = pyte.ByteStream(self.screen)

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.stream.feed(os.read(self.fd, 65536))
                except OSError:
                    return

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, pattern: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return True
            self.read(0.2)
        return False

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


@pytest.mark.skipif(
    not os.access(CLI, os.X_OK), reason=f"Claude Code not installed at {CLI.relative_to(ROOT)}: scripts/test does"
)
def test_claude_code_draws_the_line_through_a_persons_day(
    bridge: RunningBridge, entra: FakeEntra, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """Signed in through an apiKeyHelper, the status line is the script (the docs' settings.json lines); the first
    prompt spends 85 % of the day ($0.85 of $1), the line shows it with the warning; the next prompt is refused,
    and Claude Code shows the bridge's message naming the budget and its reset."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    status_input = tmp_path / "status-input.json"
    command = f"tee '{status_input}' | '{sys.executable}' '{SCRIPT}' --cache-seconds 0"
    config = signed_in(home, entra.token(person()), statusLine={"type": "command", "command": command})
    (config / ".claude.json").write_text(
        json.dumps({"hasCompletedOnboarding": True, "projects": {str(work): {"hasTrustDialogAccepted": True}}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(config),
        XDG_CACHE_HOME=str(home / ".cache"),
        ANTHROPIC_BASE_URL=bridge.url,
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        IS_SANDBOX="1",
        TERM="xterm-256color",
        NO_PROXY="127.0.0.1,localhost",
    )
    fake_azure.respond_with(
        lambda request: (
            Text("Most of your day.", prompt_tokens=4000, reasoning_tokens=424_496)
            if request.deployment == "gpt-5-mini"
            else Text("ok")
        )
    )
    terminal = Terminal([str(CLI), "--model", "sonnet"], work, env)
    try:
        assert terminal.wait_for(r"bridge · today \$0\.00 of \$1\.00 · month \$0\.00 of \$20", 30), terminal.text()
        terminal.type("spend most of my day")
        assert terminal.wait_for(r"Most of your day\.", 30), terminal.text()
        # Claude Code's own small requests (haiku, gpt-4o) cost a little too: a cent or so
        assert terminal.wait_for(r"bridge · today \$0\.8\d of \$1\.00 · month \$0\.8\d of \$20 · ⚠ usd-day 8\d%", 30), (
            terminal.text()
        )
        fake_azure.respond_with(lambda _: Text("More than you have.", prompt_tokens=4000, reasoning_tokens=100_000))
        terminal.type("and some more")
        assert terminal.wait_for(r"bridge · today \$1\.0\d of \$1\.00 \(spent\)", 30), terminal.text()
        terminal.type("one more")
        assert terminal.wait_for(r"Daily dollar budget used up: \$1\.0\d of \$1\.00 today \(UTC\)\. It resets at", 30), (
            terminal.text()
        )
    finally:
        terminal.close()
    received = json.loads(status_input.read_text())
    assert received["model"]["id"].startswith("claude-sonnet") and "cost" in received and "workspace" in received
