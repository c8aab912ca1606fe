"""One telemetry workload in its own process, for bench_delivery.py and tests/integration/test_delivery_faults.py.

    python benchmarks/delivery_workload.py --endpoint URL [--protocol grpc] [--parses 400] [--rate 400]
        [--stage-spans] [--workers N --mode fork|os-fork|pool [--parent-parses N]]

Parses the 75 KB DDEX sample ``--parses`` times (paced at ``--rate`` per second when given) with
``ddex_otel.configure()``, then shuts telemetry down. Prints, one per line on stdout:
``WORK_DONE <epoch seconds>`` when the work ends, then one JSON object with the delivery counters
(``handle.delivery``), the shutdown's duration and the expected span count.

With ``--workers`` the parses are split between worker processes started *after* configure():
``fork`` (multiprocessing.Process, fork start method), ``os-fork`` (os.fork, child leaves with
sys.exit) or ``pool`` (concurrent.futures.ProcessPoolExecutor, fork context). ``--parent-parses``
makes the parent export spans of its own before it forks (the children inherit a connected
exporter) and go on exporting while they work.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("DDEX_SAMPLES_DIR") or REPO.parent / "shared" / "ddex-samples") / "daddykev__Samples43_1_Audio.xml"


def parse_many(count: int, rate: float | None = None) -> int:
    from ddex_otel import ern

    began = time.monotonic()
    for i in range(count):
        if rate:
            wait = began + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        ern.parse(str(SAMPLE))
    return count


def _start(thread: threading.Thread | None) -> None:
    if thread is not None:
        thread.start()


def _pool_task(count: int) -> int:
    return parse_many(count)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint")
    p.add_argument("--protocol", default="grpc")
    p.add_argument("--parses", type=int, default=400)
    p.add_argument("--rate", type=float, help="parses per second (default: as fast as possible)")
    p.add_argument("--stage-spans", action="store_true")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--mode", choices=("fork", "os-fork", "pool"), default="fork")
    p.add_argument("--parent-parses", type=int, default=0,
                   help="with --workers: parses the parent makes itself, half exported before it forks "
                        "(the children inherit an exporter that has connected), half while they work")
    args = p.parse_args(argv)

    import ddex_otel

    handle = ddex_otel.configure(endpoint=args.endpoint, protocol=args.protocol,
                                 instrument_options={"stage_spans": args.stage_spans}, process_metrics=False)
    per_worker = args.parses // args.workers if args.workers else 0
    parent_work = None
    if args.workers and args.parent_parses:
        before_fork = args.parent_parses // 2
        parse_many(before_fork)
        if not handle.force_flush():
            print("the parent's spans were not exported before the fork", file=sys.stderr)
            return 1
        # the rest while the children work, on a thread started after the fork (see below)
        parent_work = threading.Thread(target=parse_many, args=(args.parent_parses - before_fork, 200.0))
    if not args.workers:
        parse_many(args.parses, args.rate)
    elif args.mode == "fork":
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=parse_many, args=(per_worker,)) for _ in range(args.workers)]
        for proc in procs:
            proc.start()
        _start(parent_work)
        for proc in procs:
            proc.join(120)
    elif args.mode == "os-fork":
        pids = []
        for _ in range(args.workers):
            pid = os.fork()
            if pid == 0:
                parse_many(per_worker)
                sys.exit(0)  # a normal exit: atexit (and so our shutdown) runs in the child
            pids.append(pid)
        _start(parent_work)
        for pid in pids:
            os.waitpid(pid, 0)
    else:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("fork")) as pool:
            tasks = pool.map(_pool_task, [per_worker] * args.workers)
            _start(parent_work)
            list(tasks)
    if parent_work is not None:
        parent_work.join(120)
    print(f"WORK_DONE {time.time():.6f}", flush=True)
    started = time.monotonic()
    handle.shutdown()
    shutdown_s = time.monotonic() - started
    spans_per_parse = 5 if args.stage_spans else 1  # ddex.parse + 4 stage spans
    parses = per_worker * args.workers + args.parent_parses if args.workers else args.parses
    expected = parses * spans_per_parse
    print(json.dumps({"delivery": handle.delivery.as_dict(), "shutdown_s": shutdown_s, "expected_spans": expected,
                      "pid": os.getpid()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
