"""``ddex-otel batch`` and ``ddex-otel profile``: the operator's toolkit on the command line.

Registered into the top-level ``ddex-otel`` command by ``register(subparsers)``. Exit status:
0 all files succeeded, 1 some failed, 2 usage error (no inputs, bad option, bad alerts file).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

from ddex_otel.outputs import check_writable, check_writable_dir, output_problem
from ddex_otel.telemetry.clisetup import add_telemetry_arguments, cli_telemetry, report_undelivered

_BATCH_DESCRIPTION = """\
Process a delivery folder on a pool of worker processes: each file is parsed and validated, and
with --to-version V --out DIR also built to ERN version V and written to DIR/<name>.xml.
A failing file is recorded (error span, a row in the summary) and the batch goes on.

The whole run is ONE trace (ddex.batch) across all processes: each file is a ddex.file span
holding its ddex.parse / ddex.validate / ddex.build spans. Shows a progress bar with a live
summary, then a summary table, the failed files and, when the spans went to an OTLP collector,
the Jaeger link of the batch trace.

Ctrl-C stops the batch: files in flight finish and keep their results, the others are reported
as not processed, the summary is printed and the exit status is 130. A second Ctrl-C stops
waiting for the files in flight.

Inputs: directories (their *.xml), files, or glob patterns (quote them: 'in/**/*.xml').
Exit status: 0 all files ok, 1 some failed, 2 usage error, 130 interrupted (Ctrl-C).
"""

_PROFILE_DESCRIPTION = """\
Profile parse (and build) of each FILE --runs times with the resource monitor sampling CPU and
memory. Prints a summary table; writes the results as CSV / JSON, and with --html ONE
self-contained HTML report (plots of durations, CPU and memory; slowest messages, with links to
their traces in Jaeger when the spans went to an OTLP collector). Output paths are checked
before the run; each file is written whole or not at all.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``batch`` and ``profile`` to the ``ddex-otel`` command."""
    p = subparsers.add_parser(
        "batch", help="process a delivery folder on a process pool: one trace, progress, summary",
        description=_BATCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="DIR|GLOB|FILE", help="what to process")
    p.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1), metavar="N",
                   help="worker processes (default: CPU count; 0 runs in this process)")
    p.add_argument("--to-version", metavar="V", help="also build each message to ERN version V (needs --out)")
    p.add_argument("--out", metavar="DIR", help="where built messages go, as DIR/<name>.xml")
    p.add_argument("--alerts", metavar="FILE",
                   help="alert rules (YAML, see docs/monitoring.md) checked against the batch's aggregates")
    p.add_argument("--name", default="batch", help="ddex.batch.name of the trace (default: batch)")
    p.add_argument("--json", action="store_true", help="print a machine-readable result instead of tables")
    p.add_argument("--celery", metavar="BROKER_URL",
                   help="run the files on the Celery workers behind this broker instead of a local pool, e.g. "
                   "redis://127.0.0.1:6379/0 (workers: `celery -A ddex_otel.distributed.worker worker`; "
                   "see docs/scale-out.md)")
    p.add_argument("--celery-timeout", type=float, default=3600.0, metavar="S",
                   help="with --celery: seconds to wait for the whole batch; files without an outcome "
                   "by then are reported as lost (default 3600)")
    add_telemetry_arguments(p)
    p.set_defaults(func=run_batch_command)

    p = subparsers.add_parser(
        "profile", help="profile parse/build of files N times; tables, CSV/JSON and an HTML report",
        description=_PROFILE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="ERN messages to profile")
    p.add_argument("--runs", type=int, default=5, metavar="N", help="times to process each file (default: 5)")
    p.add_argument("--to-version", metavar="V",
                   help="build target (default: the message's own version when it can be written, else 4.3)")
    p.add_argument("--no-build", action="store_true", help="profile parse only")
    p.add_argument("--interval", type=float, default=0.05, metavar="S",
                   help="resource monitor sampling interval in seconds (default: 0.05)")
    p.add_argument("--csv", metavar="OUT", help="write every profiled operation as CSV")
    p.add_argument("--json", metavar="OUT", help="write every profiled operation as JSON")
    p.add_argument("--html", metavar="OUT", help="write one self-contained HTML report")
    add_telemetry_arguments(p)
    p.set_defaults(func=run_profile_command)


def _error(message: str) -> int:
    print(f"ddex-otel: error: {message}", file=sys.stderr)
    return 2


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:  # piped or captured: rich would assume 80 columns
        console = Console(stderr=stderr, width=120, highlight=False)
    return console


def run_batch_command(args: argparse.Namespace) -> int:
    from ddex_otel.monitoring import batch_runner as B

    try:
        paths = B.find_inputs(args.inputs)
        options = B.BatchOptions(workers=args.workers, to_version=args.to_version, out_dir=args.out, name=args.name)
        B.check_options(paths, options)
    except B.BatchUsageError as exc:
        return _error(str(exc))
    if args.out:
        try:
            check_writable_dir(args.out)
        except OSError as exc:
            return _error(output_problem("--out", args.out, exc))
    alerting = None
    if args.alerts:
        try:
            from ddex_otel.monitoring import load_alerts

            alerting = load_alerts(args.alerts)
        except (OSError, ValueError) as exc:
            return _error(f"--alerts: {exc}")

    if getattr(args, "celery", None):
        from ddex_otel.extras import require

        missing = require("celery", "--celery")
        if missing:  # before telemetry or anything else starts
            return _error(missing)
        return _run_batch(args, B, paths, alerting)
    from ddex_otel.monitoring.interrupts import handling_ctrl_c

    # Ctrl-C from here on stops the batch and never cuts its summary short (see batch.run_batch).
    with handling_ctrl_c():
        return _run_batch(args, B, paths, alerting)


def _run_batch(args: argparse.Namespace, B: Any, paths: list, alerting: Any) -> int:
    handle = cli_telemetry(args, always=True)
    options = B.BatchOptions(workers=args.workers, to_version=args.to_version, out_dir=args.out,
                             name=args.name, telemetry=_worker_telemetry(args, B, handle))
    monitor = _performance_monitor() if alerting is not None else None
    runner = None
    if getattr(args, "celery", None):
        from ddex_otel.extras import install_hint

        try:
            from ddex_otel.distributed.cli import celery_runner
        except ImportError as exc:
            return _error(install_hint("celery", "--celery", exc.name))
        runner = celery_runner(args.celery, timeout=args.celery_timeout)
    try:
        result = _run_with_progress(B, paths, options, monitor, quiet=args.json, runner=runner)
    except OSError as exc:  # the output directory cannot be made
        return _error(output_problem("--out", args.out, exc) if args.out else str(exc))
    except Exception as exc:  # --celery: broker unreachable …: one line, no traceback
        if runner is None:
            raise
        print(f"ddex-otel: error: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    finally:
        if handle is not None:
            handle.shutdown()  # the batch span ends before its link is printed
            report_undelivered(handle)
    alerts: list = []
    if alerting is not None and monitor is not None:
        with alerting:  # close() lets the notifiers finish sending
            alerts = alerting.check(monitor.aggregates())
    from ddex_otel.stack.links import trace_links

    url, logs_url = trace_links(handle, result.trace_id)
    _print_batch_result(args, result, runner, url, logs_url, _batch_destinations(handle, result, runner),
                        alerts, handle)
    if result.interrupted:
        print("ddex-otel: interrupted", file=sys.stderr)
        return 130
    return 0 if result.failed == 0 else 1


def _worker_telemetry(args: argparse.Namespace, B: Any, handle: Any) -> Any:
    """The telemetry settings worker processes set up: this run's endpoint, or its offline files."""
    return B.WorkerTelemetry(
        enabled=handle is not None and handle.enabled,
        endpoint=args.endpoint, protocol=args.protocol, service_name=args.service_name,
        offline_dir=str(handle.offline_files.directory) if handle is not None and handle.offline_files else None,
    )


