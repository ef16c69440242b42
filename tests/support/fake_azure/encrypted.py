"""Encrypted reasoning and the conversation state one resource keeps (`Vault`).

With `store: false` the service keeps no items, yet it checks what comes back:
`encrypted_content` must be a token this resource sealed for this very item
and model (another resource, a redeploy or a model switch cannot open it), and
an output item (a function call, a message) that followed a reasoning item
needs that reasoning item beside it when it is sent back with its id.

The fake seals tokens without keeping them (an HMAC over the item id, model,
summary and a nonce, keyed per resource), so two tokens for one item differ,
as Azure's do between `output_item.done` and `response.completed`; it remembers
only which output item followed which reasoning item.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

TOKEN_PREFIX = "gAAAAAB"
DEFAULT_RESOURCE = "fake-azure"
NEEDS_REASONING = ("function_call", "message")


class Vault:
    """What resource `resource` can verify: its sealing key and which items needed which reasoning item."""

    def __init__(self, resource: str = DEFAULT_RESOURCE) -> None:
        self.resource = resource
        self._key = hashlib.sha256(b"fake-azure-reasoning-key:" + resource.encode()).digest()
        self._needs: dict[str, str] = {}
        self._lock = threading.Lock()

    def seal(self, item_id: str, summary: str, model: str, *, valid: bool = True) -> str:
        """A token for reasoning item `item_id` of `model` that `opens` accepts (unless not `valid`)."""
        claims = {"id": item_id, "model": model, "nonce": secrets.token_hex(8), "summary": summary}
        payload = json.dumps(claims, separators=(",", ":")).encode()
        mac = hmac.new(self._key if valid else b"elsewhere", payload, hashlib.sha256).digest()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(mac + payload).decode()

    def opens(self, item_id: str, token: str, model: str | None = None) -> bool:
        """Whether this resource sealed `token` for item `item_id` (and for `model`, when given)."""
        if not token.startswith(TOKEN_PREFIX):
            return False
        try:
            raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode())
            mac, payload = raw[:32], raw[32:]
            claims = json.loads(payload)
        except ValueError:
            return False
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected) or not isinstance(claims, dict):
            return False
        return claims.get("id") == item_id and (model is None or claims.get("model") == model)

    def remember(self, output: Sequence[Mapping[str, Any]]) -> None:
        """Note, for one response's output items, which reasoning item each call or message followed."""
        reasoning: str | None = None
        with self._lock:
            for item in output:
                if item.get("type") == "reasoning":
                    reasoning = item["id"]
                elif item.get("type") in NEEDS_REASONING and reasoning is not None:
                    self._needs[item["id"]] = reasoning

    def needed_reasoning(self, item_id: str) -> str | None:
        """The reasoning item output item `item_id` followed, when this resource issued it after one."""
        with self._lock:
            return self._needs.get(item_id)

    def forget(self) -> None:
        with self._lock:
            self._needs.clear()


DEFAULT_VAULT = Vault()
"""The vault of a `FakeAzure` created without a resource name."""


def issue_encrypted(item_id: str, summary: str, *, model: str = "", valid: bool = True) -> str:
    """A token the default resource accepts for `item_id` (unless not `valid`)."""
    return DEFAULT_VAULT.seal(item_id, summary, model, valid=valid)


def verify_encrypted(item_id: str, token: str, model: str | None = None) -> bool:
    """Whether the default resource sealed `token` for `item_id` (and `model`, when given)."""
    return DEFAULT_VAULT.opens(item_id, token, model)
