"""The one place that reads a private name of an OpenTelemetry package (contract, "API hygiene").

``GuardedMetricExporter`` wraps a metric exporter, and the reader asks the wrapper, not the
exporter, which aggregation temporality and aggregation it prefers. ``MetricExporter`` takes them
as public constructor arguments but offers no public way to read them back, so the wrapper reads
the wrapped exporter's ``_preferred_temporality`` / ``_preferred_aggregation`` here. Public
fallback, should a release move them: None, i.e. the SDK's defaults (cumulative temporality, the
default aggregations) — what an OTLP exporter prefers unless
``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`` says otherwise. The tests run this module on
the lowest and the newest SDK of the supported range (tests/telemetry/test_api_hygiene.py).
"""

from __future__ import annotations

from typing import Any


def metric_exporter_preferences(exporter: Any) -> tuple[dict | None, dict | None]:
    """(preferred temporality, preferred aggregation) of ``exporter``, None where unknown."""
    temporality = getattr(exporter, "_preferred_temporality", None)
    aggregation = getattr(exporter, "_preferred_aggregation", None)
    return (temporality if isinstance(temporality, dict) else None,
            aggregation if isinstance(aggregation, dict) else None)
