"""Client-supplied identifiers: user and session ids made to fit the upstream's 64-character fields, and the
longest model name the bridge accepts (it is echoed in answers and logged)."""

from __future__ import annotations

import hashlib

MAX_IDENTIFIER_LENGTH = 64
MAX_MODEL_NAME_LENGTH = 256


def bounded(value: str) -> str:
    """`value` itself when it fits, else its SHA-256 (64 hex characters): stable, and no raw id leaks."""
    return value if len(value) <= MAX_IDENTIFIER_LENGTH else hashlib.sha256(value.encode()).hexdigest()
