"""``ResourceMonitor``: the process's resources over time, in a sliding window.

    with ResourceMonitor(interval=1.0, window=300.0) as rm:
        run_batch()
    rm.summary()   # peak/avg memory, avg/peak CPU %, samples, duration_s, …

    message, summary = process_with_monitoring("release.xml")
    result, summary = monitored(my_function)(arg)

A background thread takes a ``ResourceSnapshot`` every ``interval`` seconds — time, RSS, CPU %
since the previous snapshot, threads, open file descriptors, GC collections per generation, the
process's CPU seconds so far — with psutil, the library behind the ``process.*`` gauges
(``ddex_otel.telemetry.resource_usage``), so the figures agree with Prometheus. Snapshots older than
``window`` seconds are dropped. ``start()`` and ``stop()`` each take a snapshot too, so even a
short block has a first and a last.

CPU % is CPU seconds over wall seconds × 100, bounded by the number of cores × 100. The kernel
counts CPU time in whole clock ticks (``SC_CLK_TCK`` a second), so over less than ``MIN_CPU_WINDOW_S`` it cannot be
measured: a snapshot's ``cpu_percent`` is then nan, and the summary's ``avg_cpu`` / ``peak_cpu``
None. ``avg_cpu`` is exact over the whole window (first to last snapshot), not a mean of samples.

Cost: one snapshot is a handful of ``/proc`` reads; the sampler thread's own CPU time is kept in
``own_cpu_time`` (see docs/monitoring.md for the measured figure).
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

_logger = logging.getLogger(__name__)

#: Shortest wall time over which a CPU percentage is measured: the kernel adds CPU time a whole
#: clock tick (``os.sysconf('SC_CLK_TCK')``) at a time, so the window spans several ticks and one
#: tick more or less cannot turn an idle process into a busy one.
MIN_CPU_WINDOW_S = 0.05

T = TypeVar("T")


class ResourceSnapshot(NamedTuple):
    """One reading of the process (``time`` in epoch seconds, ``rss`` in bytes).

    ``cpu_percent`` covers the time since the previous reading (nan when that is too short to
    measure); ``cpu_time`` is the process's user + system CPU seconds so far (None when unknown).
    """

    time: float
    rss: int
    cpu_percent: float
    threads: int
    open_files: int
    gc_counts: tuple[int, ...]  # collections so far per generation (as ``cpython.gc.collections``)
    cpu_time: float | None = None


def cpu_ceiling() -> float:
    """The highest CPU % a process can have here: the number of cores × 100."""
    import os

    return 100.0 * (os.cpu_count() or 1)


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float | None:
    """CPU seconds over wall seconds × 100, bounded by ``cpu_ceiling()``; None over too short a time."""
    if not wall_seconds >= MIN_CPU_WINDOW_S:
        return None
    return min(max(0.0, cpu_seconds / wall_seconds * 100.0), cpu_ceiling())


class ResourceMonitor:
    """Samples the process every ``interval`` s, keeps ``window`` s of snapshots (thread-safe).

    ``clock`` (default ``time.time``) stamps snapshots and decides what falls out of the window.
    """

    def __init__(
        self, interval: float = 1.0, window: float = 300.0, *, clock: Callable[[], float] = time.time
    ) -> None:
        if interval <= 0 or window <= 0:
            raise ValueError("interval and window must be positive")
        import psutil

        self.interval = interval
        self.window = window
        self._clock = clock
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._snapshots: deque[ResourceSnapshot] = deque()
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._own_cpu = 0.0
        self._started_at: float | None = None
        self._stopped_at: float | None = None
        self._has_fds = hasattr(self._process, "num_fds")
        self._last_cpu: tuple[float, float] | None = None  # (monotonic, CPU seconds) of the last read
        self._read_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ResourceMonitor:
        """Take a first snapshot and start the sampler thread (no-op when running)."""
        if self._thread is not None:
            return self
        self._stop_event.clear()
        self._started_at = self._clock()
        self._stopped_at = None
        self._last_cpu = None  # start()'s snapshot has no CPU %: it covers no interval
        self.sample_now()
        self._thread = threading.Thread(target=self._run, name="ddex-otel-resources", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the sampler thread and take a last snapshot (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop_event.set()
        thread.join(timeout=max(5.0, self.interval * 2))
        self.sample_now()
        self._stopped_at = self._clock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> ResourceMonitor:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop_event.wait(self.interval):
            cpu0 = time.thread_time()
            try:
                self.sample_now()
            except Exception:  # a monitor must not take the process down
                _logger.debug("resource snapshot failed", exc_info=True)
            self._own_cpu += time.thread_time() - cpu0

    # -- sampling ----------------------------------------------------------------------------
    def read(self) -> ResourceSnapshot:
        """A snapshot of the process now (not stored)."""
        proc = self._process  # no oneshot(): these read different /proc files, caching only adds cost
        rss = int(proc.memory_info().rss)
        times = proc.cpu_times()
        cpu_time = float(times.user + times.system)
        with self._read_lock:  # the sampler thread and stop() may read at once
            now = time.monotonic()
            last, self._last_cpu = self._last_cpu, (now, cpu_time)
        percent = cpu_percent(cpu_time - last[1], now - last[0]) if last is not None else None
        threads = int(proc.num_threads())
        fds = int(proc.num_fds()) if self._has_fds else len(proc.open_files())
        counts = tuple(int(g.get("collections", 0)) for g in gc.get_stats())
        return ResourceSnapshot(self._clock(), rss, math.nan if percent is None else percent, threads, fds,
                                counts, cpu_time)

    def sample_now(self) -> ResourceSnapshot:
        """Take a snapshot, store it, drop those that left the window; returns it."""
        snapshot = self.read()
        self.add(snapshot)
        return snapshot

    def add(self, snapshot: ResourceSnapshot) -> None:
        """Store a snapshot (``sample_now`` does this; public for tests and replays)."""
        with self._lock:
            self._snapshots.append(snapshot)
            self._trim(snapshot.time)

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        snaps = self._snapshots
        while snaps and snaps[0].time < horizon:
            snaps.popleft()

    # -- results -----------------------------------------------------------------------------
    def snapshots(self) -> list[ResourceSnapshot]:
        """Snapshots within the window, oldest first."""
        with self._lock:
            self._trim(self._clock())
            return list(self._snapshots)

    @property
    def own_cpu_time(self) -> float:
        """CPU seconds the sampler thread has spent taking snapshots."""
        return self._own_cpu

    def summary(self) -> dict[str, Any]:
        """peak_memory, avg_memory (bytes), avg_cpu, peak_cpu (%, None when the window is too
        short to measure), samples, duration_s (first to last snapshot), peak_threads,
        peak_open_files, gc_collections (collections between the first and last snapshot, all
        generations)."""
        snaps = self.snapshots()
        n = len(snaps)
        if not n:
            return {
                "peak_memory": 0, "avg_memory": 0.0, "avg_cpu": None, "peak_cpu": None, "samples": 0,
                "duration_s": 0.0, "peak_threads": 0, "peak_open_files": 0, "gc_collections": 0,
            }
        first, last = snaps[0], snaps[-1]
        measured = [s.cpu_percent for s in snaps if not math.isnan(s.cpu_percent)]
        if first.cpu_time is not None and last.cpu_time is not None:
            avg_cpu = cpu_percent(last.cpu_time - first.cpu_time, last.time - first.time)
        elif measured and last.time - first.time >= MIN_CPU_WINDOW_S:  # snapshots added without CPU seconds
            avg_cpu = min(math.fsum(measured) / len(measured), cpu_ceiling())
        else:
            avg_cpu = None
        return {
            "peak_memory": max(s.rss for s in snaps),
            "avg_memory": math.fsum(s.rss for s in snaps) / n,
            "avg_cpu": avg_cpu,
            "peak_cpu": min(max(measured), cpu_ceiling()) if measured and avg_cpu is not None else None,
            "samples": n,
            "duration_s": snaps[-1].time - snaps[0].time,
            "peak_threads": max(s.threads for s in snaps),
            "peak_open_files": max(s.open_files for s in snaps),
            "gc_collections": sum(snaps[-1].gc_counts) - sum(snaps[0].gc_counts),
        }


def monitored(
    fn: Callable[..., T] | None = None, *, interval: float = 0.1, window: float = 3600.0
) -> Any:
    """Decorator: the wrapped call returns ``(result, ResourceMonitor.summary())``.

    ``@monitored`` or ``@monitored(interval=0.5)``. Exceptions propagate (no summary then).
    """

    def decorate(func: Callable[..., T]) -> Callable[..., tuple[T, dict[str, Any]]]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> tuple[T, dict[str, Any]]:
            with ResourceMonitor(interval=interval, window=window) as rm:
                result = func(*args, **kwargs)
            return result, rm.summary()

        return wrapper

    return decorate(fn) if fn is not None else decorate


def process_with_monitoring(source: Any, *, interval: float = 0.1) -> tuple[Any, dict[str, Any]]:
    """Parse ``source`` (path, bytes, file) while monitoring the process: ``(message, summary)``."""
    from ddex_otel import ern

    with ResourceMonitor(interval=interval, window=3600.0) as rm:
        message = ern.parse(source)
    return message, rm.summary()
