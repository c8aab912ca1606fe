"""Telemetry for one CLI run: the shared ``--endpoint`` / ``--protocol`` / ``--service-name`` flags
and the ``configure()`` call behind them, so every command exports the same way and flushes
before it exits.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

#: Standard variables that ask for telemetry even without ``--endpoint``.
_TELEMETRY_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
)


def add_telemetry_arguments(parser: argparse.ArgumentParser) -> None:
    """``--endpoint``, ``--protocol``, ``--service-name`` (defaults from the OTEL_* variables)."""
    group = parser.add_argument_group("telemetry")
    group.add_argument(
        "--endpoint", metavar="URL",
        help="OTLP collector base URL, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318 "
        "(http/protobuf); default: OTEL_EXPORTER_OTLP_ENDPOINT",
    )
    group.add_argument("--protocol", choices=("grpc", "http/protobuf"),
                       help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)")
    group.add_argument("--service-name", metavar="NAME",
                       help="service.name (default: OTEL_SERVICE_NAME, else ddex-otel)")


def wants_telemetry(args: argparse.Namespace) -> bool:
    """True when ``--endpoint`` or a standard OTEL_* variable asks for an export."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(getattr(args, "endpoint", None)) or any(os.environ.get(n, "").strip() for n in _TELEMETRY_ENV)


def cli_telemetry(args: argparse.Namespace, *, always: bool = False, **options: Any) -> Any:
    """``configure()`` for this run (None when nothing asked for telemetry and ``always`` is false).

    ``always=True`` (demo, batch, profile) sets telemetry up even without an endpoint: offline
    files by default. A configuration error is one warning line on stderr, never a crash.
    """
    if not (always or wants_telemetry(args)):
        return None
    from ddex_otel.telemetry.setup import configure

    _show_telemetry_warnings()
    try:
        return configure(
            endpoint=getattr(args, "endpoint", None),
            protocol=getattr(args, "protocol", None),
            service_name=getattr(args, "service_name", None),
            **options,
        )
    except Exception as exc:  # noqa: BLE001 - telemetry never stops a command
        print(f"ddex-otel: warning: telemetry is off for this run: {exc}", file=sys.stderr)
        return None


def with_cli_telemetry(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command's ``run(args)``: telemetry set up before (when asked for), flushed after.

    The flush is bounded (``DDEX_OTEL_SHUTDOWN_TIMEOUT``, 2 s): a dead collector never holds the
    command; with a live one every span of the run is exported before the process exits.
    """

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        handle = cli_telemetry(args)
        try:
            return run(args)
        finally:
            if handle is not None:
                handle.shutdown()

    return wrapped


def _show_telemetry_warnings() -> None:
    """Telemetry warnings (bad OTEL_* values, drops) reach stderr even without logging configured.

    The library's log records (``records``: findings, failures, losses) are for the logs signal: the
    command already prints them in its own output, so its stderr does not repeat them."""
    import logging

    from ddex_otel.telemetry import records

    logger = logging.getLogger("ddex_otel")
    if logger.handlers or logging.getLogger("ddex_otel.telemetry").handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ddex-otel: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: not records.is_record(record))
    logger.addHandler(handler)
