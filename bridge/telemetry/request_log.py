"""The per-request record: one structured JSON log line per request, and what the telemetry exports of it.

Never prompt text, never a secret, no field over `MAX_FIELD_CHARS` (`MAX_LIST_CHARS` for the person's roles
and groups).  The line's fields (`RequestLog.fields`), which are also the attributes of the `bridge.request`
event telemetry exports (`bridge.telemetry.export`):

    field                    what
    request_id, route        the request-id header; the route (messages, chat_completions, count_tokens, ...)
    model                    the model name the client asked for
    tier, deployment, api    the tier setting that chose the deployment (BIG_MODEL, ..., pass-through), the
                             deployment, and the upstream API (chat or responses); generation requests only
    client, agent            who sent it (`clients.client_of`: claude-code, cursor, sdk, other) and, for Claude
                             Code, whether its main conversation or a subagent did (main, subagent)
    stream, attempts         whether the client streams; how many upstream HTTP attempts it took
    status, error_type       the HTTP status; the error kind the client got (none when it succeeded)
    refused                  "budget" when the caller's budget refused it, "rate_limit" their rate limit
    latency_ms, ttft_ms      the whole request; until the first events came from upstream
    finish_reason            why the answer ended (end_turn, max_tokens, tool_use, stop_sequence, refusal)
    input_tokens, output_tokens, cache_read_input_tokens, reasoning_tokens
                             Azure's usage, once known, as Anthropic counts it: input not read from the
                             prompt cache, input read from it, output (reasoning included), reasoning
    usage_estimated          true when Azure's usage never came and the budget was charged an estimate
    cost_usd, cost_parts_usd what the request cost in US dollars, when its usage came and its deployment has
                             a price, and that cost by kind (input not cached, cached, output: the log line
                             only, an object the event leaves out)
    policy_tier              the tier MODEL_POLICY served the request with, when the caller asked for another
    managed_settings         whether the Claude Code session runs under the managed settings its person is served
                             (served, other, none: `bridge.gateway.managed_settings`); model requests only, when
                             the person has a managed policy or the session sent its settings' checksum
    user_id, user_name, auth, key_id, roles, groups
                             who called (`Caller.log_fields`): the Entra object id (or "shared-token" /
                             "anonymous"), the user principal name, how they signed in, the personal key, their
                             app roles and groups (comma-separated; groups "overage" when the token listed none)

In Application Insights the line is the `message` of a trace (from the Functions host), and the event a
row of `AppEvents` named `bridge.request` with these fields in `Properties`: the workbook reads the events.

The record of the request being served is in the context variable `CURRENT`, so the layers below the
handler (routing, the exchange, the upstream transport) note what they learn without passing it around:
each upstream HTTP attempt (`Attempt`: where, how it ended, what the exchange decided next), when the first
events came.  Nothing is noted per stream chunk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.model import Usage
from bridge.telemetry.clients import client_of

log = logging.getLogger(__name__)

MAX_FIELD_CHARS = 200
MAX_LIST_CHARS = 1000
LIST_FIELDS = frozenset({"roles", "groups"})


def quiet_azure_sdk_logs() -> None:
    """The Azure SDKs' loggers at WARNING: azure-core logs every identity call's headers at INFO, noise beside
    the bridge's own line per request.  Called by each entry point (`python -m bridge`, function_app.py)."""
    logging.getLogger("azure").setLevel(logging.WARNING)


def _capped(value: str | None, limit: int = MAX_FIELD_CHARS) -> str | None:
    return value if value is None or len(value) <= limit else value[:limit] + "…"


