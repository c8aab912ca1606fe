"""Own CPU cost of ``ResourceMonitor`` (a benchmark, not a timed test).

    .venv/bin/python benchmarks/bench_resources.py [--seconds 10] [--interval 1.0]

Runs an otherwise idle process for ``--seconds`` without a monitor, then for as long with a
``ResourceMonitor(interval)`` running, and reports:

  * process CPU time (``time.process_time``, exact) with minus without, as % of one core: the
    whole cost, thread wake-ups included;
  * the sampler thread's own clock (``ResourceMonitor.own_cpu_time``): CPU per snapshot.

The target is < 1 % of a core at the default 1 s interval.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence

from ddex_otel.monitoring import ResourceMonitor


def idle_cpu(seconds: float, monitor: ResourceMonitor | None) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) of ``seconds`` of doing nothing (with ``monitor`` running)."""
    done = threading.Event()
    if monitor is not None:
        monitor.start()
    c0, t0 = time.process_time(), time.monotonic()
    done.wait(seconds)  # the main thread idles; only the sampler (if any) works
    c1, t1 = time.process_time(), time.monotonic()
    if monitor is not None:
        monitor.stop()
    return c1 - c0, t1 - t0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)

    without_cpu, without_wall = idle_cpu(args.seconds, None)
    monitor = ResourceMonitor(interval=args.interval, window=3600.0)
    with_cpu, with_wall = idle_cpu(args.seconds, monitor)
    by_thread = len(monitor.snapshots()) - 2  # start() and stop() snapshot on the main thread
    share = (with_cpu / with_wall - without_cpu / without_wall) * 100
    per_snapshot = monitor.own_cpu_time / by_thread if by_thread > 0 else float("nan")
    print(f"python {sys.version.split()[0]}, interval={args.interval} s, {args.seconds:.0f} s each")
    print(f"  process CPU without monitor: {without_cpu * 1e3:8.2f} ms over {without_wall:.1f} s")
    print(f"  process CPU with monitor:    {with_cpu * 1e3:8.2f} ms over {with_wall:.1f} s ({by_thread} snapshots)")
    print(f"  monitor cost: {share:.3f} % of one core (target < 1 %)")
    print(f"  sampler thread: {per_snapshot * 1e6:.0f} µs CPU per snapshot "
          f"= {per_snapshot / args.interval * 100:.3f} % of a core at this interval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