def _batch_destinations(handle: Any, result: Any, runner: Any) -> list[str]:
    """Where the batch's telemetry went: this process's destinations, and what the workers did."""
    destinations = _destinations(handle)
    workers = {f.pid for f in result.files if f.pid is not None and f.pid != os.getpid()}
    if runner is not None:
        destinations.append("Celery workers export by their own OTEL_* settings (their host's agent)")
    elif workers and handle is not None and handle.enabled:
        destinations.append(f"{len(workers)} worker process(es) exported their spans and metrics the same way")
    return destinations


def _print_batch_result(args: argparse.Namespace, result: Any, runner: Any, url: str | None, logs_url: str | None,
                        destinations: list[str], alerts: list, handle: Any) -> None:
    """The batch's result on stdout, as JSON (``--json``) or tables, written whole despite Ctrl-C."""
    from ddex_otel.monitoring.interrupts import sigint_blocked

    # A Ctrl-C landing in the middle of a large write to a pipe can cut it: the result goes out
    # whole with SIGINT held back (a press meanwhile is handled right after).
    with sigint_blocked():
        if args.json:
            data = result.to_dict()
            data.update(jaeger_url=url, logs_url=logs_url, telemetry=destinations,
                        alerts=[_alert_dict(a) for a in alerts])
            if runner is not None:
                data["celery"] = runner.details()
            print(json.dumps(data, indent=2))
        else:
            _print_summary(result, url, destinations, alerts, handle, logs_url)
            if runner is not None:
                print(runner.summary_line())
        sys.stdout.flush()


