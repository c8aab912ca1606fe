"""One measurement path, end to end: what PerformanceMonitor and Profiler report in process is what
real Jaeger holds — same operations, trace ids, durations, stage timings and failures.

configure() exports over OTLP gRPC to the local collector (which forwards to Jaeger); the monitor
and the profiler are attached to the same tracer provider.
"""

from __future__ import annotations

import uuid

import pytest

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.monitoring import PerformanceMonitor, Profiler
from ddex_otel.stack.links import jaeger_trace_url
from support import sample_files

MALFORMED = b"<?xml version='1.0'?><NewReleaseMessage xmlns='http://ddex.net/xml/ern/43'><MessageHeader></NewReleaseMessage>"


@pytest.fixture(scope="module")
def run(local_stack, tmp_path_factory):
    from ddex_otel.telemetry import configure

    service = f"ddex-monitoring-{uuid.uuid4().hex[:8]}"
    handle = configure(endpoint=local_stack.endpoints.otlp_grpc, protocol="grpc", service_name=service,
                       set_global=False, process_metrics=False, metric_export_interval_millis=3_600_000)
    assert handle.instrumented
    monitor = PerformanceMonitor().attach(handle.tracer_provider)
    profiler = Profiler(sample_interval=0.05, tracer_provider=handle.tracer_provider)
    bad = tmp_path_factory.mktemp("monitoring") / "malformed.xml"
    bad.write_bytes(MALFORMED)
    paths = sample_files()[:6]
    try:
        for path in paths:
            with profiler.profile("parse", file=str(path)):
                message = ern.parse(path)
            profiler.profile_build(message, raise_errors=False)
        with pytest.raises(DDEXError):
            profiler.profile_parse(bad)
    finally:
        monitor.detach()
        profiler.close()
        handle.shutdown()
    assert handle.export_failures == 0, handle.failures.first_error
    return service, monitor, profiler, len(paths) + 1


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


@pytest.fixture(scope="module")
def jaeger_parses(run, jaeger) -> dict[str, dict]:
    """trace id -> the ddex.parse span as Jaeger returns it."""
    service, monitor, _, _ = run
    expected = monitor.count("parse") + monitor.count("build")
    traces = jaeger.wait_traces(service, count=expected, timeout=60, limit=1000)
    out = {}
    for trace in traces:
        for span in trace["spans"]:
            if span["operationName"] == "ddex.parse":
                out[trace["traceID"]] = span
    return out


def test_monitor_counts_and_durations_match_jaeger(run, jaeger_parses) -> None:
    _, monitor, _, parses = run
    assert monitor.count("parse") == len(jaeger_parses) == parses
    failed_in_jaeger = sum(1 for s in jaeger_parses.values() if _tags(s).get("otel.status_code") == "ERROR")
    assert failed_in_jaeger == 1
    assert monitor.error_rate("parse") == pytest.approx(failed_in_jaeger / len(jaeger_parses))
    ours = sorted(r.duration_s * 1e6 for r in monitor.records("parse"))
    theirs = sorted(s["duration"] for s in jaeger_parses.values())  # µs
    assert len(ours) == len(theirs)
    assert all(abs(a - b) <= 1.0 for a, b in zip(ours, theirs, strict=True)), (ours, theirs)


def test_profiler_trace_ids_lead_to_the_same_spans_in_jaeger(run, jaeger_parses) -> None:
    _, _, profiler, parses = run
    profiled = [r for r in profiler.results if r.name == "parse"]
    assert len(profiled) == parses
    for result in profiled:
        (op,) = result.operations
        span = jaeger_parses[op["trace_id"]]  # KeyError: the trace id is not in Jaeger
        assert span["spanID"] == op["span_id"]
        assert abs(op["duration_s"] * 1e6 - span["duration"]) <= 1.0
        tags = _tags(span)
        for stage, seconds in op["stages"].items():
            assert tags[f"ddex.stage.{stage}.duration"] == pytest.approx(seconds)
        assert jaeger_trace_url(op["trace_id"]).endswith(op["trace_id"])
        if result.success:
            assert tags["file.path"] == result.metadata["file"]
        else:
            assert tags["error.type"] == op["error_type"] == result.error.split(":")[0]
