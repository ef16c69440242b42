"""Where telemetry goes, read from the environment (`bridge.telemetry.setup` says what each setting does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.config.kinds import is_placeholder
from bridge.config.table import APPLICATIONINSIGHTS_CONNECTION_STRING, OTEL_EXPORTER_OTLP_ENDPOINT

SDK_DISABLED = "OTEL_SDK_DISABLED"
"""OpenTelemetry's own switch (the SDK's settings are OpenTelemetry's, not in the bridge's table)."""


@dataclass(frozen=True, slots=True)
class Destinations:
    application_insights: str | None = None
    """The connection string."""
    otlp: bool = False

    @property
    def any(self) -> bool:
        return self.application_insights is not None or self.otlp

    def describe(self) -> str:
        names = (["Application Insights"] if self.application_insights is not None else []) + (["OTLP"] if self.otlp else [])
        return " and ".join(names) or "nowhere"


def _set(env: Mapping[str, str], name: str) -> str:
    """The setting's value, "" when unset or a placeholder of local.settings.sample.json (`<...>`)."""
    value = env.get(name, "").strip()
    return "" if is_placeholder(value) else value


def destinations(env: Mapping[str, str]) -> Destinations:
    if _set(env, SDK_DISABLED).lower() == "true":
        return Destinations()
    connection_string = _set(env, APPLICATIONINSIGHTS_CONNECTION_STRING.name)
    return Destinations(connection_string or None, bool(_set(env, OTEL_EXPORTER_OTLP_ENDPOINT.name)))
