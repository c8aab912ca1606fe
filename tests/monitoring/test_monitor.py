"""PerformanceMonitor: statistics against hand-computed values, bounds, expiry, threads, and the
real engine's operation spans (local SDK provider, in-memory exporter)."""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from monitoring_support import FakeClock, Traces

from ddex_otel import ern
from ddex_otel.monitoring import PerformanceMonitor
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

DURATIONS = [0.5, 0.1, 0.4, 0.2, 0.3]  # recorded at t = 100, 101, 102, 103, 104


@pytest.fixture
def five(clock: FakeClock) -> PerformanceMonitor:
    mon = PerformanceMonitor(max_age=None, clock=clock)
    for i, d in enumerate(DURATIONS):
        clock.now = 100.0 + i
        mon.record("parse", d, success=(i != 2))
    return mon


# -- statistics ---------------------------------------------------------------------------------


def test_count_mean_min_max(five: PerformanceMonitor) -> None:
    assert five.count("parse") == 5
    assert five.mean("parse") == pytest.approx(0.3)
    assert five.min("parse") == 0.1
    assert five.max("parse") == 0.5
    assert five.error_rate("parse") == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0, 0.1),  # ceil(0) - 1 = -1, clamped: the minimum
        (20, 0.1),  # ceil(1.0) - 1 = 0
        (21, 0.2),  # ceil(1.05) - 1 = 1
        (50, 0.3),  # ceil(2.5) - 1 = 2
        (80, 0.4),  # ceil(4.0) - 1 = 3
        (81, 0.5),  # ceil(4.05) - 1 = 4
        (95, 0.5),
        (100, 0.5),  # the maximum
    ],
)
def test_percentile_nearest_rank(five: PerformanceMonitor, p: float, expected: float) -> None:
    assert five.percentile("parse", p) == expected


@pytest.mark.parametrize("p", [0, 1, 50, 99, 100])
def test_percentile_of_one_value(p: float) -> None:
    mon = PerformanceMonitor()
    mon.record("x", 0.7)
    assert mon.percentile("x", p) == 0.7


def test_percentile_rejects_out_of_range(five: PerformanceMonitor) -> None:
    with pytest.raises(ValueError):
        five.percentile("parse", 101)
    with pytest.raises(ValueError):
        five.percentile("parse", -1)


def test_time_range(five: PerformanceMonitor) -> None:
    # t = 101, 102, 103 -> durations 0.1, 0.4 (failed), 0.2
    assert five.count("parse", start=101, end=103) == 3
    assert five.mean("parse", 101, 103) == pytest.approx(0.7 / 3)
    assert five.min("parse", 101, 103) == 0.1
    assert five.max("parse", 101, 103) == 0.4
    assert five.percentile("parse", 50, 101, 103) == 0.2  # sorted .1 .2 .4, ceil(1.5) - 1 = 1
    assert five.error_rate("parse", 101, 103) == pytest.approx(1 / 3)
    assert five.count("parse", start=103) == 2
    assert five.count("parse", end=100) == 1
    assert five.count("parse", start=200) == 0


def test_empty_queries() -> None:
    mon = PerformanceMonitor()
    assert mon.count("nothing") == 0
    assert mon.error_rate("nothing") == 0.0
    for value in (mon.mean("nothing"), mon.min("nothing"), mon.max("nothing"), mon.percentile("nothing", 95)):
        assert math.isnan(value)
    assert mon.names() == []


def test_aggregates(five: PerformanceMonitor, clock: FakeClock) -> None:
    clock.now = 105.0
    five.record("build", 2.0, success=False)
    five.record("build", 4.0)
    agg = five.aggregates()
    assert agg["parse.duration"] == 0.5  # p95
    assert agg["parse.duration.mean"] == pytest.approx(0.3)
    assert agg["parse.count"] == 5
    assert agg["parse.error_rate"] == pytest.approx(0.2)
    assert agg["build.duration"] == 4.0
    assert agg["build.duration.mean"] == 3.0
    assert agg["error.rate"] == pytest.approx(2 / 7)
    rss_mb = psutil.Process().memory_info().rss / 1e6
    assert agg["memory.usage"] == pytest.approx(rss_mb, rel=0.2)
    windowed = five.aggregates(start=104.5)
    assert "parse.count" not in windowed
    assert windowed["build.count"] == 2
    assert windowed["error.rate"] == 0.5


# -- measure / record ---------------------------------------------------------------------------


