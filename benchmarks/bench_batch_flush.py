"""When a batch worker flushes its spans: after each file (what ``process_file`` does) or only at exit.

    .venv/bin/python benchmarks/bench_batch_flush.py --endpoint http://127.0.0.1:4317 [--copies 5]
        [--workers 2] [--rounds 3]

Runs ``run_batch`` over the DDEX samples (each copied ``--copies`` times) in interleaved rounds:

  flush-each   the worker's tracer provider is flushed after each file, before the result is
               returned (the default: nothing is lost when a worker is killed)
  exit-only    spans leave through the BatchSpanProcessor's schedule and the worker's
               multiprocessing Finalize at its normal exit (lost if the pool terminates it)

and prints the median wall time per variant and the cost of flushing per file. Without
``--endpoint`` the workers write offline files to a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ddex_otel.monitoring import batch_runner as B

REPO = Path(__file__).resolve().parents[1]


def process_file_exit_only(task: B.FileTask) -> B.FileResult:
    """``process_file`` without its per-file flush (the worker's handle is hidden for the call)."""
    state = B._state
    handle = state.handle if state is not None else None
    if state is not None:
        state.handle = None
    try:
        return B.process_file(task)
    finally:
        if state is not None:
            state.handle = handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint")
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", default=str(REPO.parent / "shared" / "ddex-samples"))
    args = parser.parse_args(argv)

    from ddex_otel.telemetry.setup import configure

    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    folder = scratch / "in"
    folder.mkdir()
    for i in range(args.copies):
        for sample in sorted(Path(args.samples).glob("*.xml")):
            shutil.copy(sample, folder / f"{sample.stem}-{i}.xml")
    paths = B.find_inputs([str(folder)])
    offline = None if args.endpoint else str(scratch / "telemetry")
    handle = configure(endpoint=args.endpoint, offline_dir=offline, service_name="bench-batch-flush")
    settings = B.WorkerTelemetry(endpoint=args.endpoint, offline_dir=offline, service_name="bench-batch-flush")
    options = B.BatchOptions(workers=args.workers, telemetry=settings)
    variants = {"flush-each": B.process_file, "exit-only": process_file_exit_only}
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(args.rounds):
            for name, worker in variants.items():
                t0 = time.perf_counter()
                result = B.run_batch(paths, options, worker=worker)
                times[name].append(time.perf_counter() - t0)
                assert result.failed == 0, [f.error for f in result.files if not f.ok]
    finally:
        handle.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    n = len(paths)
    print(f"{n} files, {args.workers} workers, {args.rounds} rounds, "
          f"{'OTLP ' + args.endpoint if args.endpoint else 'offline files'}; pool start-up included")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"  {name:<11} median {median:6.2f} s   {n / median:6.1f} files/s")
    extra = (medians["flush-each"] - medians["exit-only"]) / n * args.workers
    print(f"  flushing after each file costs {extra * 1000:+.2f} ms per file per worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
