"""What the bridge exports, caught by the OpenTelemetry SDK's in-memory exporters.

The bridge runs in this process (its Starlette app through httpx's ASGI transport, in front of the fake
Azure and the fake Entra ID), with `bridge.telemetry.setup.use` pointing it at in-memory span, metric and
log exporters.  Each request is checked for its spans (a SERVER span with the GenAI attributes, a CLIENT
span per upstream attempt), its metrics (dimensions from `conventions.METRIC_DIMENSIONS` only: no person)
and its `bridge.request` event (the person is there); a streamed and a non-streamed request on each front,
a retried one, a failed one and a budget refusal; and nowhere in anything exported is there the prompt,
the answer, or a token or key.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bridge.app import create_app
from bridge.config.load import load_settings
from bridge.gateway.pricing import book
from bridge.gateway.pricing.book import Unresolved
from bridge.gateway.pricing.price import MICROS_PER_USD, Price
from bridge.gateway.pricing.table import table_price
from bridge.gateway.settings import load_gateway_settings
from bridge.http import close_session
from bridge.model import Usage
from bridge.serving import process
from bridge.telemetry import conventions, request_log, setup
from bridge.telemetry.pipeline import assemble
from bridge.telemetry.request_log import RequestLog
from tests.support.fake_azure import Error, FakeAzure, Text
from tests.support.fake_entra import ALICE, FakeEntra

pytestmark = pytest.mark.anyio

PROMPT = "Summarise the quarterly numbers of Project Nightingale for the board"
ANSWER = "The quarterly numbers of Project Nightingale rose by eleven percent."
RATE_LIMITED = Error(429, {"error": {"code": "429", "message": "Rate limit is exceeded."}}, {"retry-after-ms": "10"})
REFUSED = Error(400, {"error": {"code": "invalid_value", "message": "Invalid 'messages[1].content'", "param": "messages"}})
CLAUDE_CODE = {"user-agent": "claude-cli/2.1.332 (external, sdk-cli)", "x-app": "cli", "anthropic-version": "2023-06-01"}


@dataclass
class Exported:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def finished(self) -> Sequence[ReadableSpan]:
        return self.spans.get_finished_spans()

    def events(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())

    def points(self) -> list[tuple[str, dict[str, Any], Any]]:
        """Every metric data point: (metric name, attributes, point)."""
        data = self.metrics.get_metrics_data()
        if data is None:
            return []
        return [
            (metric.name, dict(point.attributes or {}), point)
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            for point in metric.data.data_points
        ]

    def everything(self) -> str:
        """All of it as text: span names, attributes, events and resources; log bodies and attributes; metrics."""
        parts: list[Any] = []
        for span in self.finished():
            parts += [span.name, dict(span.attributes or {}), [dict(e.attributes or {}) for e in span.events]]
            parts.append(dict(span.resource.attributes))
        for log in self.events():
            parts += [log.log_record.body, dict(log.log_record.attributes or {})]
        parts += [(name, attributes) for name, attributes, _ in self.points()]
        return json.dumps(parts, default=str)


@pytest.fixture
def exported() -> Iterator[Exported]:
    spans, metrics, logs = InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
    telemetry = assemble([SimpleSpanProcessor(spans)], [metrics], [SimpleLogRecordProcessor(logs)])
    setup.use(telemetry)
    yield Exported(spans, metrics, logs)
    setup.use(None)
    telemetry.shutdown()


@pytest.fixture
def settings(fake_azure: FakeAzure, entra: FakeEntra) -> dict[str, str]:
    return {
        "AZURE_OPENAI_ENDPOINT": str(fake_azure.url),
        "AZURE_OPENAI_API_KEY": fake_azure.api_key,
        "BIG_MODEL": "gpt-5",
        "MIDDLE_MODEL": "gpt-5",
        "SMALL_MODEL": "gpt-4o",
        "BIG_MODEL_API": "chat",
        "SMALL_MODEL_API": "chat",
        "REQUEST_TIMEOUT": "20",
        **entra.bridge_settings(),
    }


@dataclass
class Bridge:
    client: httpx.AsyncClient
    token: str

    async def messages(self, stream: bool = False, model: str = "claude-opus-4-8", **headers: str) -> httpx.Response:
        """A Messages call, answered and its record exported."""
        response = await self.answered(stream, model, **headers)
        await request_log.written()
        return response

    async def answered(self, stream: bool = False, model: str = "claude-opus-4-8", **headers: str) -> httpx.Response:
        """A Messages call, answered (its record may still wait for its cost)."""
        body = {"model": model, "max_tokens": 200, "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}
        sent = {**CLAUDE_CODE, "authorization": f"Bearer {self.token}", **headers}
        return await self.client.post("/v1/messages", json=body, headers=sent)

    async def chat(self, stream: bool = False) -> httpx.Response:
        body = {"model": "gpt-5", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}
        headers = {"authorization": f"Bearer {self.token}", "user-agent": "Cursor/2.1", "content-type": "application/json"}
        response = await self.client.post("/v1/chat/completions", json=body, headers=headers)
        await request_log.written()
        return response


@pytest.fixture
async def bridge(
    settings: dict[str, str], entra: FakeEntra, monkeypatch: pytest.MonkeyPatch, exported: Exported
) -> AsyncIterator[Bridge]:
    async with serving(settings, entra, monkeypatch) as running:
        exported.spans.clear()  # the pipeline is in place before the bridge serves
        yield running


class serving:
    """The bridge with `env`, in this process, for one test."""

    def __init__(self, env: Mapping[str, str], entra: FakeEntra, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bridge = process.Bridge(load_settings(env), load_gateway_settings(env))
        monkeypatch.setattr(process, "_bridge", self.bridge)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://bridge", timeout=30)
        self.token = entra.token(ALICE)

    async def __aenter__(self) -> Bridge:
        return Bridge(self.client, self.token)

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()
        if "gateway" in vars(self.bridge):
            await self.bridge.gateway.aclose()
        await close_session()


def request_span(exported: Exported) -> ReadableSpan:
    (span,) = [span for span in exported.finished() if span.kind == SpanKind.SERVER]
    return span


def attempt_spans(exported: Exported) -> list[ReadableSpan]:
    server = request_span(exported)
    children = [span for span in exported.finished() if span.kind == SpanKind.CLIENT]
    assert all(span.parent is not None and span.parent.span_id == server.context.span_id for span in children)
    assert all(span.context.trace_id == server.context.trace_id for span in children)
    return sorted(children, key=lambda span: span.start_time or 0)


def event(exported: Exported) -> dict[str, Any]:
    (record,) = exported.events()
    assert record.log_record.event_name == conventions.EVENT_NAME and record.log_record.body == conventions.EVENT_NAME
    span = request_span(exported)
    assert record.log_record.trace_id == span.context.trace_id, "the event is in the request's trace"
    attributes = dict(record.log_record.attributes or {})
    assert attributes.pop("microsoft.custom_event.name") == conventions.EVENT_NAME
    return attributes


def metric(exported: Exported, name: str, **attributes: str) -> list[Any]:
    return [
        point
        for found, point_attributes, point in exported.points()
        if found == name and attributes.items() <= point_attributes.items()
    ]


def assert_nothing_personal_in_metrics(exported: Exported) -> None:
    for name, attributes, _ in exported.points():
        assert set(attributes) <= conventions.METRIC_DIMENSIONS, (name, attributes)
        values = " ".join(map(str, attributes.values()))
        assert ALICE.object_id not in values and ALICE.username not in values, (name, attributes)


def assert_nothing_secret(exported: Exported, bridge: Bridge, fake_azure: FakeAzure) -> None:
    text = exported.everything()
    for secret in (PROMPT, "Project Nightingale", ANSWER, bridge.token, fake_azure.api_key, bridge.token.split(".")[2]):
        assert secret not in text, f"exported telemetry holds {secret[:24]!r}"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_anthropic_request(bridge: Bridge, exported: Exported, fake_azure: FakeAzure, stream: bool) -> None:
    fake_azure.enqueue(Text(ANSWER, cached_tokens=3))
    response = await bridge.messages(stream, **{"x-claude-code-agent-id": "agent-7"})
    assert response.status_code == 200, response.text
    span = request_span(exported)
    assert span.name == "chat BIG_MODEL" and span.status.status_code != StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat" and attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert attributes["gen_ai.request.model"] == "BIG_MODEL" and attributes["gen_ai.response.model"] == "gpt-5"
    assert attributes["openai.api.type"] == "chat_completions" and attributes["gen_ai.request.stream"] is stream
    assert attributes["bridge.client"] == "claude-code" and attributes["bridge.agent"] == "subagent"
    assert attributes["bridge.request_id"] == response.headers["request-id"] and attributes["http.response.status_code"] == 200
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert attributes["gen_ai.usage.input_tokens"] > 3 and attributes["gen_ai.usage.output_tokens"] > 0
    assert "error.type" not in attributes
    (attempt,) = attempt_spans(exported)
    assert attempt.name == "chat gpt-5" and dict(attempt.attributes or {})["http.response.status_code"] == 200
    assert (attempt.start_time or 0) >= (span.start_time or 0) and (attempt.end_time or 0) <= (span.end_time or 0)

    fields = event(exported)
    assert fields["request_id"] == response.headers["request-id"] and fields["status"] == 200
    assert fields["user_id"] == ALICE.object_id and fields["user_name"] == ALICE.username
    assert fields["roles"] == ",".join(sorted(ALICE.roles)) and fields["tier"] == "BIG_MODEL" and fields["agent"] == "subagent"
    assert fields["cache_read_input_tokens"] == 3 and fields["finish_reason"] == "end_turn" and fields["client"] == "claude-code"
    assert isinstance(fields["ttft_ms"], float) and fields["ttft_ms"] <= fields["latency_ms"]

    dimensions = {"gen_ai.request.model": "BIG_MODEL", "gen_ai.response.model": "gpt-5", "bridge.agent": "subagent"}
    (used_input,) = metric(exported, conventions.TOKEN_USAGE, **dimensions, **{"gen_ai.token.type": "input"})
    assert used_input.sum == attributes["gen_ai.usage.input_tokens"]
    (cached,) = metric(exported, conventions.TOKEN_USAGE, **dimensions, **{"gen_ai.token.type": "cached_input"})
    assert cached.sum == 3
    assert not metric(exported, conventions.TOKEN_USAGE, **{"gen_ai.token.type": "reasoning"}), "no reasoning, no record"
    assert metric(exported, conventions.DURATION, **dimensions)
    assert bool(metric(exported, conventions.TIME_TO_FIRST_CHUNK)) is stream, "time to first chunk: streamed calls only"
    assert_nothing_personal_in_metrics(exported)
    assert_nothing_secret(exported, bridge, fake_azure)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_openai_request(bridge: Bridge, exported: Exported, fake_azure: FakeAzure, stream: bool) -> None:
    fake_azure.enqueue(Text(ANSWER))
    response = await bridge.chat(stream)
    assert response.status_code == 200, response.text
    span = request_span(exported)
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "chat_completions" and attributes["bridge.client"] == "cursor"
    assert attributes["gen_ai.response.model"] == "gpt-5" and attributes["gen_ai.usage.output_tokens"] > 0
    assert len(attempt_spans(exported)) == 1
    fields = event(exported)
    assert fields["route"] == "chat_completions" and fields["user_name"] == ALICE.username and fields["stream"] is stream
    assert metric(exported, conventions.TOKEN_USAGE, **{"bridge.client": "cursor", "gen_ai.token.type": "output"})
    assert_nothing_personal_in_metrics(exported)
    assert_nothing_secret(exported, bridge, fake_azure)


async def test_a_retried_request_shows_each_attempt(bridge: Bridge, exported: Exported, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(RATE_LIMITED, Text(ANSWER))
    response = await bridge.messages()
    assert response.status_code == 200, response.text
    first, second = attempt_spans(exported)
    assert dict(first.attributes or {})["http.response.status_code"] == 429 and first.status.status_code == StatusCode.ERROR
    assert dict(first.attributes or {})["error.type"] == "429" and dict(first.attributes or {})["bridge.attempt.next"] == "retry"
    assert dict(second.attributes or {})["http.response.status_code"] == 200 and (first.end_time or 0) <= (second.start_time or 0)
    assert dict(request_span(exported).attributes or {})["bridge.attempts"] == 2
    assert event(exported)["attempts"] == 2


async def test_a_failover_and_an_api_switch_show(
    settings: dict[str, str], entra: FakeEntra, monkeypatch: pytest.MonkeyPatch, exported: Exported, fake_azure: FakeAzure
) -> None:
    """Two endpoints (the same fake under two names): a 429 moves the request to the other one."""
    other = str(fake_azure.url).replace("127.0.0.1", "localhost")
    env = {**settings, "AZURE_OPENAI_ENDPOINT_2": other, "AZURE_OPENAI_API_KEY_2": fake_azure.api_key}
    fake_azure.enqueue(Error(429, {"error": {"code": "429", "message": "Rate limit is exceeded."}}, {"retry-after": "20"}))
    fake_azure.enqueue(Text(ANSWER))
    async with serving(env, entra, monkeypatch) as bridge:
        response = await bridge.messages()
    assert response.status_code == 200, response.text
    first, second = attempt_spans(exported)
    assert dict(first.attributes or {})["bridge.attempt.next"] == "failover"
    assert dict(first.attributes or {})["server.address"] != dict(second.attributes or {})["server.address"]


async def test_a_failed_request(bridge: Bridge, exported: Exported, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(REFUSED)
    response = await bridge.messages()
    assert response.status_code == 400
    span = request_span(exported)
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "invalid_request_error"
    (attempt,) = attempt_spans(exported)
    attributes = dict(attempt.attributes or {})
    assert attributes["error.type"] == "invalid_value" and attributes["bridge.attempt.next"] == "fail"
    assert event(exported)["error_type"] == "invalid_request_error"
    assert metric(exported, conventions.DURATION, **{"error.type": "invalid_request_error"})
    assert not metric(exported, conventions.TOKEN_USAGE), "no usage, no token metric"
    assert_nothing_secret(exported, bridge, fake_azure)


@pytest.mark.parametrize(
    ("limit", "refused_as"),
    [
        ({"BUDGET_DAILY_TOKENS": "1"}, "budget"),
        ({"BUDGET_DAILY_USD": "0.000001"}, "budget"),
        ({"RATE_LIMIT_REQUESTS_PER_MINUTE": "1"}, "rate_limit"),
    ],
    ids=["token budget", "dollar budget (billing_error)", "rate limit"],
)
async def test_a_refusal_at_admission(
    settings: dict[str, str],
    entra: FakeEntra,
    monkeypatch: pytest.MonkeyPatch,
    exported: Exported,
    fake_azure: FakeAzure,
    limit: dict[str, str],
    refused_as: str,
) -> None:
    fake_azure.enqueue(Text(ANSWER))
    async with serving({**settings, **limit}, entra, monkeypatch) as bridge:
        assert (await bridge.messages()).status_code == 200
        for _ in range(100):  # the first request's usage is settled in the background
            refused = await bridge.messages()
            if refused.status_code == 429:
                break
            await asyncio.sleep(0.02)
    assert refused.status_code == 429, refused.text
    spans = [span for span in exported.finished() if span.kind == SpanKind.SERVER]
    last = spans[-1]
    assert dict(last.attributes or {})["error.type"] == refused_as and last.status.status_code == StatusCode.ERROR
    assert not [span for span in exported.finished() if span.parent and span.parent.span_id == last.context.span_id]
    fields = dict(exported.events()[-1].log_record.attributes or {})
    assert fields["refused"] == refused_as and fields["user_id"] == ALICE.object_id and fields["status"] == 429
    assert metric(exported, conventions.DURATION, **{"error.type": refused_as})
    assert_nothing_personal_in_metrics(exported)


async def test_an_unknown_deployment_makes_no_metric_series(bridge: Bridge, exported: Exported) -> None:
    """A model name that is no tier passes through as a deployment name; if no upstream has it, the metrics say
    `_OTHER`, so made-up names cannot multiply series."""
    response = await bridge.messages(model="made-up-deployment-8f3a")
    assert response.status_code == 404, response.text
    assert {attributes["gen_ai.response.model"] for _, attributes, _ in exported.points()} == {conventions.OTHER}
    assert dict(request_span(exported).attributes or {})["gen_ai.request.model"] == conventions.PASS_THROUGH_TIER


async def test_a_request_in_a_trace_continues_it(bridge: Bridge, exported: Exported, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text(ANSWER))
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await bridge.messages(traceparent=f"00-{trace_id}-{parent_id}-01")
    assert response.status_code == 200
    span = request_span(exported)
    assert f"{span.context.trace_id:032x}" == trace_id and span.parent is not None and f"{span.parent.span_id:016x}" == parent_id


async def test_a_route_the_bridge_answers_itself(bridge: Bridge, exported: Exported) -> None:
    response = await bridge.client.get("/v1/models", headers={"authorization": f"Bearer {bridge.token}"})
    assert response.status_code == 200
    span = request_span(exported)
    assert span.name == "models" and "gen_ai.operation.name" not in dict(span.attributes or {})
    assert event(exported)["route"] == "models" and not exported.points()


def test_a_priced_request_exports_its_cost(exported: Exported) -> None:
    """The cost the gateway put on the record: on the span, the event, and the cost metric (no person in it)."""
    record = RequestLog("req_priced", "messages", model="claude-opus-4-8", stream=True)
    record.tier, record.deployment, record.api, record.client = "BIG_MODEL", "gpt-5", "chat", "claude-code"
    record.usage, record.cost_usd = Usage(input_tokens=1000, output_tokens=100, cached_tokens=4000), 0.00325
    record.caller = {"user_id": ALICE.object_id, "user_name": ALICE.username, "auth": "entra"}
    record.emit(200)
    assert dict(request_span(exported).attributes or {})["bridge.cost.usd"] == 0.00325
    assert event(exported)["cost_usd"] == 0.00325
    (cost,) = metric(exported, conventions.COST, **{"gen_ai.response.model": "gpt-5", "bridge.client": "claude-code"})
    assert cost.sum == 0.00325 and cost.count == 1
    assert_nothing_personal_in_metrics(exported)


async def test_the_gateways_cost_reaches_the_span_the_event_and_the_metric(
    bridge: Bridge, exported: Exported, fake_azure: FakeAzure
) -> None:
    """A request to a priced deployment (gpt-5, genai-prices' table) once its price is known: the cost issue 20's
    gateway puts on the record is what telemetry exports."""
    assert await process.current_bridge().prices.price("gpt-5") is not None
    fake_azure.enqueue(Text(ANSWER, cached_tokens=3))
    response = await bridge.messages(stream=True)
    assert response.status_code == 200, response.text
    cost = event(exported)["cost_usd"]
    assert isinstance(cost, float) and 0 < cost < 0.01
    assert dict(request_span(exported).attributes or {})["bridge.cost.usd"] == cost
    (point,) = metric(exported, conventions.COST, **{"gen_ai.response.model": "gpt-5"})
    assert point.sum == cost
    assert_nothing_personal_in_metrics(exported)


class PriceLookupHeld:
    """The price table's lookup held until `release`: a fresh bridge's price still being read when its first
    request ends (a cold instance reads genai-prices in a worker thread while the first request runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.released = threading.Event()
        monkeypatch.setattr(book, "table_price", self._held)

    def _held(self, model: str, at: datetime | None = None) -> Price | None:
        self.released.wait(10)
        return table_price(model, at)

    def release(self) -> None:
        self.released.set()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_fresh_bridges_first_priced_request_exports_its_cost(
    bridge: Bridge, exported: Exported, fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    """The first request to a deployment on a new instance ends before its price is read: its record waits for the
    price, so the span, the event and the cost metric carry the cost the usage table is charged (one value)."""
    lookup = PriceLookupHeld(monkeypatch)
    fake_azure.enqueue(Text(ANSWER, cached_tokens=3))
    response = await bridge.answered(stream=stream)
    assert response.status_code == 200, response.text
    prices = process.current_bridge().prices
    assert isinstance(prices.known("gpt-5"), Unresolved), "the request ended before its price was known"
    lookup.release()
    await request_log.written()
    cost = event(exported)["cost_usd"]
    assert isinstance(cost, float) and 0 < cost < 0.01
    assert dict(request_span(exported).attributes or {})["bridge.cost.usd"] == cost
    (point,) = metric(exported, conventions.COST, **{"gen_ai.response.model": "gpt-5"})
    assert point.sum == cost and point.count == 1
    _, _, rows = await process.current_bridge().gateway.budget.usage(ALICE.object_id)
    assert sum(row.counts.micros for row in rows) == round(cost * MICROS_PER_USD), "the usage table's charge"
    assert_nothing_personal_in_metrics(exported)


async def test_a_record_waits_for_its_cost_a_bounded_time(
    bridge: Bridge, exported: Exported, fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A price read that hangs holds the record `COSTING_WAIT_SECONDS` at most: then it is exported without a cost,
    and the usage table is still charged once the price comes."""
    monkeypatch.setattr(request_log, "COSTING_WAIT_SECONDS", 0.05)
    lookup = PriceLookupHeld(monkeypatch)
    fake_azure.enqueue(Text(ANSWER))
    assert (await bridge.answered(stream=True)).status_code == 200
    await request_log.written()
    assert "cost_usd" not in event(exported) and "bridge.cost.usd" not in dict(request_span(exported).attributes or {})
    assert not metric(exported, conventions.COST)
    lookup.release()
    _, _, rows = await process.current_bridge().gateway.budget.usage(ALICE.object_id)
    assert sum(row.counts.micros for row in rows) > 0