@dataclass(slots=True)
class Attempt:
    """One HTTP attempt upstream, as the exchange saw it (times are `time.monotonic()`)."""

    url: str
    started: float
    ended: float | None = None
    """When its status came (or it failed); None while its answer streams."""
    status: int | None = None
    error: str | None = None
    """Why it failed: the upstream's error code or status, or the transport failure (ClientConnectorError)."""
    next: str | None = None
    """What the exchange did about it (`bridge.upstreams.recovery`): adapt, switch_api, resend, retry_elsewhere,
    sign_in_again, fail; None when the pool moved on by itself (a 429 or 5xx, an endpoint out of reach)."""

    def answered(self, status: int) -> None:
        self.status = status
        if status != 200:
            self.ended, self.error = time.monotonic(), str(status)

    def failed(self, error: str) -> None:
        self.ended, self.error = time.monotonic(), error


@dataclass
class RequestLog:
    request_id: str
    route: str
    started: float = field(default_factory=time.monotonic)
    started_ns: int = field(default_factory=time.time_ns)
    """The same moment on the wall clock (span timestamps)."""
    ended: float | None = None
    model: str | None = None
    tier: str | None = None
    deployment: str | None = None
    api: str | None = None
    client: str = "other"
    agent: str = "main"
    stream: bool = False
    attempt_log: list[Attempt] = field(default_factory=list)
    first_events: float | None = None
    usage: Usage | None = None
    usage_estimated: bool = False
    """Azure's usage never came (a stream cut short, a call abandoned): the budget was charged an estimate."""
    cost_usd: float | None = None
    """What the request cost, when its usage came and its deployment has a price (`bridge.gateway.pricing`)."""
    cost_parts_usd: dict[str, float] | None = None
    """The cost by kind: input (not cached), cached, output."""
    costing: asyncio.Future[Any] | None = None
    """The cost still being worked out when the request ended (its deployment's price was being read: a new
    instance's first request to it); the record is written and exported once it is done (`emit`)."""
    policy_tier: str | None = None
    """The tier MODEL_POLICY served the request with, when the caller asked for another."""
    managed_settings: str | None = None
    """How the session's managed settings compare with its person's policy (served, other, none)."""
    finish_reason: str | None = None
    error_type: str | None = None
    refused: str | None = None
    caller: dict[str, str] = field(default_factory=dict)
    """Who called (`Caller.log_fields`): user_id, user_name, auth, key_id, roles, groups."""
    parent: object | None = None
    """The trace context the request arrived in (set only when telemetry exports: `Exporter.parent`)."""

    @property
    def attempts(self) -> int:
        return len(self.attempt_log)

    @property
    def latency_ms(self) -> float:
        ended = self.ended if self.ended is not None else time.monotonic()
        return round((ended - self.started) * 1000, 1)

    def fields(self, status: int) -> dict[str, object]:
        """The record as the log line and the exported event carry it (fields without a value left out)."""
        record: dict[str, object] = {
            "request_id": self.request_id,
            "route": self.route,
            "model": _capped(self.model),
            "deployment": _capped(self.deployment),
            "stream": self.stream,
            "attempts": self.attempts,
            "status": status,
            "error_type": self.error_type,
            "latency_ms": self.latency_ms,
            "client": self.client,
        }
        if self.tier is not None:
            record["tier"], record["api"], record["agent"] = self.tier, self.api, self.agent
        if self.first_events is not None:
            record["ttft_ms"] = round((self.first_events - self.started) * 1000, 1)
        if self.finish_reason is not None:
            record["finish_reason"] = self.finish_reason
        if self.refused is not None:
            record["refused"] = self.refused
        if self.usage is not None:
            record["input_tokens"] = self.usage.input_tokens
            record["output_tokens"] = self.usage.output_tokens
            record["cache_read_input_tokens"] = self.usage.cached_tokens
            record["reasoning_tokens"] = self.usage.reasoning_tokens
        if self.cost_usd is not None:
            record["cost_usd"] = self.cost_usd
            record["cost_parts_usd"] = self.cost_parts_usd
        if self.policy_tier is not None:
            record["policy_tier"] = self.policy_tier
        if self.managed_settings is not None:
            record["managed_settings"] = self.managed_settings
        if self.usage_estimated:
            record["usage_estimated"] = True
        record.update(
            {
                name: _capped(value, MAX_LIST_CHARS if name in LIST_FIELDS else MAX_FIELD_CHARS)
                for name, value in self.caller.items()
            }
        )
        return record

    def emit(self, status: int) -> None:
        """The request ended: write its line, and hand it to the telemetry when it exports; when its cost is still
        being worked out (`costing`), once it is done, in a task of its own (`COSTING_WAIT_SECONDS` at most: then
        without the cost), so no answer waits for it."""
        self.ended = time.monotonic()
        if self.costing is None or self.costing.done():
            self._write(status)
            return
        task = asyncio.get_running_loop().create_task(self._write_when_costed(self.costing, status))
        _writing.add(task)
        task.add_done_callback(_writing.discard)

    async def _write_when_costed(self, costing: asyncio.Future[Any], status: int) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(costing), COSTING_WAIT_SECONDS)
        except TimeoutError:
            log.warning("request %s: its cost was not known %g s after it ended", self.request_id, COSTING_WAIT_SECONDS)
        except Exception:
            pass  # the charge's own task logs why it failed; the record goes without its cost
        self._write(status)

    def _write(self, status: int) -> None:
        fields = self.fields(status)
        log.info(json.dumps(fields, separators=(",", ":")))
        if _exporter is not None:
            try:
                _exporter.export(self, status, fields)
            except Exception:
                log.exception("telemetry: exporting request %s failed", self.request_id)

    def start(self, headers: Mapping[str, str]) -> RequestLog:
        """Make this the record of the request being served (`headers`: the client's)."""
        self.client = client_of(headers)
        if _exporter is not None:
            self.parent = _exporter.parent(headers)
        CURRENT.set(self)
        return self