def test_measure_context_manager_and_callable() -> None:
    mon = PerformanceMonitor()
    with mon.measure("step", batch="b1") as m:
        m.metadata["items"] = 3
        sum(range(1000))
    assert mon.count("step") == 1
    rec = mon.records("step")[0]
    assert rec.success and rec.duration_s == m.duration_s and rec.duration_s > 0
    assert rec.metadata == {"batch": "b1", "items": 3}
    assert mon.measure("call", lambda a, b: a + b, 2, 3, source="t") == 5
    assert mon.records("call")[0].metadata == {"source": "t"}


def test_measure_failure_is_recorded_and_reraised() -> None:
    mon = PerformanceMonitor()
    with pytest.raises(KeyError):
        with mon.measure("step"):
            raise KeyError("x")

    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        mon.measure("step", boom)
    assert mon.count("step") == 2
    assert mon.error_rate("step") == 1.0
    assert [r.metadata["error.type"] for r in mon.records("step")] == ["KeyError", "ValueError"]


# -- bounds ---------------------------------------------------------------------------------------


def test_cap_is_a_ring_buffer() -> None:
    mon = PerformanceMonitor(max_per_name=100, max_age=None)
    for i in range(1000):
        mon.record("op", float(i))
    assert mon.count("op") == 100
    assert mon.min("op") == 900.0 and mon.max("op") == 999.0  # the newest are kept
    assert mon.dropped == {"cap": 900, "age": 0, "names": 0}


def test_names_are_bounded() -> None:
    mon = PerformanceMonitor(max_names=2)
    for name in ("a", "b", "c", "c"):
        mon.record(name, 1.0)
    assert mon.names() == ["a", "b"]
    assert mon.dropped["names"] == 2


def test_million_records_stay_bounded() -> None:
    mon = PerformanceMonitor()  # defaults: 10 000 per name, 1 h
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    names = ("parse", "build", "validate", "stream")
    for i in range(1_000_000):
        mon.record(names[i & 3], 0.001 * (i % 97), memory_delta=i, file="f.xml")
    gc.collect()
    growth = psutil.Process().memory_info().rss - rss0
    for name in names:
        assert mon.count(name) == 10_000
    assert mon.dropped["cap"] == 1_000_000 - 40_000
    # 40 000 kept records with a metadata dict each: ~ 20 MB at most; unbounded would be ~ 500 MB.
    assert growth < 60e6, f"RSS grew by {growth / 1e6:.1f} MB"


def test_max_age_expires_records(clock: FakeClock) -> None:
    mon = PerformanceMonitor(max_age=60.0, clock=clock)
    start = clock.now
    for i in range(10):
        clock.now = start + i * 10  # t = 0, 10, …, 90
        mon.record("op", float(i))
    # at t = 90 the horizon is 30: records at 0, 10, 20 went as the later ones arrived
    assert mon.count("op") == 7
    assert mon.dropped["age"] == 3
    clock.now = start + 145  # horizon 85: only t = 90 is left
    assert mon.count("op") == 1
    assert mon.min("op") == 9.0
    assert mon.dropped["age"] == 9
    clock.now = start + 1000
    assert mon.names() == []
    assert mon.dropped == {"cap": 0, "age": 10, "names": 0}


def test_threads_recording_counts_exact() -> None:
    mon = PerformanceMonitor(max_per_name=1_000_000, max_age=None)
    capped = PerformanceMonitor(max_per_name=500, max_age=None)
    threads, per_thread = 8, 5_000
    barrier = threading.Barrier(threads)

    def work(k: int) -> None:
        barrier.wait(timeout=10)
        for i in range(per_thread):
            mon.record("op", 0.001, success=(i % 10 != 0))
            mon.record(f"t{k}", 0.002)
            capped.record("op", 0.001)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
        assert not w.is_alive()
    assert mon.count("op") == threads * per_thread
    assert mon.error_rate("op") == pytest.approx(0.1)
    assert all(mon.count(f"t{k}") == per_thread for k in range(threads))
    assert mon.dropped == {"cap": 0, "age": 0, "names": 0}
    assert capped.count("op") == 500
    assert capped.dropped["cap"] == threads * per_thread - 500


# -- the real engine ------------------------------------------------------------------------------