def _performance_monitor() -> Any:
    from ddex_otel.monitoring import PerformanceMonitor

    return PerformanceMonitor()


def _record(monitor: Any, result: Any) -> None:
    """The worker's measurements into the main process's PerformanceMonitor (for --alerts)."""
    for op in result.operations:
        monitor.record(op.name, op.duration_s, success=op.success, memory_delta=op.memory_delta,
                       file=result.path)
    monitor.record("file", result.seconds, success=result.ok, file=result.path)


def _run_with_progress(B: Any, paths: list, options: Any, monitor: Any, *, quiet: bool, runner: Any = None) -> Any:
    from collections import deque

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ddex_otel.telemetry.summary import percentile

    console = _console(stderr=True)
    durations: deque[float] = deque(maxlen=1000)  # live p95 of the last 1000 files: O(1000) per update
    counts = {"ok": 0, "failed": 0}
    t0 = time.perf_counter()

    def live() -> str:
        elapsed = max(time.perf_counter() - t0, 1e-9)
        done = counts["ok"] + counts["failed"]
        p95 = percentile(sorted(durations), 95)
        p95_text = "—" if math.isnan(p95) else f"{p95 * 1000:.0f} ms"
        return (f"[green]ok {counts['ok']}[/green]  [red]failed {counts['failed']}[/red]  "
                f"{done / elapsed:.1f} files/s  p95 {p95_text}")

    with Progress(
        TextColumn("[bold]batch[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[live]}"),
        console=console, disable=quiet or not console.is_terminal, transient=False,
    ) as progress:
        task = progress.add_task("batch", total=len(paths), live=live())

        def on_result(result: Any) -> None:
            counts["ok" if result.ok else "failed"] += 1
            if result.seconds > 0:
                durations.append(result.seconds)
            if monitor is not None:
                _record(monitor, result)
            progress.update(task, advance=1, live=live())

        return (runner or B.run_batch)(paths, options, on_result=on_result)


def _destinations(handle: Any) -> list[str]:
    if handle is None or not handle.enabled:
        return ["nowhere: telemetry is off for this run"]
    from ddex_otel.telemetry.setup import describe

    return describe(handle)


def _alert_dict(alert: Any) -> dict[str, Any]:
    return alert.to_dict()


