"""A Responses reasoning item, carried through the client as a thinking block's `signature`.

With `store: false` Azure keeps nothing between turns: the model's chain of
thought survives a tool call only if the next request sends its reasoning
item back, encrypted content included.  The bridge keeps no state either (the
Function App scales out), so the item travels inside the Anthropic thinking
block's opaque `signature`, which clients return verbatim:

    signature = "azure-reasoning.v1." <item id> "." <encrypted_content>

    <item id>            the reasoning item's id (`rs_...`: letters, digits, _ and -)
    <encrypted_content>  Azure's encrypted reasoning, unchanged

Anything else (a real Anthropic signature after a model switch, an empty or
mangled string) is not ours and decodes to None, so it is never sent to Azure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "azure-reasoning.v1."
_ITEM_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True, slots=True)
class ReasoningItem:
    id: str
    encrypted_content: str


def encode(item_id: str, encrypted_content: str) -> str:
    return f"{PREFIX}{item_id}.{encrypted_content}"


def decode(signature: str | None) -> ReasoningItem | None:
    """The reasoning item a signature carries, or None when the signature is not the bridge's."""
    if not signature or not signature.startswith(PREFIX):
        return None
    item_id, dot, encrypted = signature[len(PREFIX) :].partition(".")
    if not dot or not encrypted or not _ITEM_ID.match(item_id) or any(c.isspace() for c in encrypted):
        return None
    return ReasoningItem(item_id, encrypted)