def test_attached_monitor_sees_real_operations(traces: Traces, sample: Path) -> None:
    mon = PerformanceMonitor().attach(traces.tracer_provider)
    try:
        for _ in range(3):
            message = ern.parse(sample)
        with pytest.raises(ern.DDEXError):
            ern.parse(b"<NewReleaseMessage><unclosed></NewReleaseMessage>")
        ern.build(message)
    finally:
        mon.detach()
    ern.parse(sample)  # after detach: not recorded
    spans = {s.name: [] for s in traces.spans()}
    for s in traces.spans():
        spans[s.name].append(s)
    assert mon.count("parse") == 4 and len(spans["ddex.parse"]) == 5
    assert mon.error_rate("parse") == 0.25
    assert mon.count("build") == 1
    assert mon.names() == ["build", "parse"]
    # the monitor's durations are the spans' durations, exactly
    expected = sorted((s.end_time - s.start_time) / 1e9 for s in spans["ddex.parse"][:4])
    assert sorted(r.duration_s for r in mon.records("parse")) == pytest.approx(expected, abs=1e-9)
    records = mon.records("parse")
    ok = [r for r in records if r.success]
    assert all(r.metadata["file.path"] == str(sample) for r in ok)
    failed = [r for r in records if not r.success]
    assert failed[0].metadata["error.type"] == spans["ddex.parse"][3].attributes["error.type"]
    assert all(isinstance(r.memory_delta, int) for r in records)
    assert abs(records[-1].time - time.time()) < 60
    # per-operation resource usage: on while the monitor was attached, off again after (the default)
    assert all("ddex.resource.cpu_time" in s.attributes for s in spans["ddex.parse"][:4])
    assert "ddex.resource.cpu_time" not in spans["ddex.parse"][4].attributes


def test_attaching_a_consumer_turns_resource_usage_on_for_its_duration(traces: Traces) -> None:
    from ddex_otel.monitoring.profiler import Profiler
    from ddex_otel.telemetry.spans import resource_usage_requested

    assert not resource_usage_requested()
    mon = PerformanceMonitor().attach(traces.tracer_provider)
    profiler = Profiler(tracer_provider=traces.tracer_provider).attach()
    try:
        assert resource_usage_requested()
        mon.detach()
        assert resource_usage_requested()  # the profiler still consumes it
    finally:
        mon.detach()
        profiler.close()
    assert not resource_usage_requested()


def test_attach_instruments_when_needed_and_detach_undoes_it(sample: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    assert not DDEXInstrumentor().is_instrumented_by_opentelemetry
    tp = TracerProvider()
    mon = PerformanceMonitor().attach(tp)
    try:
        assert DDEXInstrumentor().is_instrumented_by_opentelemetry
        ern.parse(sample)
        assert mon.count("parse") == 1
    finally:
        mon.detach()
        tp.shutdown()
    assert not DDEXInstrumentor().is_instrumented_by_opentelemetry


def test_attach_rejects_a_non_sdk_provider() -> None:
    from opentelemetry.trace import NoOpTracerProvider

    with pytest.raises(TypeError, match="SDK TracerProvider"):
        PerformanceMonitor().attach(NoOpTracerProvider())


def test_attach_without_any_provider_installs_one(sample: Path) -> None:
    """In a fresh interpreter (the global provider can be set once per process)."""
    script = f"""
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from ddex_otel import ern
from ddex_otel.monitoring import PerformanceMonitor
assert not isinstance(trace.get_tracer_provider(), TracerProvider)
mon = PerformanceMonitor().attach()
assert isinstance(trace.get_tracer_provider(), TracerProvider)
assert not trace.get_tracer_provider()._active_span_processor._span_processors[1:], "no exporters"
ern.parse({str(sample)!r})
assert mon.count("parse") == 1, mon
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_span_attributes_read_the_same_from_sdk_and_hand_built_spans(
    traces: Traces, sample: Path
) -> None:
    from opentelemetry.sdk.trace import ReadableSpan

    from ddex_otel.monitoring.spanfeed import attributes_of, describe_operation

    ern.parse(sample)
    span = traces.spans("ddex.parse")[0]
    assert dict(attributes_of(span)) == dict(span.attributes)
    # a ReadableSpan built by hand keeps a plain mapping: the public property is used
    copy = ReadableSpan(name=span.name, context=span.context, attributes=dict(span.attributes),
                        start_time=span.start_time, end_time=span.end_time, status=span.status)
    assert dict(attributes_of(copy)) == dict(span.attributes)
    assert describe_operation(copy) == describe_operation(span)
    mon = PerformanceMonitor()
    mon._on_span(copy)  # what the span feed calls
    mon._on_span(span)
    first, second = mon.records("parse")
    assert first == second


def test_attaching_to_a_provider_the_engine_does_not_report_to_warns(
    traces: Traces, sample: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    other = TracerProvider()
    with caplog.at_level("WARNING", logger="ddex_otel.monitoring.spanfeed"):
        mon = PerformanceMonitor().attach(other)
    try:
        assert "instrumented with another tracer provider" in caplog.text
        ern.parse(sample)
        assert mon.count("parse") == 0 and len(traces.spans("ddex.parse")) == 1
    finally:
        mon.detach()
        other.shutdown()
    caplog.clear()
    with caplog.at_level("WARNING", logger="ddex_otel.monitoring.spanfeed"):
        PerformanceMonitor().attach(traces.tracer_provider).detach()
    assert caplog.text == ""
