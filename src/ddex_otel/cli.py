"""The ``ddex-otel`` command: one subcommand per job, each registered by the package that owns it.

Errors from bad input exit non-zero with one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ddex_otel import __version__

# Modules exposing ``register(subparsers)``; each adds its subcommands with ``set_defaults(func=…)``.
_COMMAND_MODULES: tuple[str, ...] = (
    "ddex_otel.ern.cli",
    "ddex_otel.telemetry.cli",
    "ddex_otel.stack.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ddex-otel",
        description="Parse, stream, validate and build DDEX ERN messages with OpenTelemetry telemetry.",
    )
    parser.add_argument("--version", action="version", version=f"ddex-otel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise
            continue
        module.register(subparsers)
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
