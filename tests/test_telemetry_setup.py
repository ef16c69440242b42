"""Telemetry is switched on by settings only, costs nothing when off, and sends to Azure as Azure expects.

`import function_app` runs in a fresh interpreter (as the Functions worker imports it) with each setting, and
reports which OpenTelemetry modules got imported: none without a setting, the SDK but not yet Azure Monitor's
exporter with a connection string (it is made on the first export, `bridge.telemetry.deferred`), the OTLP
exporter with an OTLP endpoint.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bridge.telemetry import pipeline
from bridge.telemetry.deferred import AZURE_MONITOR_TEMPORALITY, DeferredSpanExporter, Later
from bridge.telemetry.destinations import Destinations, destinations
from tests.support.paths import ROOT

CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/;LiveEndpoint=http://127.0.0.1:9/"
IDENTITY_CLIENT_ID = "11111111-1111-1111-1111-111111111111"
QUIET = {"APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true", "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true"}

PROBE = """
import json, sys
import function_app
from bridge.telemetry import request_log
print(json.dumps({
    "sdk": "opentelemetry.sdk.trace" in sys.modules,
    "azure_monitor": "azure.monitor.opentelemetry.exporter" in sys.modules,
    "otlp": "opentelemetry.exporter.otlp.proto.http" in sys.modules,
    "exporting": request_log._exporter is not None,
}))
"""


def imported_with(settings: dict[str, str]) -> dict[str, bool]:
    env = {"PATH": "/usr/bin:/bin", **QUIET, **settings}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.process  # a fresh interpreter
def test_nothing_is_imported_without_a_setting() -> None:
    assert imported_with({}) == {"sdk": False, "azure_monitor": False, "otlp": False, "exporting": False}


@pytest.mark.process  # a fresh interpreter
def test_application_insights_imports_the_sdk_and_leaves_the_exporter_for_later() -> None:
    found = imported_with({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING})
    assert found == {"sdk": True, "azure_monitor": False, "otlp": False, "exporting": True}


@pytest.mark.process  # a fresh interpreter
def test_an_otlp_endpoint_exports_over_otlp() -> None:
    found = imported_with({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert found == {"sdk": True, "azure_monitor": False, "otlp": True, "exporting": True}


@pytest.mark.process  # a fresh interpreter
def test_the_sdk_can_be_switched_off_whatever_else_is_set() -> None:
    found = imported_with({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING, "OTEL_SDK_DISABLED": "true"})
    assert not any(found.values())


def test_destinations() -> None:
    assert destinations({}) == Destinations() and not Destinations().any
    both = destinations({"APPLICATIONINSIGHTS_CONNECTION_STRING": f" {CONNECTION_STRING} ", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"})
    assert both == Destinations(CONNECTION_STRING, True) and both.describe() == "Application Insights and OTLP"
    assert destinations({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}) == Destinations()


def test_the_deferred_metric_exporter_reports_azure_monitors_temporality() -> None:
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

    real = AzureMonitorMetricExporter(connection_string=CONNECTION_STRING)
    assert real._preferred_temporality == AZURE_MONITOR_TEMPORALITY  # type: ignore[attr-defined]


def test_the_exporter_signs_in_with_the_apps_managed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """APPLICATIONINSIGHTS_AUTHENTICATION_STRING, as the Bicep sets it for the Functions host, is read by the exporter
    the bridge makes: Microsoft Entra ID with the user-assigned identity (local auth is off on the component)."""
    from azure.identity import ManagedIdentityCredential

    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", f"ClientId={IDENTITY_CLIENT_ID};Authorization=AAD")
    for name, value in QUIET.items():
        monkeypatch.setenv(name, value)
    exporter = pipeline._azure_monitor_traces(CONNECTION_STRING)
    credential = exporter._credential  # type: ignore[attr-defined]
    assert isinstance(credential, ManagedIdentityCredential)


class Counting(SpanExporter):
    def __init__(self) -> None:
        self.batches: list[Sequence[ReadableSpan]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches.append(spans)
        return SpanExportResult.SUCCESS


def test_a_deferred_exporter_is_made_once_on_first_export() -> None:
    made: list[Counting] = []

    def make() -> SpanExporter:
        made.append(Counting())
        return made[-1]

    deferred = DeferredSpanExporter(Later(make, "test"))
    deferred.shutdown()
    assert deferred.force_flush() and not made, "shutting down or flushing makes nothing"
    assert deferred.export([]) == SpanExportResult.SUCCESS and deferred.export([]) == SpanExportResult.SUCCESS
    assert len(made) == 1 and len(made[0].batches) == 2


def test_an_exporter_that_cannot_be_made_drops_its_data_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    def make() -> SpanExporter:
        raise ValueError("Invalid instrumentation key")

    deferred = DeferredSpanExporter(Later(make, "Application Insights trace"))
    with caplog.at_level(logging.ERROR):
        assert deferred.export([]) == SpanExportResult.FAILURE and deferred.export([]) == SpanExportResult.FAILURE
    assert [r.message for r in caplog.records].count(
        "telemetry: the Application Insights trace exporter could not be made; its data is dropped"
    ) == 1
