"""The real Claude Code 2.1.332 run interactively (in a pseudo-terminal: tests/support/terminal.py), as the
gateway-protocol tests run it: where it is, the environment it gets (its own HOME, nothing sent anywhere but
the bridge), a HOME that has finished onboarding, and a status line that records what Claude Code gives it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT

VERSION = "2.1.332"
CLI = ROOT / "tests" / "cli" / "node_modules" / f"claude-code-{VERSION}" / "bin" / "claude.exe"
requires_cli = pytest.mark.skipif(
    not os.access(CLI, os.X_OK),
    reason=f"Claude Code {VERSION} not installed at {CLI.relative_to(ROOT)}: run `npm ci --prefix tests/cli` (scripts/test does)",
)
READY = ("auto mode on", "for shortcuts", "/effort")
"""What the start screen shows once Claude Code takes prompts (any of them)."""


def interactive_env(home: Path, **more: str) -> dict[str, str]:
    """Claude Code's whole environment: its own HOME and config, a terminal, no telemetry, updates or other
    traffic, root allowed (IS_SANDBOX), loopback never proxied; `more` on top."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TERM": "xterm-256color",
        "IS_SANDBOX": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **more,
    }


def onboarded_home(tmp_path: Path, **settings: Any) -> tuple[Path, Path]:
    """A HOME whose Claude Code has finished onboarding and trusts the work directory, with user `settings`; the
    HOME and the work directory."""
    home, work = tmp_path / "home", tmp_path / "work"
    config = home / ".claude"
    config.mkdir(parents=True)
    work.mkdir()
    (config / "settings.json").write_text(json.dumps(settings))
    state = {"hasCompletedOnboarding": True, "projects": {str(work): {"hasTrustDialogAccepted": True}}}
    (config / ".claude.json").write_text(json.dumps(state))
    return home, work


def status_line(recorded_input: Path) -> dict[str, Any]:
    """A `statusLine` setting whose command appends each input it gets (one JSON a line) to `recorded_input`."""
    command = f"cat >> '{recorded_input}'; echo >> '{recorded_input}'; echo bridge-status-line"
    return {"statusLine": {"type": "command", "command": command}}


def spend_limits(recorded_input: Path) -> list[dict[str, Any]]:
    """Every `rate_limits.spend_limit` the status line was given, in order."""
    if not recorded_input.exists():
        return []
    inputs = [json.loads(line) for line in recorded_input.read_text().splitlines() if line.strip()]
    return [given["rate_limits"]["spend_limit"] for given in inputs if (given.get("rate_limits") or {}).get("spend_limit")]
