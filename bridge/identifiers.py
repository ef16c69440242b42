"""Client-supplied identifiers (user ids, session ids) made to fit the upstream's 64-character fields."""

from __future__ import annotations

import hashlib

MAX_IDENTIFIER_LENGTH = 64


def bounded(value: str) -> str:
    """`value` itself when it fits, else its SHA-256 (64 hex characters): stable, and no raw id leaks."""
    return value if len(value) <= MAX_IDENTIFIER_LENGTH else hashlib.sha256(value.encode()).hexdigest()
