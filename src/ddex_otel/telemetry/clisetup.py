"""Telemetry for one CLI run: the shared ``--endpoint`` / ``--protocol`` / ``--service-name`` flags
and the ``configure()`` call behind them, so every command exports the same way and flushes
before it exits.

Telemetry that could not be delivered is ONE warning line at the end of the run
(``report_undelivered``), not the SDK's retry messages plus a line per signal.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from ddex_otel.telemetry.attributes import DEFAULT_SERVICE_NAME
from ddex_otel.telemetry.envvars import sdk_disabled

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
                       help=f"service.name (default: OTEL_SERVICE_NAME, else {DEFAULT_SERVICE_NAME})")


def wants_telemetry(args: argparse.Namespace) -> bool:
    """True when ``--endpoint`` or a standard OTEL_* variable asks for an export."""
    if sdk_disabled(warn=False):
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

    show_telemetry_warnings()
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
                report_undelivered(handle)

    return wrapped


_collector: Any = None


def show_telemetry_warnings() -> None:
    """Telemetry warnings (bad OTEL_* values …) reach stderr even without logging configured;
    export failures (ours, the SDK's and the exporters') are held for ``report_undelivered``.
    Nothing changes when the application configured logging itself.

    The library's log records (``records``: findings, failures, losses) are for the logs signal: the
    command already prints them in its own output, so its stderr does not repeat them."""
    global _collector
    import logging

    from ddex_otel.telemetry import records
    from ddex_otel.telemetry.exporters import ExportWarningCollector

    logger = logging.getLogger("ddex_otel")
    if (_collector is not None or logger.handlers or logging.getLogger("ddex_otel.telemetry").handlers
            or logging.getLogger().handlers):
        return
    _collector = ExportWarningCollector()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ddex-otel: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    handler.addFilter(_collector)
    handler.addFilter(lambda record: not records.is_record(record))
    for name in ("ddex_otel", "opentelemetry"):  # the SDK's and the exporters' records too
        logging.getLogger(name).addHandler(handler)


def report_undelivered(handle: Any, who: str = "") -> None:
    """After ``handle.shutdown()``: one warning line if any telemetry was not delivered."""
    if _collector is None or handle is None or not getattr(handle, "enabled", False):
        return
    line = _collector.one_line(handle)
    if line:
        print(f"ddex-otel: warning: {who + ': ' if who else ''}{line}", file=sys.stderr, flush=True)
