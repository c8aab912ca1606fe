"""OpenTelemetry for the ERN engine: instrumentor, provider setup, batch spans, summary.

Importing this package is cheap (no SDK, no exporters): ``opentelemetry-instrument`` imports
``ddex_otel.telemetry.instrumentor`` through the ``opentelemetry_instrumentor`` entry point, and
apps that bring their own providers only need the instrumentor. ``configure`` (providers,
exporters) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DDEXInstrumentor", "TelemetryHandle", "batch", "configure"]


def __getattr__(name: str) -> Any:
    if name == "DDEXInstrumentor":
        from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

        return DDEXInstrumentor
    if name == "batch":
        from ddex_otel.telemetry.batch_spans import batch

        return batch
    if name in ("configure", "TelemetryHandle"):
        from ddex_otel.telemetry import setup

        return getattr(setup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