class Exporter(Protocol):
    """What the telemetry does with records (`bridge.telemetry.export.RequestTelemetry`); none unless configured."""

    def parent(self, headers: Mapping[str, str]) -> object:
        """The trace context a request arrives in."""
        ...

    def export(self, record: RequestLog, status: int, fields: dict[str, object]) -> None: ...


_exporter: Exporter | None = None
_writing: set[asyncio.Task[None]] = set()
"""Records waiting for their cost (kept here: the event loop holds its tasks weakly)."""
COSTING_WAIT_SECONDS = 5.0


async def written() -> None:
    """Wait for the records still waiting for their cost (at shutdown, once the usage counts are written)."""
    while _writing:
        await asyncio.wait(set(_writing))


def export_to(exporter: Exporter | None) -> None:
    """Records go to `exporter` from now on (None: to the log line only)."""
    global _exporter
    _exporter = exporter


CURRENT: ContextVar[RequestLog | None] = ContextVar("bridge_request_log", default=None)


def note_model(model: str) -> None:
    record = CURRENT.get()
    if record is not None:
        record.model = model


def note_route(deployment: str, tier: str, api: str) -> None:
    """Routing chose `deployment` (by the setting `tier`), called through `api`."""
    record = CURRENT.get()
    if record is not None:
        record.deployment, record.tier, record.api = deployment, tier, api


def note_api(api: str) -> None:
    """The exchange switched the request to the other upstream API."""
    record = CURRENT.get()
    if record is not None:
        record.api = api


def note_attempt(url: str) -> Attempt | None:
    """An upstream HTTP attempt starts: the one `note_status` and `note_next` then describe."""
    record = CURRENT.get()
    if record is None:
        return None
    attempt = Attempt(url, time.monotonic())
    record.attempt_log.append(attempt)
    return attempt


def note_next(decision: str, error: str | None) -> None:
    """The exchange decided what to do about the last attempt's failure (`error`)."""
    record = CURRENT.get()
    if record is not None and record.attempt_log:
        attempt = record.attempt_log[-1]
        attempt.next, attempt.ended = decision, attempt.ended or time.monotonic()
        attempt.error = error or attempt.error


def note_first_events() -> None:
    """The upstream's first events came: the exchange is open."""
    record = CURRENT.get()
    if record is not None:
        record.first_events = time.monotonic()
