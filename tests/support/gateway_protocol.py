"""Claude Code's gateway protocol as recorded beside the checkout (../shared/claude-gateway-protocol/2.1.332/):
the contract the reference gateway serves (`protocol.md`) and the capture of the real CLI against it
(`client-session.md`), read by the tests that hold the bridge's answers to them.  A clone without ../shared
skips those tests, saying why."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.paths import ROOT

PROTOCOL = ROOT.parent / "shared" / "claude-gateway-protocol" / "2.1.332"


def recorded(name: str) -> str:
    """The text of one of the recorded files; skips the test when ../shared is not beside the checkout."""
    path = PROTOCOL / name
    if not path.exists():
        pytest.skip(f"the recorded gateway protocol is not beside the checkout ({path})")
    return path.read_text()


def captured_json(after: str) -> dict[str, Any]:
    """The first JSON object in client-session.md after the text `after` (a response body the capture shows)."""
    session = recorded("client-session.md")
    start = session.index("{", session.index(after))
    decoded, _ = json.JSONDecoder().raw_decode(session[start:])
    assert isinstance(decoded, dict)
    return decoded


def captured_headers(block_start: str) -> dict[str, str]:
    """The `name: value` header lines of the HTTP block in a recorded file that begins with `block_start`."""
    for name in ("client-session.md", "protocol.md"):
        text = recorded(name)
        if block_start in text:
            block = text[text.index(block_start) :].split("\n\n", 1)[0]
            return dict(re.findall(r"^\s*([a-z-]+): (.+)$", block, re.MULTILINE))
    raise AssertionError(f"no block starting {block_start!r} in the recorded protocol")
