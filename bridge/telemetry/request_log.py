"""One structured JSON log line per request; never prompt text, never a secret, no field over `MAX_FIELD_CHARS`.

Fields: request_id, route, model (as requested), deployment, stream, attempts
(upstream HTTP attempts), status, error_type, latency_ms, input_tokens,
output_tokens, cache_read_input_tokens, cost_usd and cost_parts_usd (input,
cached, output: the request's cost at its deployment's price, when Azure's
usage came and the deployment has a price), usage_estimated (true when Azure's
usage never came and the budget was charged an estimate), agent ("subagent"
for Claude Code's subagents), policy_tier (the tier MODEL_POLICY served a
request for another with), and who called:
user_id (the Entra object id, or "shared-token" / "anonymous"), user_name,
auth (entra, app, key, token, open), key_id when a personal key was used, and
groups ("overage" when the token listed none of the person's groups).  In Application Insights the line is
the `message` of a trace, ready for `parse_json(message)`.

The record of the request being served is in the context variable
`CURRENT`, so the layers below the handler (routing, the upstream transport)
note the deployment and count attempts without passing it around.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from bridge.model import Usage

log = logging.getLogger(__name__)

MAX_FIELD_CHARS = 200


def quiet_azure_sdk_logs() -> None:
    """The Azure SDKs' loggers at WARNING: azure-core logs every identity call's headers at INFO, noise beside
    the bridge's own line per request.  Called by each entry point (`python -m bridge`, function_app.py)."""
    logging.getLogger("azure").setLevel(logging.WARNING)


def _capped(value: str | None) -> str | None:
    return value if value is None or len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "…"


@dataclass
class RequestLog:
    request_id: str
    route: str
    started: float = field(default_factory=time.monotonic)
    model: str | None = None
    deployment: str | None = None
    stream: bool = False
    attempts: int = 0
    usage: Usage | None = None
    usage_estimated: bool = False
    """Azure's usage never came (a stream cut short, a call abandoned): the budget was charged an estimate."""
    cost_usd: float | None = None
    """What the request cost, when its usage came and its deployment has a price (`bridge.gateway.pricing`)."""
    cost_parts_usd: dict[str, float] | None = None
    """The cost by kind: input (not cached), cached, output."""
    agent: str = "main"
    policy_tier: str | None = None
    error_type: str | None = None
    caller: dict[str, str] = field(default_factory=dict)
    """Who called (`Caller.log_fields`): user_id, user_name, auth, key_id."""

    def emit(self, status: int) -> None:
        record: dict[str, object] = {
            "request_id": self.request_id,
            "route": self.route,
            "model": _capped(self.model),
            "deployment": _capped(self.deployment),
            "stream": self.stream,
            "attempts": self.attempts,
            "status": status,
            "error_type": self.error_type,
            "latency_ms": round((time.monotonic() - self.started) * 1000, 1),
        }
        if self.usage is not None:
            record["input_tokens"] = self.usage.input_tokens
            record["output_tokens"] = self.usage.output_tokens
            record["cache_read_input_tokens"] = self.usage.cached_tokens
        if self.cost_usd is not None:
            record["cost_usd"] = self.cost_usd
            record["cost_parts_usd"] = self.cost_parts_usd
        if self.usage_estimated:
            record["usage_estimated"] = True
        if self.agent != "main":
            record["agent"] = self.agent
        if self.policy_tier is not None:
            record["policy_tier"] = self.policy_tier
        record.update({name: _capped(value) for name, value in self.caller.items()})
        log.info(json.dumps(record, separators=(",", ":")))

    def start(self) -> RequestLog:
        """Make this the record of the request being served."""
        CURRENT.set(self)
        return self


CURRENT: ContextVar[RequestLog | None] = ContextVar("bridge_request_log", default=None)


def note_model(model: str) -> None:
    record = CURRENT.get()
    if record is not None:
        record.model = model


def note_deployment(deployment: str) -> None:
    record = CURRENT.get()
    if record is not None:
        record.deployment = deployment


def note_attempt() -> None:
    record = CURRENT.get()
    if record is not None:
        record.attempts += 1
