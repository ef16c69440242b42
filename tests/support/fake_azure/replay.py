"""Recorded Azure/OpenAI traffic from `../shared/wire-corpus/recorded/`, ready to replay.

The corpus lives beside the checkout (`<parent of the repo>/shared`), so a
user's clone usually lacks it: `recorded_dir()` returns None then, and
`require_recorded_dir()` skips the calling test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .streams import DONE, JSON_CONTENT_TYPE, NO_FAULTS, SSE_CONTENT_TYPE, Faults, RawSSE

SHARED_DIR = Path(__file__).resolve().parents[3].parent / "shared"
RECORDED_DIR = SHARED_DIR / "wire-corpus" / "recorded"
MISSING_REASON = "../shared/wire-corpus not present (a user's clone): recorded-traffic tests skipped"


def recorded_dir() -> Path | None:
    """The recorded-transcript folder, or None when this checkout has no shared corpus beside it."""
    return RECORDED_DIR if RECORDED_DIR.is_dir() else None


def require_recorded_dir() -> Path:
    """The recorded-transcript folder; skips the current test when it is absent."""
    folder = recorded_dir()
    if folder is None:
        pytest.skip(MISSING_REASON)
    return folder


def load_transcript(name: str) -> bytes:
    """The wire body of recording `name`.

    `*.sse` and `*.json` files are returned verbatim.  `*.chunks.jsonl` files
    (one JSON payload per line, framing dropped by their recorder) are framed
    again: chat chunks as `data: <line>\\n\\n` plus `data: [DONE]\\n\\n`,
    Responses events as `event: <type>\\ndata: <line>\\n\\n`.
    """
    raw = (require_recorded_dir() / name).read_bytes()
    if not name.endswith(".chunks.jsonl"):
        return raw
    lines = [line for line in raw.decode().splitlines() if line.strip()]
    if lines and "type" in json.loads(lines[0]):
        return b"".join(f"event: {json.loads(line)['type']}\ndata: {line}\n\n".encode() for line in lines)
    return b"".join(f"data: {line}\n\n".encode() for line in lines) + DONE


def recorded_status(name: str) -> int:
    """The HTTP status recorded beside `name` (its `.headers.json` sidecar), 200 when none was kept."""
    stem = name.removesuffix(".chunks.jsonl").removesuffix(".sse").removesuffix(".json")
    sidecar = require_recorded_dir() / f"{stem}.headers.json"
    if not sidecar.is_file():
        return 200
    return int(json.loads(sidecar.read_text())["status"]["code"])


def recorded_reply(name: str, faults: Faults = NO_FAULTS) -> RawSSE:
    """A reply that replays recording `name` verbatim, with its recorded status and content type."""
    content_type = JSON_CONTENT_TYPE if name.endswith(".json") else SSE_CONTENT_TYPE
    return RawSSE(load_transcript(name), recorded_status(name), content_type, faults=faults)
