"""Version of the instrumentation: the package's own, since the engine ships with it."""

from ddex_otel import __version__

__all__ = ["__version__"]
