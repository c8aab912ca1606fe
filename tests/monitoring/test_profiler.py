"""Profiler: captured operation spans and trace ids, failures, sampling, summary, CSV/JSON exports
(read back with the csv and json modules). Local SDK provider, in-memory exporter."""

from __future__ import annotations

import csv
import gc
import json
import math
import mmap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitoring_support import Traces

from ddex_otel import ern
from ddex_otel.monitoring import Profiler, ProfileResult
from ddex_otel.monitoring.profiler import CSV_COLUMNS


@pytest.fixture
def prof(traces: Traces) -> Iterator[Profiler]:
    profiler = Profiler(sample_interval=0.02, tracer_provider=traces.tracer_provider)
    yield profiler
    profiler.close()


def test_profile_captures_the_operation_spans_with_their_trace_ids(
    prof: Profiler, traces: Traces, sample: Path
) -> None:
    with prof.profile("two-parses", batch="b1") as p:
        message = ern.parse(sample)
        ern.build(message, "4.3")
    spans = traces.spans("ddex.parse") + traces.spans("ddex.build")
    assert [op["name"] for op in p.operations] == ["parse", "build"]
    for op, span in zip(p.operations, spans, strict=True):
        assert op["trace_id"] == format(span.context.trace_id, "032x")
        assert op["span_id"] == format(span.context.span_id, "016x")
        assert op["duration_s"] == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-9)
        assert op["success"] is True
    assert set(p.operations[0]["stages"]) == {"read", "xml", "detect", "extract"}
    assert all(v >= 0 for v in p.operations[0]["stages"].values())
    assert p.operations[0]["file_path"] == str(sample)
    assert p.trace_id == p.operations[0]["trace_id"]
    assert p.success and p.error is None
    assert p.metadata == {"batch": "b1"}
    assert p.duration_s >= sum(op["duration_s"] for op in p.operations)
    assert p.memory_peak >= max(p.memory_before, p.memory_after) > 0
    assert prof.results == [p]


def test_spans_of_other_threads_are_not_captured(prof: Profiler, sample: Path) -> None:
    other = threading.Thread(target=ern.parse, args=(sample,))
    with prof.profile("mine") as p:
        other.start()
        other.join(timeout=30)
        ern.validate(ern.parse(sample))
    assert not other.is_alive()
    assert [op["name"] for op in p.operations] == ["parse", "validate"]
    with prof.profile("outside"):
        pass
    assert prof.results[-1].operations == []


def test_failing_block_is_recorded_and_reraised(prof: Profiler) -> None:
    with pytest.raises(ern.DDEXError):
        with prof.profile("parse") as p:
            ern.parse(b"<NewReleaseMessage><unclosed></NewReleaseMessage>")
    assert p.success is False
    assert p.error is not None and p.error.split(":")[0] == p.operations[0]["error_type"]
    assert p.operations[0]["success"] is False
    failed = prof.profile_parse(b"not xml at all", raise_errors=False)
    assert failed.success is False and failed.error
    with pytest.raises(ern.DDEXError):
        prof.profile_parse(b"not xml at all")
    assert len(prof.results) == 3


def test_profile_parse_and_build(prof: Profiler, sample: Path) -> None:
    parsed = prof.profile_parse(sample)
    assert parsed.name == "parse" and parsed.metadata == {"file": str(sample)}
    assert [op["name"] for op in parsed.operations] == ["parse"]
    built = prof.profile_build(ern.parse(sample), version="4.3")
    assert built.name == "build" and built.metadata == {"version": "4.3"}
    assert [op["name"] for op in built.operations] == ["build"]
    assert set(built.operations[0]["stages"]) >= {"assemble", "serialize"}


