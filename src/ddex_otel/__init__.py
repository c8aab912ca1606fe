"""ddex-otel: OpenTelemetry observability for DDEX ERN processing."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "configure"]

# ``configure`` is ddex_otel.telemetry.setup.configure itself (its signature, docstring and types),
# imported on first use by ``__getattr__`` so that ``import ddex_otel`` loads no OpenTelemetry SDK.
# ``TYPE_CHECKING`` is spelled here rather than imported so this module does not import ``typing``;
# type checkers treat the name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ddex_otel.telemetry.setup import configure


def __getattr__(name: str) -> object:
    if name == "configure":
        from ddex_otel.telemetry.setup import configure

        return configure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
