"""``ddex-otel bench``: run the suite, print or write the results, compare with a baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from ddex_otel.bench.compare import DEFAULT_THRESHOLD, compare_results
from ddex_otel.bench.report import html_page, print_comparison, print_run
from ddex_otel.bench.runner import run_suite
from ddex_otel.extras import charts_missing
from ddex_otel.outputs import check_writable, output_problem, write_text


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``bench`` command to the top-level CLI's subparsers."""
    bench = subparsers.add_parser(
        "bench",
        help="run the benchmark suite (parse, build, round trip, streaming memory; JSON, baseline compare)",
        description="Time parse (1 KB … 1 MB), build (simple, complex), a round trip and a 10 MB+ stream "
        "in interleaved rounds; print medians, check the regression bars, optionally compare with a "
        "stored baseline (exit status 1 on a regression or a failed bar).",
    )
    bench.add_argument("--quick", action="store_true", help="few rounds and a small stream (a smoke run)")
    bench.add_argument("--rounds", type=int, help="interleaved rounds (default 15, quick 3)")
    bench.add_argument("--stream-mb", type=float, help="size of the streamed message in MB (default 12, quick 2)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    bench.add_argument("-o", "--output", type=Path, help="also write the results as JSON to this file")
    bench.add_argument("--html", type=Path, help="write an HTML page with the table and a plot")
    bench.add_argument("--compare", type=Path, metavar="BASELINE.json", help="flag figures worse than this run's")
    bench.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                       help=f"ratio that counts as a regression (default {DEFAULT_THRESHOLD})")
    bench.add_argument("--no-ddex-suite", action="store_true", help="leave out the DDEX Suite column")
    bench.set_defaults(func=_bench)
    return bench


def _output_error(flag: str, target: Path, exc: OSError) -> str:
    return f"ddex-otel bench: error: {output_problem(flag, target, exc)}"


def _bench(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    outputs = [("--output", args.output), ("--html", args.html)]
    for flag, target in outputs:
        if target is not None:
            try:
                check_writable(target)  # before a run of minutes, not after it
            except OSError as exc:
                print(_output_error(flag, target, exc), file=sys.stderr)
                return 2
    baseline: dict[str, Any] | None = None
    if args.compare is not None:
        try:
            baseline = json.loads(args.compare.read_text())
        except (OSError, ValueError) as exc:
            print(f"ddex-otel bench: cannot read baseline {args.compare}: {exc}", file=sys.stderr)
            return 2
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("bench", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        run = run_suite(quick=args.quick, rounds=args.rounds, stream_mb=args.stream_mb, progress=progress,
                        suite=not args.no_ddex_suite)
    status = 0 if all(b["ok"] for b in run["bars"]) else 1
    if not args.no_ddex_suite and not run.get("ddex_suite_installed"):
        from ddex_otel.extras import install_hint

        print(f"ddex-otel bench: note: {install_hint('ddex-suite', 'the DDEX Suite column')} "
              "(or --no-ddex-suite)", file=sys.stderr)
    comparisons = []
    if baseline is not None:
        comparisons = compare_results(run, baseline, args.threshold)
        run["comparison"] = {"baseline": str(args.compare), "threshold": args.threshold,
                             "regressions": [c.__dict__ for c in comparisons if c.regression]}
        if any(c.regression for c in comparisons):
            status = 1
    text = json.dumps(run, indent=2)
    for flag, target in outputs:
        if target is not None:
            try:
                write_text(target, text + "\n" if flag == "--output" else html_page(run))
            except OSError as exc:  # the directory went away during the run …
                print(_output_error(flag, target, exc), file=sys.stderr)
                status = 1
                continue
            if flag == "--html" and (no_charts := charts_missing()):
                print(f"ddex-otel bench: note: {target} has no chart: {no_charts}", file=sys.stderr)
    if args.json:
        print(text)
    else:
        out = Console(width=max(Console().width, 130))
        print_run(run, out)
        if baseline is not None:
            print_comparison(comparisons, args.threshold, out)
    return status
