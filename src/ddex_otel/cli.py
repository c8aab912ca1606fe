"""The ``ddex-otel`` command: one subcommand per job, each registered by the package that owns it.

Errors from bad input exit non-zero with one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ddex_otel import __version__
from ddex_otel.bench import cli as bench_cli
from ddex_otel.ern import cli as ern_cli
from ddex_otel.monitoring import cli as monitoring_cli
from ddex_otel.stack import cli as stack_cli
from ddex_otel.stack import fleet_cli
from ddex_otel.telemetry import cli as telemetry_cli
from ddex_otel.telemetry.clisetup import add_telemetry_arguments, with_cli_telemetry

# Each module's ``register(subparsers)`` adds its subcommands with ``set_defaults(func=…)``.
_COMMAND_MODULES = (ern_cli, telemetry_cli, stack_cli, monitoring_cli, bench_cli, fleet_cli)

#: Engine commands that export telemetry when --endpoint or the standard OTEL_* variables ask for it.
#: Wired here, not in ern/cli.py: the engine imports nothing from telemetry.
TELEMETRY_COMMANDS = ("parse", "stream", "validate", "build", "generate")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ddex-otel",
        description="Parse, stream, validate and build DDEX ERN messages with OpenTelemetry telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"ddex-otel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    for name in TELEMETRY_COMMANDS:
        command = subparsers.choices.get(name)
        if command is not None:
            add_telemetry_arguments(command)
            command.set_defaults(func=with_cli_telemetry(command.get_default("func")))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ddex-otel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
