"""Exporters made on their first export, on the SDK's export thread, instead of at start-up.

Importing Azure Monitor's exporter costs about 100 ms (half of it azure.identity, which it imports whether
or not it signs in), more than half the cold-start budget telemetry has (`bench/telemetry.py`).  The
batch span and log processors and the periodic metric reader call `export` from their own background
thread, seconds after the first request ended: wrapped in these, the exporter is imported and made there,
off the path of every request.

A metric exporter tells the reader its temporality when the reader is made, before the real one exists:
the wrapper is given it (`AZURE_MONITOR_TEMPORALITY`, the Azure Monitor exporter's own; a test compares
the two).  An exporter that cannot be made (a malformed connection string) is logged once, and its data
dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

AZURE_MONITOR_TEMPORALITY: dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
}

E = TypeVar("E")


class Later(Generic[E]):
    """An exporter made by `make` when first needed (once, whichever thread asks first); None if it failed."""

    def __init__(self, make: Callable[[], E], name: str) -> None:
        self._make = make
        self._name = name
        self._lock = threading.Lock()
        self._made: E | None = None
        self._tried = False

    def get(self) -> E | None:
        if not self._tried:
            with self._lock:
                if not self._tried:
                    try:
                        self._made = self._make()
                    except Exception:
                        log.exception("telemetry: the %s exporter could not be made; its data is dropped", self._name)
                    self._tried = True
        return self._made

    @property
    def made(self) -> E | None:
        """The exporter if it was made already (shutting down never makes it)."""
        return self._made


class DeferredSpanExporter(SpanExporter):
    def __init__(self, later: Later[SpanExporter]) -> None:
        self._later = later

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        exporter = self._later.get()
        return exporter.export(spans) if exporter is not None else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        if self._later.made is not None:
            self._later.made.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._later.made.force_flush(timeout_millis) if self._later.made is not None else True


class DeferredLogExporter(LogRecordExporter):
    def __init__(self, later: Later[LogRecordExporter]) -> None:
        self._later = later

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        exporter = self._later.get()
        return exporter.export(batch) if exporter is not None else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        if self._later.made is not None:
            self._later.made.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._later.made.force_flush(timeout_millis) if self._later.made is not None else True


class DeferredMetricExporter(MetricExporter):
    def __init__(self, later: Later[MetricExporter], temporality: dict[type, AggregationTemporality]) -> None:
        super().__init__(preferred_temporality=temporality)
        self._later = later

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        exporter = self._later.get()
        if exporter is None:
            return MetricExportResult.FAILURE
        return exporter.export(metrics_data, timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._later.made.force_flush(timeout_millis) if self._later.made is not None else True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if self._later.made is not None:
            self._later.made.shutdown(timeout_millis, **kwargs)
