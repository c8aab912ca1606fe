"""``ddex-otel celery-batch``: submit a delivery batch to the Celery workers and print its summary.

Temporary home of what becomes ``ddex-otel batch DIR --celery BROKER_URL`` once the local batch
command is merged: the same inputs (directories, files, globs), one trace per batch, a non-zero
exit status when any file failed or got no outcome.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

from ddex_otel.telemetry.clisetup import add_telemetry_arguments, cli_telemetry


class UsageError(ValueError):
    """Bad arguments: exit status 2."""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "celery-batch",
        help="process a batch of ERN files on Celery workers (one trace per batch)",
        description="Send one task per file to the Celery workers behind BROKER (start them with "
        "`celery -A ddex_otel.distributed.worker worker`), wait for every outcome and print the "
        "summary. Workers must see the same paths (shared storage). See docs/scale-out.md.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="a directory (its *.xml), a file or a glob")
    parser.add_argument("--celery", "--broker", dest="broker", metavar="BROKER_URL",
                        default=os.environ.get("DDEX_CELERY_BROKER_URL"),
                        help="Celery broker, e.g. redis://127.0.0.1:6379/0 (default: $DDEX_CELERY_BROKER_URL)")
    parser.add_argument("--backend", metavar="URL", help="result backend (default: the broker URL)")
    parser.add_argument("--name", default="batch", help="batch name (ddex.batch.name)")
    parser.add_argument("--to-version", metavar="V", help="also build each message as ERN V ...")
    parser.add_argument("--out", metavar="DIR", help="... and write it to DIR (shared with the workers)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the whole batch; files without an outcome are 'lost' (default 600)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_telemetry_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def find_inputs(patterns: list[str]) -> list[Path]:
    """Each argument names at least one file: a directory's *.xml, a file, or a glob."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.glob("*.xml") if p.is_file())
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise UsageError(f"no input files in {pattern}")
        found.update(dict.fromkeys(matches))
    return list(found)


def run(args: argparse.Namespace) -> int:
    try:
        if not args.broker:
            raise UsageError("--celery BROKER_URL is required (or set DDEX_CELERY_BROKER_URL)")
        if (args.to_version is None) != (args.out is None):
            raise UsageError("--to-version and --out go together")
        paths = find_inputs(args.inputs)
    except UsageError as exc:
        print(f"ddex-otel celery-batch: error: {exc}", file=sys.stderr)
        return 2
    try:
        from ddex_otel.distributed.submitter import submit_batch
    except ImportError as exc:
        print(f"ddex-otel celery-batch: error: {exc.name or exc} is missing: pip install 'ddex-otel[celery]'",
              file=sys.stderr)
        return 2
    handle = cli_telemetry(args, always=True)
    try:
        result = _submit_with_progress(submit_batch, paths, args)
    except Exception as exc:  # noqa: BLE001 - broker unreachable etc.: one line, no traceback
        print(f"ddex-otel celery-batch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if handle is not None:
            handle.shutdown()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_summary(result)
    return 0 if result.failed == 0 else 1


def _submit_with_progress(submit_batch, paths: list[Path], args: argparse.Namespace):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    kwargs = dict(backend_url=args.backend, name=args.name, to_version=args.to_version, out_dir=args.out,
                  timeout=args.timeout)
    if args.json or not console.is_terminal:
        return submit_batch(paths, args.broker, **kwargs)
    with Progress(TextColumn("celery batch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task("files", total=len(paths))
        return submit_batch(paths, args.broker, on_result=lambda _o: progress.advance(bar), **kwargs)


def _print_summary(result) -> None:
    from ddex_otel.stack.links import jaeger_trace_url

    for f in result.files:
        if not f.ok:
            print(f"{f.status:<7} {f.path}: {f.error}")
    hosts = ", ".join(result.workers) or "-"
    print(f"files: {len(result.files)}, ok: {result.ok}, failed: {result.failed}, "
          f"redelivered: {result.redelivered}, {result.seconds:.2f} s ({result.files_per_second:.1f} files/s)")
    print(f"workers: {hosts}")
    if result.trace_id:
        print(f"trace: {jaeger_trace_url(result.trace_id)}")
