"""Each finished request, once, into OpenTelemetry: its spans, its GenAI metrics and its `bridge.request` event.

All of it happens when the request ends (`RequestLog.emit`), from what the record noted on the way:

    request span    SERVER, "chat BIG_MODEL" (a generation) or the route's name; from the request's start
                    to its end (a stream's last byte); a child of the trace it arrived in (the Functions
                    host's, or the client's `traceparent`)
    attempt spans   CLIENT, "chat <deployment>", one per upstream HTTP attempt, children of the request
                    span: retries, failovers and API switches show as siblings (`bridge.attempt.next`)
    metrics         `conventions.METRICS`, generation requests only
    event           a log record named `bridge.request` (`microsoft.custom_event.name`, so Azure Monitor
                    makes it a custom event: AppEvents) with the record's fields, in the request span's trace

Spans are made after the fact with the times noted, so nothing of this runs while a request is served, and
nothing per stream chunk.  Attributes come from `bridge.telemetry.conventions`; never prompt text.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.metrics import Meter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from bridge.telemetry import conventions
from bridge.telemetry.request_log import RequestLog

CUSTOM_EVENT_NAME = "microsoft.custom_event.name"
PROPAGATOR = TraceContextTextMapPropagator()


def custom_event(
    logger: Logger,
    name: str,
    attributes: Mapping[str, AttributeValue],
    context: context_api.Context | None = None,
    timestamp: int | None = None,
) -> None:
    """A log record Azure Monitor makes a custom event named `name` (`microsoft.custom_event.name`: AppEvents)."""
    logger.emit(
        timestamp=timestamp,
        context=context,
        severity_number=SeverityNumber.INFO,
        body=name,
        attributes={**attributes, CUSTOM_EVENT_NAME: name},
        event_name=name,
    )


def _ns(record: RequestLog, moment: float) -> int:
    """A `time.monotonic()` moment of `record` on the wall clock, in nanoseconds."""
    return record.started_ns + int((moment - record.started) * 1e9)


class RequestTelemetry:
    """The request exporter (`request_log.Exporter`) over a tracer, a meter and a logger."""

    def __init__(self, tracer: Tracer, meter: Meter, logger: Logger) -> None:
        self._tracer = tracer
        self._logger = logger
        made = {
            name: meter.create_histogram(name, unit, description, explicit_bucket_boundaries_advisory=buckets)
            for name, (unit, description, buckets) in conventions.HISTOGRAMS.items()
        }
        self._tokens, self._duration = made[conventions.TOKEN_USAGE], made[conventions.DURATION]
        self._first_chunk, self._cost = made[conventions.TIME_TO_FIRST_CHUNK], made[conventions.COST]

    def parent(self, headers: Mapping[str, str]) -> object:
        """The context the request arrived in: the current one when it holds a span (the Functions worker's,
        with PYTHON_ENABLE_OPENTELEMETRY), else the client's `traceparent` header, if any."""
        current = context_api.get_current()
        if trace.get_current_span(current).get_span_context().is_valid or "traceparent" not in headers:
            return current
        return PROPAGATOR.extract({"traceparent": headers["traceparent"], "tracestate": headers.get("tracestate", "")})

    def export(self, record: RequestLog, status: int, fields: dict[str, object]) -> None:
        ended = record.ended if record.ended is not None else record.started
        parent = record.parent if isinstance(record.parent, context_api.Context) else None
        span = self._tracer.start_span(
            conventions.span_name(record),
            parent,
            SpanKind.SERVER,
            conventions.request_attributes(record, status),
            start_time=record.started_ns,
        )
        if conventions.error_type(record) is not None or status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        within = trace.set_span_in_context(span, parent)
        self._attempts(record, within, ended)
        if conventions.is_generation(record):
            self._measure(record)
        custom_event(self._logger, conventions.EVENT_NAME, conventions.event_attributes(fields), within, _ns(record, ended))
        span.end(end_time=_ns(record, ended))

    def _attempts(self, record: RequestLog, within: context_api.Context, ended: float) -> None:
        attempts = record.attempt_log
        for number, attempt in enumerate(attempts):
            last = number + 1 == len(attempts)
            until = attempt.ended if attempt.ended is not None else (ended if last else attempts[number + 1].started)
            child = self._tracer.start_span(
                f"{conventions.OPERATION} {record.deployment}",
                within,
                SpanKind.CLIENT,
                conventions.attempt_attributes(record, number),
                start_time=_ns(record, attempt.started),
            )
            if attempt.error is not None:
                child.set_status(Status(StatusCode.ERROR))
            child.end(end_time=_ns(record, until))

    def _measure(self, record: RequestLog) -> None:
        dimensions = conventions.metric_attributes(record)
        ended = record.ended if record.ended is not None else record.started
        self._duration.record(ended - record.started, dimensions)
        if record.first_events is not None and record.stream:
            self._first_chunk.record(record.first_events - record.started, dimensions)
        if record.cost_usd is not None:
            self._cost.record(record.cost_usd, dimensions)
        usage = record.usage
        if usage is None:
            return
        for kind, tokens in (
            ("input", usage.input_tokens + usage.cached_tokens),
            ("output", usage.output_tokens),
            ("cached_input", usage.cached_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if tokens or kind in ("input", "output"):
                self._tokens.record(tokens, {**dimensions, "gen_ai.token.type": kind})