def test_samples_cpu_and_memory_peak(prof: Profiler) -> None:
    # Earlier tests' garbage is freed before the block, not during it: a collection inside it
    # returns memory to the system and would hide part of the block's growth in RSS.
    gc.collect()
    gc.disable()
    try:
        with prof.profile("busy") as p:
            # A fresh anonymous mapping, touched page by page: resident whatever earlier tests left in
            # the heap (a bytearray may reuse freed, already-resident memory and not grow RSS at all).
            block = mmap.mmap(-1, 64 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            deadline = time.monotonic() + 10
            while len(p.samples) < 3 and time.monotonic() < deadline:  # busy until sampled 3 times
                sum(range(1000))
            held = len(block)
            block.close()
    finally:
        gc.enable()
    assert held and len(p.samples) >= 3
    t_rel = [s[0] for s in p.samples]
    assert t_rel == sorted(t_rel) and 0 < t_rel[-1] <= p.duration_s
    # 56 of the 64 MiB: the allocator may still hand a few freed pages back while the block runs.
    assert p.memory_peak >= p.memory_before + 56 * 1024 * 1024
    assert p.cpu_percent_avg > 0
    assert p.cpu_percent_max >= max(s[1] for s in p.samples)


def test_a_sample_taken_after_the_block_ended_is_not_the_blocks(prof: Profiler, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sampler thread can take one more sample between the block's end and its stop."""
    from ddex_otel.monitoring import profiler

    stop = profiler._Sampler.stop

    def late_sample_then_stop(self: profiler._Sampler) -> None:
        self.samples.append((time.perf_counter() - self._t0, 50.0, 1))  # after duration_s was taken
        stop(self)

    monkeypatch.setattr(profiler._Sampler, "stop", late_sample_then_stop)
    with prof.profile("short") as p:
        sum(range(1000))
    assert all(t <= p.duration_s for t, _, _ in p.samples) and (50.0, 1) not in [s[1:] for s in p.samples]


def test_hotspots(prof: Profiler, sample: Path) -> None:
    def outer() -> ern.Message:
        return ern.parse(sample)

    with prof.profile("parse", hotspots=5) as p:
        outer()
    assert len(p.hotspots) == 5
    cumulative = [h["cumulative_s"] for h in p.hotspots]
    assert cumulative == sorted(cumulative, reverse=True)
    assert p.hotspots[0]["function"].endswith("(outer)")  # everything in the block ran inside it
    assert p.hotspots[0]["calls"] == 1
    assert p.hotspots[0]["cumulative_s"] <= p.duration_s
    assert all(set(h) == {"function", "calls", "cumulative_s", "total_s"} for h in p.hotspots)
    assert prof.profile_parse(sample).hotspots == []  # off by default


def _result(name: str, duration: float, cpu: float, peak: int, success: bool = True) -> ProfileResult:
    return ProfileResult(name=name, start=1_700_000_000.0, duration_s=duration, success=success,
                         error=None if success else "ValueError: bad", cpu_percent_avg=cpu,
                         memory_before=peak // 2, memory_after=peak // 2, memory_peak=peak,
                         metadata={"file": f"{name}.xml"})


def test_summary_hand_computed() -> None:
    prof = Profiler()
    prof.results.extend([
        _result("parse", 0.3, 50.0, 100),
        _result("parse", 0.1, 70.0, 300),
        _result("parse", 0.2, 90.0, 200, success=False),
        _result("build", 1.0, 10.0, 1000),
    ])
    summary = prof.summary()
    assert summary["parse"] == {
        "count": 3, "errors": 1, "avg_duration": pytest.approx(0.2), "min_duration": 0.1,
        "max_duration": 0.3, "p95_duration": 0.3, "avg_cpu_percent": pytest.approx(70.0),
        "avg_memory": pytest.approx(200.0), "peak_memory": 300,
    }
    assert summary["build"]["count"] == 1 and summary["build"]["p95_duration"] == 1.0


def test_csv_and_json_round_trip(prof: Profiler, sample: Path, tmp_path: Path) -> None:
    prof.profile_parse(sample, release="r1")
    prof.profile_parse(b"broken", raise_errors=False)
    csv_path = prof.export_csv(tmp_path / "profiles.csv")
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 2
    for row, result in zip(rows, prof.results, strict=True):
        assert row["operation"] == "parse"
        assert float(row["duration"]) == result.duration_s
        assert float(row["cpu_percent"]) == result.cpu_percent_avg
        assert int(row["memory_before"]) == result.memory_before
        assert int(row["memory_after"]) == result.memory_after
        assert int(row["memory_peak"]) == result.memory_peak
        assert row["success"] == str(result.success)
        assert row["error"] == (result.error or "")
        assert row["trace_id"] == result.operations[0]["trace_id"]
        assert json.loads(row["metadata"]) == result.metadata
        assert math.isclose(float(row["start"]), result.start, abs_tol=1e-6)
        assert row["timestamp"].endswith("+00:00")
    assert json.loads(rows[0]["metadata"])["release"] == "r1"

    json_path = prof.export_json(tmp_path / "profiles.json")
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert [p["success"] for p in doc["profiles"]] == [True, False]
    first = doc["profiles"][0]
    assert first["duration_s"] == prof.results[0].duration_s
    assert first["trace_id"] == prof.results[0].trace_id
    assert first["operations"][0]["stages"] == prof.results[0].operations[0]["stages"]
    assert doc["summary"]["parse"]["count"] == 2 and doc["summary"]["parse"]["errors"] == 1


def test_profiles_without_spans_when_the_provider_is_not_the_sdk(sample: Path) -> None:
    from opentelemetry.trace import NoOpTracerProvider

    prof = Profiler(tracer_provider=NoOpTracerProvider())
    with pytest.raises(TypeError):
        prof.attach()
    with prof.profile("parse") as p:
        ern.parse(sample)
    assert p.success and p.operations == [] and p.duration_s > 0


def test_concurrent_profiles_on_two_threads_keep_their_own_operations(prof: Profiler, sample: Path) -> None:
    barrier = threading.Barrier(2)
    results: dict[str, ProfileResult] = {}

    def work(kind: str) -> None:
        with prof.profile(kind) as p:
            barrier.wait(timeout=10)  # both profiles open at once
            message = ern.parse(sample)
            if kind == "parse+build":
                ern.build(message)
            barrier.wait(timeout=10)
        results[kind] = p

    threads = [threading.Thread(target=work, args=(k,)) for k in ("parse", "parse+build")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert [op["name"] for op in results["parse"].operations] == ["parse"]
    assert [op["name"] for op in results["parse+build"].operations] == ["parse", "build"]
    assert results["parse"].trace_id != results["parse+build"].trace_id


def test_max_results_keeps_the_newest() -> None:
    from opentelemetry.trace import NoOpTracerProvider

    prof = Profiler(max_results=2, tracer_provider=NoOpTracerProvider())  # no spans needed here
    for name in ("a", "b", "c"):
        with prof.profile(name):
            pass
    assert [r.name for r in prof.results] == ["b", "c"]
