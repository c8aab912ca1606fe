"""Settings read from environment variables: a bad value is one warning and the default, never an exception.

The one place ddex-otel parses a number or a yes/no out of ``os.environ`` (``OTEL_BSP_*``,
``OTEL_PYTHON_DDEX_*``, ``DDEX_OTEL_*``, ``DDEX_CELERY_*``). It imports nothing from OpenTelemetry,
so the instrumentor (API only) and the SDK setup share it. An unset or blank variable is the default.
"""

from __future__ import annotations

import logging
import os
from typing import Any

_logger = logging.getLogger("ddex_otel.telemetry")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

_warned: set[tuple[str, str]] = set()


def warn_env(name: str, raw: str, message: str, *args: Any) -> None:
    """One WARNING per bad (variable, value) per process, however often it is read."""
    if (name, raw) in _warned:
        return
    _warned.add((name, raw))
    _logger.warning(message, *args)


def env_number(name: str, default: float, *, minimum: float = 0.0) -> float:
    """A number >= ``minimum`` from the environment; a bad value is one warning and the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also catches nan
        warn_env(name, raw, "ignoring %s=%r: not a number >= %g; using %g", name, raw, minimum, default)
        return default
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number (>= ``minimum`` when given) from the environment; a bad value is one warning
    and the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or (minimum is not None and value < minimum):
        wanted = "an integer" if minimum is None else f"a whole number >= {minimum}"
        warn_env(name, raw, "ignoring %s=%r: not %s; using %d", name, raw, wanted, default)
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case) from the environment; anything else is one
    warning and the default."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE + _FALSE:
        warn_env(name, raw, "ignoring %s=%r: use true or false; using %s", name, raw, str(default).lower())
        return default
    return raw in _TRUE


def sdk_disabled(*, warn: bool = True) -> bool:
    """``OTEL_SDK_DISABLED=true``: only ``true`` (any case) disables, as the specification says; another
    value leaves telemetry on, with one warning when ``warn`` (the CLI's early check leaves that
    warning to ``configure()``, which runs after the CLI has set up its logging)."""
    raw = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower()
    if warn and raw not in ("", "false", "true"):
        warn_env("OTEL_SDK_DISABLED", raw, "ignoring OTEL_SDK_DISABLED=%r: use true or false; telemetry stays on", raw)
    return raw == "true"
