"""A request's record in OpenTelemetry's terms: the GenAI semantic conventions, and the bridge's own `bridge.*`.

Pure functions from a `RequestLog` to attributes; `bridge.telemetry.export` sends them.  The conventions
(open-telemetry/semantic-conventions-genai, Development status) as the bridge fills them:

    attribute                               request span (SERVER)     attempt span (CLIENT)      metrics
    gen_ai.operation.name                   chat                      chat                       yes
    gen_ai.provider.name                    azure.ai.openai (openai for OPENAI_BASE_URL)         yes
    gen_ai.request.model                    the tier asked for        the deployment             yes (tier)
                                            (BIG_MODEL, ..., pass-through)
    gen_ai.response.model                   the deployment that served                           yes
    openai.api.type                         chat_completions or responses (the upstream API)     yes
    gen_ai.request.stream                   the client streams
    gen_ai.usage.input_tokens               input, cached included
    gen_ai.usage.output_tokens              output, reasoning included
    gen_ai.usage.cache_read.input_tokens    input read from the prompt cache
    gen_ai.usage.reasoning.output_tokens    reasoning
    gen_ai.response.finish_reasons          [the finish reason] (the bridge's: end_turn, max_tokens, tool_use, ...)
    gen_ai.response.time_to_first_chunk     seconds until the upstream's first events
    bridge.cost.usd                         the request's cost (when priced)
    error.type                              the error kind the client got; "budget" when the caller's budget
                                            refused it; an attempt's: the upstream's code or status     yes
    server.address, server.port             the upstream that served  the upstream tried
    http.route, http.response.status_code   the route, the status     the upstream's status
    bridge.request_id                       the request-id header (joins the span to the event and the line)
    bridge.client                           claude-code, cursor, sdk, other                      yes
    bridge.agent                            main or subagent (Claude Code's)                     yes
    bridge.attempt, bridge.attempt.next                               its number; what came next (a
                                                                      recovery decision, else failover
                                                                      to another endpoint or retry)

Metrics (`METRICS`): `gen_ai.client.token.usage` by `gen_ai.token.type`: `input` and `output` as the
convention defines them (billable totals: input includes the cached part, output the reasoning), and their
parts `cached_input` and `reasoning` (recorded when not zero): sum input and output for totals, never all
four; `gen_ai.client.operation.duration`; `gen_ai.client.operation.time_to_first_chunk` for requests the
client streams; `bridge.client.cost`, the request's cost in US dollars when its deployment has a price
(the conventions have no cost metric: the bridge's own name).  One record of a metric costs the SDK about
10 µs, so a request makes five to seven of them.
No person in any metric dimension (Azure Monitor's series limit; people are on the event only), and a
deployment dimension only for deployments that exist: a client naming an unknown one (pass-through) gets
`_OTHER`, so made-up names cannot create series.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from bridge.model import PASS_THROUGH
from bridge.telemetry.request_log import Attempt, RequestLog

OPERATION = "chat"
AZURE_PROVIDER = "azure.ai.openai"
OPENAI_PROVIDER = "openai"
API_TYPES = {"chat": "chat_completions", "responses": "responses"}
OTHER = "_OTHER"
PASS_THROUGH_TIER = "pass-through"
BUDGET_REFUSAL = "budget"
EVENT_NAME = "bridge.request"

TOKEN_USAGE = "gen_ai.client.token.usage"
DURATION = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
COST = "bridge.client.cost"
TOKEN_TYPES = ("input", "output", "cached_input", "reasoning")
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
USD_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
HISTOGRAMS: dict[str, tuple[str, str, tuple[float, ...]]] = {
    TOKEN_USAGE: (
        "{token}",
        "Tokens a request used, by type: input (cached included), output (reasoning included), and the parts "
        "cached_input and reasoning",
        TOKEN_BUCKETS,
    ),
    DURATION: ("s", "Duration of a request, from its arrival to its last byte", SECONDS_BUCKETS),
    TIME_TO_FIRST_CHUNK: ("s", "Time from a request's arrival to the upstream's first events", SECONDS_BUCKETS),
    COST: ("USD", "What a request cost at its deployment's price, in US dollars (priced requests only)", USD_BUCKETS),
}
"""Each metric (all histograms): its unit, description and bucket boundaries."""
METRICS = tuple(HISTOGRAMS)

METRIC_DIMENSIONS = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "openai.api.type",
        "bridge.client",
        "bridge.agent",
        "error.type",
        "gen_ai.token.type",
    }
)
"""Every attribute a metric may carry: none names a person."""

Attributes = dict[str, str | bool | int | float | list[str]]


@dataclass(frozen=True, slots=True)
class Upstream:
    """What an attempt's URL tells: the provider, the upstream API, the server."""

    provider: str
    api: str
    address: str
    port: int


