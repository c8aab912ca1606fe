"""ResourceMonitor: window trimming (injected clock), summary against hand-computed values, the
real sampler thread, its own CPU cost, ``monitored`` and ``process_with_monitoring``."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from monitoring_support import FakeClock

from ddex_otel import ern
from ddex_otel.monitoring import ResourceMonitor, ResourceSnapshot, monitored, process_with_monitoring


def _snap(t: float, rss: int, cpu: float, threads: int = 1, fds: int = 3, gc_total: int = 0) -> ResourceSnapshot:
    return ResourceSnapshot(t, rss, cpu, threads, fds, (gc_total, 0, 0))


def test_window_drops_old_snapshots(clock: FakeClock) -> None:
    rm = ResourceMonitor(interval=1.0, window=10.0, clock=clock)
    t0 = clock.now
    for dt in (0, 4, 8, 12):
        clock.now = t0 + dt
        rm.sample_now()
    # at t0 + 12 the window starts at t0 + 2: the first snapshot is gone
    assert [s.time - t0 for s in rm.snapshots()] == [4, 8, 12]
    clock.now = t0 + 21  # window starts at t0 + 11
    assert [s.time - t0 for s in rm.snapshots()] == [12]
    clock.now = t0 + 100
    assert rm.snapshots() == []
    assert rm.summary()["samples"] == 0


def test_summary_hand_computed(clock: FakeClock) -> None:
    rm = ResourceMonitor(window=1000.0, clock=clock)
    t0 = clock.now
    rm.add(_snap(t0, 100, 10.0, threads=2, fds=5, gc_total=10))
    rm.add(_snap(t0 + 1, 300, 70.0, threads=4, fds=7, gc_total=12))
    rm.add(_snap(t0 + 2, 200, 30.0, threads=3, fds=6, gc_total=15))
    clock.now = t0 + 2
    assert rm.summary() == {
        "peak_memory": 300,
        "avg_memory": 200.0,
        "avg_cpu": 110 / 3,
        "peak_cpu": 70.0,
        "samples": 3,
        "duration_s": 2.0,
        "peak_threads": 4,
        "peak_open_files": 7,
        "gc_collections": 5,
    }


def test_real_snapshots_match_the_process() -> None:
    rm = ResourceMonitor(interval=0.02, window=60.0)
    with rm:
        deadline = time.monotonic() + 10
        while len(rm.snapshots()) < 4 and time.monotonic() < deadline:
            time.sleep(0.005)  # waiting for the sampler, not synchronising on it
        assert rm.running
    assert not rm.running
    snaps = rm.snapshots()
    assert len(snaps) >= 5  # start + >= 3 from the thread + stop
    proc = psutil.Process()
    last = snaps[-1]
    assert last.rss == pytest.approx(proc.memory_info().rss, rel=0.2)
    assert last.threads >= 1
    assert abs(last.open_files - proc.num_fds()) <= 2
    assert len(last.gc_counts) == 3
    times = [s.time for s in snaps]
    assert times == sorted(times)
    summary = rm.summary()
    assert summary["samples"] == len(snaps)
    assert summary["peak_memory"] == max(s.rss for s in snaps)
    assert summary["duration_s"] == pytest.approx(times[-1] - times[0])


def test_own_cpu_cost_is_under_one_percent_of_a_core_at_one_second() -> None:
    """Sampler thread CPU per snapshot (exact thread clock); at a 1 s interval that is its share
    of a core. Sampled fast here so 200 snapshots take ~2 s."""
    rm = ResourceMonitor(interval=0.01, window=60.0)
    with rm:
        deadline = time.monotonic() + 30
        while len(rm.snapshots()) < 202 and time.monotonic() < deadline:
            time.sleep(0.05)
    taken_by_thread = len(rm.snapshots()) - 2  # start() and stop() run on this thread
    assert taken_by_thread >= 200
    per_snapshot = rm.own_cpu_time / taken_by_thread
    share_at_1s = per_snapshot / 1.0
    print(f"\nResourceMonitor: {per_snapshot * 1e6:.0f} µs CPU per snapshot = {share_at_1s * 100:.3f} % of a core at 1 s")
    assert 0 < share_at_1s < 0.01


def test_monitored_returns_result_and_summary() -> None:
    @monitored
    def work(n: int) -> int:
        return sum(range(n))

    result, summary = work(100_000)
    assert result == sum(range(100_000))
    assert summary["samples"] >= 2 and summary["peak_memory"] > 0

    @monitored(interval=0.5)
    def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fails()


def test_process_with_monitoring(sample: Path) -> None:
    message, summary = process_with_monitoring(sample)
    assert isinstance(message, ern.Message)
    assert message.releases
    assert summary["samples"] >= 2
    assert summary["peak_memory"] >= summary["avg_memory"] > 0


def test_cpu_percent_is_bounded_by_the_cores(clock: FakeClock) -> None:
    import os

    rm = ResourceMonitor(window=1000.0, clock=clock)
    t0 = clock.now
    ceiling = 100.0 * (os.cpu_count() or 1)
    # 50 CPU seconds in 1 wall second: impossible on this machine (a tick-rounding artefact)
    rm.add(ResourceSnapshot(t0, 100, float("nan"), 1, 3, (0, 0, 0), 10.0))
    rm.add(ResourceSnapshot(t0 + 1, 100, 5000.0, 1, 3, (0, 0, 0), 60.0))
    summary = rm.summary()
    assert summary["avg_cpu"] == ceiling and summary["peak_cpu"] == ceiling


def test_cpu_percent_is_none_over_a_window_too_short_to_measure(clock: FakeClock) -> None:
    from ddex_otel.monitoring.resource_monitor import MIN_CPU_WINDOW_S

    rm = ResourceMonitor(window=1000.0, clock=clock)
    t0 = clock.now
    rm.add(ResourceSnapshot(t0, 100, float("nan"), 1, 3, (0, 0, 0), 1.0))
    rm.add(ResourceSnapshot(t0 + MIN_CPU_WINDOW_S / 2, 100, 400.0, 1, 3, (0, 0, 0), 1.02))
    assert rm.summary()["avg_cpu"] is None and rm.summary()["peak_cpu"] is None
    assert ResourceMonitor(window=10.0).summary()["avg_cpu"] is None  # no snapshot at all


def test_a_real_block_reports_a_possible_cpu_figure_or_none() -> None:
    import os

    ceiling = 100.0 * (os.cpu_count() or 1)
    with ResourceMonitor(interval=0.01) as rm:  # start and stop at once: too short to measure
        pass
    assert rm.summary()["avg_cpu"] is None
    with ResourceMonitor(interval=0.02) as rm:
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:  # busy for 0.3 s, bounded in time
            sum(range(1000))
    summary = rm.summary()
    assert summary["avg_cpu"] is not None and 0.0 < summary["avg_cpu"] <= ceiling
    assert all(s.cpu_percent <= ceiling for s in rm.snapshots() if s.cpu_percent == s.cpu_percent)
