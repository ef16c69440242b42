"""Key-like strings taken out of text the bridge passes on from elsewhere (an upstream's error message).

    looks like                                        becomes
    ------------------------------------------------  -------------
    a JSON Web Token (an Entra ID access token)       [redacted]
    Bearer <anything>                                 Bearer [redacted]
    32 hexadecimal characters (an Azure OpenAI key)   [redacted]
    40 or more letters and digits in one run (newer
      Azure keys, encrypted content, other secrets)   [redacted]
    sk-... (an OpenAI-style key)                      [redacted]

Request ids and principal ids (GUIDs with hyphens) and ordinary words stay.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?<=Bearer )\S+", re.IGNORECASE),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"\b[0-9a-fA-F]{32}\b"),
    re.compile(r"\b[A-Za-z0-9+/_=-]*[A-Za-z0-9]{40,}[A-Za-z0-9+/_=-]*"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text
