"""Telemetry for one CLI run: the shared ``--endpoint`` / ``--protocol`` / ``--service-name`` flags
and the ``configure()`` call behind them, so every command exports the same way and flushes
before it exits.
"""

from __future__ import annotations

import argparse
import os
import sys
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

    try:
        return configure(
            endpoint=getattr(args, "endpoint", None),
            protocol=getattr(args, "protocol", None),
            service_name=getattr(args, "service_name", None),
            **options,
        )
    except (ValueError, OSError) as exc:
        print(f"ddex-otel: warning: telemetry is off for this run: {exc}", file=sys.stderr)
        return None
