"""Whether telemetry exports, and where to, from the environment; nothing of OpenTelemetry is imported unless it does.

    setting                                   exports to
    APPLICATIONINSIGHTS_CONNECTION_STRING     Application Insights, through Azure Monitor's OpenTelemetry exporter;
                                              with APPLICATIONINSIGHTS_AUTHENTICATION_STRING `Authorization=AAD;
                                              ClientId=<client id>` it signs in with that managed identity (the
                                              exporter reads it; the Bicep sets it, as for the Functions host)
    OTEL_EXPORTER_OTLP_ENDPOINT               a collector of one's own, over OTLP/HTTP (the exporter reads the
                                              OTEL_EXPORTER_OTLP_* settings: headers, protocol details)
    OTEL_SDK_DISABLED=true                    nowhere, whatever else is set
    (none)                                    nowhere: the SDK and the exporters are not even imported

Both may be set: each signal then goes to both.  `configure` is called once per process, by each entry
point (function_app.py at import, `python -m bridge`, `python -m bridge reconcile`); it builds the pipeline
(`bridge.telemetry.pipeline`) and points the request log at it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bridge.telemetry.destinations import destinations
from bridge.telemetry.request_log import export_to

if TYPE_CHECKING:
    from bridge.telemetry.pipeline import Telemetry

log = logging.getLogger(__name__)

_telemetry: Telemetry | None = None


def configure(env: Mapping[str, str] | None = None) -> Telemetry | None:
    """Build the telemetry the environment asks for (once per process), and send the request records to it."""
    global _telemetry
    if _telemetry is not None:
        return _telemetry
    chosen = destinations(os.environ if env is None else env)
    if not chosen.any:
        return None
    from bridge.telemetry.pipeline import build

    use(build(chosen))
    log.info("telemetry: exporting to %s", chosen.describe())
    return _telemetry


def use(telemetry: Telemetry | None) -> None:
    """Export to `telemetry` from now on (the tests' in-memory pipeline), or nowhere (None)."""
    global _telemetry
    _telemetry = telemetry
    export_to(telemetry.requests if telemetry is not None else None)


def current() -> Telemetry | None:
    """The process's telemetry, if it exports."""
    return _telemetry
