"""The in-process summary, the guarded exporters and the process gauges."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry.delivery import DeliveryStats
from ddex_otel.telemetry.exporters import (
    ExportFailures,
    ExportLogFilter,
    ExportWarningCollector,
    GuardedMetricExporter,
    GuardedSpanExporter,
)
from ddex_otel.telemetry.resource_usage import ProcessMetrics
from ddex_otel.telemetry.summary import SummarySpanProcessor, percentile, render


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 95) == 3.0
    assert math.isnan(percentile([], 50))


def test_percentile_on_ten_values() -> None:
    values = [float(i) for i in range(1, 11)]
    assert percentile(values, 0) == 1.0  # index clamped to 0: the minimum
    assert percentile(values, 10) == 1.0
    assert percentile(values, 90) == 9.0  # ceil(9.0) - 1 = 8
    assert percentile(values, 91) == 10.0  # ceil(9.1) - 1 = 9
    assert percentile(values, 100) == 10.0
    with pytest.raises(ValueError):
        percentile(values, 100.5)


def test_summary_rows_from_spans(instrument, sample_paths: list[Path]) -> None:
    tel = instrument(resource_usage=True, stage_attributes=True)  # what configure(summary=True) requests
    summary = SummarySpanProcessor()
    tel.tracer_provider.add_span_processor(summary)
    parsed = 0
    for path in sample_paths:
        try:
            ern.build(ern.parse(str(path)))
            parsed += 1
        except DDEXError:
            pass
    with pytest.raises(DDEXError):
        ern.parse(b"<x/>")
    rows = {r["name"]: r for r in summary.rows()}
    assert list(rows)[:5] == ["parse", "parse › read", "parse › xml", "parse › detect", "parse › extract"]
    assert rows["parse"]["count"] == len(sample_paths) + 1
    assert rows["parse"]["errors"] == 1
    assert rows["parse › read"]["count"] == len(sample_paths) + 1
    assert rows["parse › extract"]["count"] == len(sample_paths)  # the bad one stopped at detect
    assert rows["build"]["count"] == len(sample_paths)
    assert rows["build"]["errors"] == len(sample_paths) - parsed
    for row in rows.values():
        assert 0 < row["p50"] <= row["p95"] <= row["max"]
    assert rows["parse"]["cpu"] > 0 and rows["parse"]["memory_max"] is not None
    assert rows["parse › xml"]["cpu"] is None
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(render(summary.rows()))
    text = console.export_text()
    assert "parse" in text and "extract" in text and "p95 ms" in text


class Exploding(SpanExporter):
    calls = 0

    def export(self, spans):
        Exploding.calls += 1
        raise ConnectionError("collector is gone")

    def shutdown(self):
        raise RuntimeError("and shutdown fails too")


class Failing(SpanExporter):
    def export(self, spans):
        return SpanExportResult.FAILURE


def test_guarded_exporter_counts_logs_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ddex_otel.telemetry")
    failures = ExportFailures()
    Exploding.calls = 0
    guarded = GuardedSpanExporter(Exploding(), failures, "test-destination", cooldown=0)
    for _ in range(3):
        assert guarded.export([object(), object()]) is SpanExportResult.FAILURE
    guarded.shutdown()
    assert failures.count == 3 and failures.dropped_items == 6
    assert "collector is gone" in failures.first_error
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "test-destination" in warnings[0].getMessage()
    assert Exploding.calls == 3


def test_cooldown_drops_without_calling_the_exporter() -> None:
    failures = ExportFailures()
    Exploding.calls = 0
    guarded = GuardedSpanExporter(Exploding(), failures, "x", cooldown=60)
    guarded.export([1])
    guarded.export([1, 2])
    assert Exploding.calls == 1
    assert failures.count == 2 and failures.dropped_items == 3


def test_failure_result_is_counted() -> None:
    failures = ExportFailures()
    assert GuardedSpanExporter(Failing(), failures, "x").export([1]) is SpanExportResult.FAILURE
    assert failures.count == 1


def test_guarded_metric_exporter_keeps_temporality() -> None:
    from opentelemetry.exporter.otlp.json.file import FileMetricExporter
    from opentelemetry.sdk.metrics import Counter
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    class Boom(FileMetricExporter):
        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            raise OSError("disk full")

    inner = Boom(stream=open("/dev/null", "w"), preferred_temporality={Counter: AggregationTemporality.DELTA})
    failures = ExportFailures()
    guarded = GuardedMetricExporter(inner, failures, "file", cooldown=0)
    assert guarded._preferred_temporality[Counter] is AggregationTemporality.DELTA
    assert guarded.export(_metrics_data()) is MetricExportResult.FAILURE
    assert failures.count == 1


def _metrics_data():
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader])
    provider.get_meter("x").create_counter("c").add(1)
    return reader.get_metrics_data()


def test_log_filter_never_hides_dropped_data_and_limits_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddex_otel.telemetry import exporters

    now = [1000.0]
    monkeypatch.setattr(exporters.time, "monotonic", lambda: now[0])
    log_filter = ExportLogFilter(interval=30)
    logger = logging.getLogger("opentelemetry.sdk._shared_internal")
    queue_full = [logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "Queue full, dropping %s.", ("Span",),
                                    None) for _ in range(3)]
    assert all(log_filter.filter(r) for r in queue_full)  # data loss is always said
    retry = lambda: logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "Transient error, retrying", (), None)  # noqa: E731
    assert [log_filter.filter(retry()) for _ in range(3)] == [True, False, False]
    now[0] += 31
    later = retry()
    assert log_filter.filter(later) is True and "2 similar message(s) suppressed" in later.getMessage()


def test_log_filter_lets_the_first_failure_through_only() -> None:
    log_filter = ExportLogFilter()
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    records = [logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "Failed to export traces to %s", ("x",), None)
               for _ in range(3)]
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "Invalid compression", (), None)
    assert [log_filter.filter(r) for r in records] == [True, False, False]
    assert log_filter.filter(other) is True
    assert log_filter.suppressed == 2


def _grpc_failure(logger: logging.Logger, signal: str, code: str) -> logging.LogRecord:
    return logger.makeRecord(logger.name, logging.ERROR, __file__, 1,
                             "Failed to export %s to %s, error code: %s, error details: %s",
                             (signal, "127.0.0.1:4317", f"StatusCode.{code}", "no"), None)


def test_each_signals_cause_is_kept_and_the_line_tells_the_named_ones() -> None:
    """The signals fail in no fixed order: a logs UNIMPLEMENTED logged first must not become the
    cause of a line that names the traces failure, though the rate limit suppresses the later record."""
    failures = ExportFailures()
    log_filter = ExportLogFilter(failures=failures)
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    passed = [log_filter.filter(_grpc_failure(logger, signal, code))
              for signal, code in (("logs", "UNIMPLEMENTED"), ("traces", "UNAUTHENTICATED"))]
    assert passed == [True, False]
    assert failures.logged_causes == {"logs": "UNIMPLEMENTED", "traces": "UNAUTHENTICATED"}
    assert ExportWarningCollector().filter(_grpc_failure(logger, "traces", "UNAUTHENTICATED")) is False  # held back

    failures.record("traces", "OTLP gRPC http://127.0.0.1:4317", 3, "exporter returned FAILURE")
    handle = type("Handle", (), {"delivery": DeliveryStats(spans_ended=3, spans_dropped=3), "failures": failures,
                                 "destinations": ["OTLP gRPC http://127.0.0.1:4317"]})()
    line = ExportWarningCollector().one_line(handle)
    assert line is not None and "(traces → OTLP gRPC http://127.0.0.1:4317: UNAUTHENTICATED)" in line, line


def test_the_filter_sees_records_the_sdks_duplicate_filter_drops() -> None:
    """The SDK's exporter logger carries a DuplicateFilter that drops a record worded like the one
    before it (logs then traces, within 20 s): installed, ours goes ahead of it and keeps both causes."""
    from opentelemetry.exporter.otlp.proto.grpc import exporter as grpc_exporter  # noqa: F401 - adds the SDK's filter

    failures = ExportFailures()
    log_filter = ExportLogFilter(failures=failures)
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    assert logger.filters, "the SDK's exporter logger no longer has a filter of its own"
    loggers = log_filter.install()
    try:
        assert logger.filters[0] is log_filter
        for signal, code in (("logs", "UNIMPLEMENTED"), ("traces", "UNAUTHENTICATED")):
            logger.handle(_grpc_failure(logger, signal, code))
    finally:
        log_filter.uninstall(loggers)
    assert failures.logged_causes == {"logs": "UNIMPLEMENTED", "traces": "UNAUTHENTICATED"}
    assert log_filter not in logger.filters


def test_a_shutdown_record_is_no_cause() -> None:
    failures = ExportFailures()
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    ExportLogFilter(failures=failures).filter(
        logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "Shutdown in progress, aborting retry.", (), None))
    failures.record("traces", "OTLP gRPC http://127.0.0.1:4317", 1, "exporter returned FAILURE")
    assert failures.logged_causes == {} and failures.cause() == "exporter returned FAILURE"


def test_process_metrics_names_and_attributes() -> None:
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

    reader = InMemoryMetricReader()
    provider = MeterProvider([reader])
    gauges = ProcessMetrics(provider)
    gauges.start()
    try:
        data = reader.get_metrics_data()
        metrics = {m.name: (sm.scope.name, m) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    finally:
        gauges.stop()
        provider.shutdown()
    expected = {"process.cpu.utilization", "process.cpu.time", "process.memory.usage", "process.memory.virtual",
                "process.thread.count", "process.unix.file_descriptor.count", "cpython.gc.collections"}
    assert expected <= metrics.keys()
    assert "process.open_file_descriptor.count" not in metrics  # the deprecated name
    scope, cpu = metrics["process.cpu.time"]
    assert scope == "ddex_otel" and cpu.unit == "s"
    assert {p.attributes["cpu.mode"] for p in cpu.data.data_points} == {"user", "system"}
    scope, fds = metrics["process.unix.file_descriptor.count"]
    assert fds.unit == "{file_descriptor}" and fds.data.data_points[0].value > 0
    assert metrics["process.memory.usage"][1].unit == "By"
    assert metrics["process.memory.usage"][1].data.data_points[0].value > 1_000_000
    gens = {p.attributes["cpython.gc.generation"] for p in metrics["cpython.gc.collections"][1].data.data_points}
    assert gens == {0, 1, 2}
    assert not SystemMetricsInstrumentor().is_instrumented_by_opentelemetry