@lru_cache(maxsize=256)
def upstream_of(url: str) -> Upstream:
    """Azure's paths all start with /openai/ (v1 and deployments alike); an OpenAI-compatible server's do not."""
    parts = urlsplit(url)
    provider = AZURE_PROVIDER if parts.path.startswith("/openai/") else OPENAI_PROVIDER
    api = API_TYPES["responses"] if parts.path.rstrip("/").endswith("/responses") else API_TYPES["chat"]
    return Upstream(provider, api, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def is_generation(record: RequestLog) -> bool:
    """A request routing sent to a deployment (messages, chat completions); count_tokens, models, keys are not."""
    return record.tier is not None


def error_type(record: RequestLog) -> str | None:
    return record.refused if record.refused is not None else record.error_type


def tier_of(record: RequestLog) -> str:
    return PASS_THROUGH_TIER if record.tier in (None, PASS_THROUGH) else str(record.tier)


def served(record: RequestLog) -> bool:
    """An upstream answered the request with a 200."""
    return any(attempt.status == 200 for attempt in record.attempt_log)


def deployment_dimension(record: RequestLog) -> str:
    """The deployment, unless a client named it (pass-through) and no upstream knew it."""
    if record.deployment is None or (record.tier == PASS_THROUGH and not served(record)):
        return OTHER
    return record.deployment


def _provider(record: RequestLog) -> str:
    return upstream_of(record.attempt_log[-1].url).provider if record.attempt_log else AZURE_PROVIDER


def metric_attributes(record: RequestLog) -> dict[str, str]:
    """The dimensions every metric of a generation request carries."""
    attributes = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": _provider(record),
        "gen_ai.request.model": tier_of(record),
        "gen_ai.response.model": deployment_dimension(record),
        "openai.api.type": API_TYPES.get(record.api or "", OTHER),
        "bridge.client": record.client,
        "bridge.agent": record.agent,
    }
    error = error_type(record)
    if error is not None:
        attributes["error.type"] = error
    return attributes


def span_name(record: RequestLog) -> str:
    return f"{OPERATION} {tier_of(record)}" if is_generation(record) else record.route


def request_attributes(record: RequestLog, status: int) -> Attributes:
    """The request span's attributes."""
    attributes: Attributes = {
        "http.route": record.route,
        "http.response.status_code": status,
        "bridge.request_id": record.request_id,
        "bridge.client": record.client,
    }
    error = error_type(record)
    if error is not None:
        attributes["error.type"] = error
    if not is_generation(record):
        return attributes
    attributes.update(metric_attributes(record))
    attributes["gen_ai.response.model"] = record.deployment or OTHER
    attributes["gen_ai.request.stream"] = record.stream
    attributes["bridge.attempts"] = record.attempts
    if record.attempt_log:
        upstream = upstream_of(record.attempt_log[-1].url)
        attributes["server.address"], attributes["server.port"] = upstream.address, upstream.port
    if record.first_events is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = round(record.first_events - record.started, 6)
    if record.finish_reason is not None:
        attributes["gen_ai.response.finish_reasons"] = [record.finish_reason]
    if record.cost_usd is not None:
        attributes["bridge.cost.usd"] = record.cost_usd
    usage = record.usage
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens + usage.cached_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    return attributes


def attempt_next(record: RequestLog, number: int) -> str | None:
    """What followed attempt `number` (0-based): the exchange's decision, else the pool's own move."""
    attempts = record.attempt_log
    attempt = attempts[number]
    if attempt.next is not None or number + 1 == len(attempts):
        return attempt.next
    following, this = upstream_of(attempts[number + 1].url), upstream_of(attempt.url)
    return "failover" if (following.address, following.port) != (this.address, this.port) else "retry"


def attempt_attributes(record: RequestLog, number: int) -> Attributes:
    attempt: Attempt = record.attempt_log[number]
    upstream = upstream_of(attempt.url)
    attributes: Attributes = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": upstream.provider,
        "gen_ai.request.model": record.deployment or OTHER,
        "openai.api.type": upstream.api,
        "server.address": upstream.address,
        "server.port": upstream.port,
        "bridge.attempt": number + 1,
    }
    if attempt.status is not None:
        attributes["http.response.status_code"] = attempt.status
    if attempt.error is not None:
        attributes["error.type"] = attempt.error
    following = attempt_next(record, number)
    if following is not None:
        attributes["bridge.attempt.next"] = following
    return attributes


def event_attributes(fields: dict[str, object]) -> Attributes:
    """The per-request event's attributes: the log line's fields (those with a value)."""
    return {name: value for name, value in fields.items() if isinstance(value, str | bool | int | float)}
