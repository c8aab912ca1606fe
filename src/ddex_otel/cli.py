"""The ``ddex-otel`` command: one subcommand per job, each registered by the package that owns it.

Errors from bad input exit non-zero with one clear line on stderr, never a traceback. Ctrl-C
exits with status 130 and the line ``ddex-otel: interrupted``, also while the command starts; once
a command has finished, a late Ctrl-C no longer interrupts its exit.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from ddex_otel import __version__

# Each module's ``register(subparsers)`` adds its subcommands with ``set_defaults(func=…)``
# (imported in ``build_parser``, inside main's Ctrl-C handling).
_COMMAND_MODULES = (
    "ern.cli", "telemetry.cli", "telemetry.run", "stack.cli", "monitoring.cli", "bench.cli", "stack.fleet_cli",
)

#: Engine commands that export telemetry when --endpoint or the standard OTEL_* variables ask for it.
#: Wired here, not in ern/cli.py: the engine imports nothing from telemetry.
TELEMETRY_COMMANDS = ("parse", "stream", "validate", "build", "generate")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    from ddex_otel.telemetry.clisetup import add_telemetry_arguments, with_cli_telemetry

    parser = argparse.ArgumentParser(
        prog="ddex-otel",
        description="Parse, stream, validate and build DDEX ERN messages with OpenTelemetry telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"ddex-otel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"ddex_otel.{name}").register(subparsers)
    for name in TELEMETRY_COMMANDS:
        command = subparsers.choices.get(name)
        if command is not None:
            add_telemetry_arguments(command)
            command.set_defaults(func=with_cli_telemetry(command.get_default("func")))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    Without ``argv`` (the console script, ``python -m ddex_otel.cli``) this is the whole process:
    SIGTERM (a supervisor, ``timeout``) unwinds like an exception, so a file being written is
    removed, not left half-written, and the exit status is 143; after the command, SIGINT is
    ignored so a late Ctrl-C cannot turn the exit (output flushes, exit hooks) into a traceback
    or a cut output.
    """
    if argv is None:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ddex-otel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if argv is None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
