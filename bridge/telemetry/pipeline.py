"""The OpenTelemetry SDK's providers for the bridge, and the exporters behind them (imported only when configured).

    signal    provider          processing                                  exporters
    traces    TracerProvider    BatchSpanProcessor (5 s, 512 a batch)       Azure Monitor (deferred), OTLP
    metrics   MeterProvider     PeriodicExportingMetricReader (60 s)        Azure Monitor (deferred; delta),
                                                                            OTLP (its temporality setting)
    logs      LoggerProvider    BatchLogRecordProcessor                     Azure Monitor (deferred), OTLP

The providers are the bridge's own, not the global ones: the bridge's spans, metrics and events are exactly
what `bridge.telemetry.export` makes, whatever other library in the process would instrument itself.
Resource: `service.name` is the Function App's name in Azure (WEBSITE_SITE_NAME, the cloud role name the
Functions host reports too), else claude-azure-bridge; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
override, as OpenTelemetry specifies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from bridge import VERSION
from bridge.telemetry.deferred import (
    AZURE_MONITOR_TEMPORALITY,
    DeferredLogExporter,
    DeferredMetricExporter,
    DeferredSpanExporter,
    Later,
)
from bridge.telemetry.destinations import Destinations
from bridge.telemetry.export import RequestTelemetry, custom_event

SCOPE = "claude-azure-bridge"
SERVICE = "claude-azure-bridge"


def resource() -> Resource:
    name = os.environ.get("WEBSITE_SITE_NAME") or SERVICE
    return Resource.create({"service.name": name, "service.version": VERSION})


@dataclass
class Telemetry:
    """The process's providers, and the exporter of its request records."""

    tracers: TracerProvider
    meters: MeterProvider
    loggers: LoggerProvider
    requests: RequestTelemetry = field(init=False)

    def __post_init__(self) -> None:
        self.requests = RequestTelemetry(
            self.tracers.get_tracer(SCOPE, VERSION),
            self.meters.get_meter(SCOPE, VERSION),
            self.loggers.get_logger(SCOPE, VERSION),
        )

    def event(self, name: str, attributes: dict[str, str | int | float | bool]) -> None:
        """A custom event of the bridge's own (`bridge.reconcile`): a row of AppEvents in Application Insights."""
        custom_event(self.loggers.get_logger(SCOPE, VERSION), name, attributes)

    def flush(self, timeout_millis: int = 10_000) -> None:
        """Export what is pending now (the end of a CLI run, a timer invocation)."""
        self.tracers.force_flush(timeout_millis)
        self.meters.force_flush(timeout_millis)
        self.loggers.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.tracers.shutdown()
        self.meters.shutdown()
        self.loggers.shutdown()


def assemble(
    spans: list[SpanProcessor], readers: list[MetricReader], logs: list[LogRecordProcessor], at_exit: bool = False
) -> Telemetry:
    """Providers over these processors and readers (the tests' in-memory ones, or `build`'s); `at_exit`: they
    export what is pending when the process exits."""
    made = resource()
    tracers = TracerProvider(resource=made, shutdown_on_exit=at_exit)
    for processor in spans:
        tracers.add_span_processor(processor)
    loggers = LoggerProvider(resource=made, shutdown_on_exit=at_exit)
    for log_processor in logs:
        loggers.add_log_record_processor(log_processor)
    return Telemetry(tracers, MeterProvider(readers, resource=made, shutdown_on_exit=at_exit), loggers)


def _azure_monitor_traces(connection_string: str) -> SpanExporter:
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

    return AzureMonitorTraceExporter(connection_string=connection_string)


def _azure_monitor_metrics(connection_string: str) -> MetricExporter:
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

    return AzureMonitorMetricExporter(connection_string=connection_string)


def _azure_monitor_logs(connection_string: str) -> LogRecordExporter:
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter

    return AzureMonitorLogExporter(connection_string=connection_string)


def _azure_monitor(connection_string: str) -> tuple[SpanProcessor, MetricReader, LogRecordProcessor]:
    traces = DeferredSpanExporter(Later(partial(_azure_monitor_traces, connection_string), "Application Insights trace"))
    metrics = DeferredMetricExporter(
        Later(partial(_azure_monitor_metrics, connection_string), "Application Insights metric"), AZURE_MONITOR_TEMPORALITY
    )
    logs = DeferredLogExporter(Later(partial(_azure_monitor_logs, connection_string), "Application Insights log"))
    return BatchSpanProcessor(traces), PeriodicExportingMetricReader(metrics), BatchLogRecordProcessor(logs)


def _otlp() -> tuple[SpanProcessor, MetricReader, LogRecordProcessor]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        BatchSpanProcessor(OTLPSpanExporter()),
        PeriodicExportingMetricReader(OTLPMetricExporter()),
        BatchLogRecordProcessor(OTLPLogExporter()),
    )


def build(destinations: Destinations) -> Telemetry:
    chosen = []
    if destinations.application_insights is not None:
        chosen.append(_azure_monitor(destinations.application_insights))
    if destinations.otlp:
        chosen.append(_otlp())
    return assemble([c[0] for c in chosen], [c[1] for c in chosen], [c[2] for c in chosen], at_exit=True)