def _ms(seconds: float) -> str:
    return "—" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.1f}"


def _print_summary(result: Any, url: str | None, destinations: list[str], alerts: list, handle: Any,
                   logs_url: str | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ddex_otel.telemetry import attributes as A

    console = _console()
    rate = len(result.files) / result.seconds if result.seconds > 0 else 0.0
    not_processed = f"  [yellow]not processed {result.not_processed}[/yellow]" if result.not_processed else ""
    console.print(
        f"[bold]files[/bold] {len(result.files)}  [green]ok {result.ok}[/green]  "
        f"[red]failed {result.failed}[/red]{not_processed}  in {result.seconds:.2f} s ({rate:.1f} files/s, "
        f"{result.workers} worker{'s' if result.workers != 1 else ''})"
    )
    table = Table(title="operations (from the workers' spans)", title_justify="left")
    table.add_column("operation", no_wrap=True)
    for column in ("count", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, stats in result.operations().items():
        table.add_row(name, str(stats["count"]), _ms(stats["p50"]), _ms(stats["p95"]), _ms(stats["max"]))
    console.print(table)
    failed = [f for f in result.files if f.status == A.FILE_OUTCOME_FAILED]
    if result.interrupted:
        console.print(f"[yellow]interrupted (Ctrl-C): {result.not_processed} file(s) not processed[/yellow]")
    if failed:
        errors = Table(title="failed files", title_justify="left")
        errors.add_column("file", overflow="fold")
        errors.add_column("error", overflow="fold")
        for f in failed:
            errors.add_row(escape(f.path), escape(f.error or ""))
        console.print(errors)
    if result.pool_restarts:
        console.print(f"[yellow]worker crashes: the pool was restarted {result.pool_restarts} time(s)[/yellow]")
    for alert in alerts:
        detail = f": {alert.description}" if alert.description else ""
        console.print(f"[bold red]alert[/bold red] {escape(alert.summary)}{escape(detail)}")
    console.print("[bold]telemetry went to:[/bold]")
    for line in destinations:
        console.print(f"  {escape(line)}", overflow="fold")
    if handle is not None and handle.export_failures:
        console.print(f"[yellow]{handle.export_failures} telemetry export(s) failed in this process[/yellow] "
                      f"(first: {escape(str(handle.failures.first_error))})")
    if url:
        console.print(f"[bold]batch trace:[/bold] {url}", overflow="ignore", crop=False, soft_wrap=True)
    if logs_url:
        console.print(f"[bold]batch logs:[/bold] {logs_url}", overflow="ignore", crop=False, soft_wrap=True)


# ------------------------------------------------------------------------------------- profile


def _build_target(message: Any, requested: str | None) -> str:
    from ddex_otel.ern.builder import BUILD_VERSIONS, DEFAULT_VERSION

    if requested:
        return requested
    return message.ern_version if message.ern_version in BUILD_VERSIONS else DEFAULT_VERSION


def run_profile_command(args: argparse.Namespace) -> int:
    problem = _profile_usage_problem(args)
    if problem is not None:
        return _error(problem)

    from ddex_otel.monitoring import Profiler, ResourceMonitor

    handle = cli_telemetry(args, always=True)
    profiler = Profiler()
    try:
        with ResourceMonitor(interval=args.interval, window=86_400.0) as resources:
            _profile_files(profiler, args)
        snapshots = resources.snapshots()
    finally:
        if handle is not None:
            handle.shutdown()  # the traces are in Jaeger before the report links to them
            report_undelivered(handle)
    _print_profile(profiler.results, handle)
    return _write_profile_outputs(args, profiler, snapshots, handle)


def _profile_usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with ``profile``'s files and options, checked before anything runs; None if nothing."""
    from pathlib import Path

    for f in args.files:
        if not Path(f).is_file():
            return f"{'not a file (a directory)' if Path(f).is_dir() else 'no such file'}: {f}"
    if args.runs < 1:
        return "--runs must be at least 1"
    if not args.interval > 0:
        return "--interval must be a positive number of seconds"
    if args.to_version:
        from ddex_otel.ern.builder import normalize_version
        from ddex_otel.ern.errors import UnsupportedVersionError

        try:
            normalize_version(args.to_version)
        except UnsupportedVersionError as exc:
            return str(exc)
    for option in ("csv", "json", "html"):
        target = getattr(args, option)
        if target:
            try:
                check_writable(target)  # before the run, not after it
            except OSError as exc:
                return output_problem(f"--{option}", target, exc)
    return None


def _write_profile_outputs(args: argparse.Namespace, profiler: Any, snapshots: Any, handle: Any) -> int:
    """Write the ``--csv``, ``--json`` and ``--html`` files asked for; 1 if a run or a write failed, else 0."""
    from ddex_otel.monitoring.report import write_report
    from ddex_otel.stack.links import spans_went_to_otlp

    results = profiler.results
    runs = f"{len(args.files)} file(s) × {args.runs} run(s)"
    writers = {
        "csv": profiler.export_csv,
        "json": profiler.export_json,
        "html": lambda path: write_report(path, results, snapshots, notes=[runs, *(_destinations(handle))],
                                          link_traces=spans_went_to_otlp(handle)),
    }
    status = 0 if all(r.success for r in results) else 1
    console = _console()
    for option, write in writers.items():
        target = getattr(args, option)
        if not target:
            continue
        try:
            write(target)
        except OSError as exc:  # e.g. the directory went away during the run: one line, the others still written
            print(f"ddex-otel: error: {output_problem(f'--{option}', target, exc)}", file=sys.stderr)
            status = 1
            continue
        console.print(f"wrote {target}")
        if option == "html":
            from ddex_otel.extras import charts_missing

            if no_charts := charts_missing():
                print(f"ddex-otel: note: {target} has no charts: {no_charts}", file=sys.stderr)
    return status


def _profile_files(profiler: Any, args: argparse.Namespace) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ddex_otel import ern

    console = _console(stderr=True)
    with Progress(TextColumn("[bold]profile[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("", total=args.runs * len(args.files))
        for run in range(args.runs):
            for path in args.files:
                progress.update(task, description=os.path.basename(path))
                message = None
                try:
                    with profiler.profile("parse", file=path, run=run):
                        message = ern.parse(path)
                except ern.DDEXError:
                    pass  # recorded as a failed profile; the other files go on
                if message is not None and not args.no_build:
                    try:
                        with profiler.profile("build", file=path, run=run):
                            ern.build(message, _build_target(message, args.to_version))
                    except ern.DDEXError:
                        pass
                progress.advance(task)


def _print_profile(results: list, handle: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ddex_otel.monitoring.report import summary_rows

    console = _console()
    table = Table(title="profile", title_justify="left")
    table.add_column("operation", no_wrap=True)
    for column in ("runs", "failed", "p50 ms", "p95 ms", "max ms", "avg CPU %", "peak RSS MiB"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in summary_rows(results):
        table.add_row(row.name, str(row.runs), str(row.failed), _ms(row.p50), _ms(row.p95), _ms(row.max),
                      "—" if math.isnan(row.cpu_avg) else f"{row.cpu_avg:.0f}",
                      "—" if row.memory_peak is None else f"{row.memory_peak / 1048576:.1f}")
    console.print(table)
    failures: dict[tuple[str, str, str], int] = {}
    for r in results:
        if not r.success:
            key = (str((r.metadata or {}).get("file", "")), r.name, r.error or "")
            failures[key] = failures.get(key, 0) + 1
    for (path, name, error), times in failures.items():
        console.print(f"[red]failed[/red] {escape(path)} ({name}, {times}×): {escape(error)}", overflow="fold")
    console.print("[bold]telemetry went to:[/bold]")
    for line in _destinations(handle):
        console.print(f"  {escape(line)}", overflow="fold")
