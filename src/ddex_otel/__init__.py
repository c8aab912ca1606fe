"""ddex-otel: OpenTelemetry observability for DDEX ERN processing."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "configure"]


def configure(*args, **kwargs):  # thin lazy re-export
    """Set up OpenTelemetry providers for an app that has none (see ddex_otel.telemetry.setup)."""
    from ddex_otel.telemetry.setup import configure as _configure

    return _configure(*args, **kwargs)
