"""DeliverySpanProcessor and handle.delivery with in-memory exporters (real endpoints: tests/integration)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from ddex_otel.telemetry.delivery import DeliverySettings, DeliverySpanProcessor, register_delivery_metrics


class FlakyExporter(SpanExporter):
    """Fails the first ``failures`` calls, then keeps every span it is given."""

    def __init__(self, failures: int = 0, raises: bool = False) -> None:
        self.failures, self.raises = failures, raises
        self.calls = 0
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        if self.calls <= self.failures:
            if self.raises:
                raise ConnectionError("collector is gone")
            return SpanExportResult.FAILURE
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


class StuckExporter(SpanExporter):
    """Blocks every export until released (a collector that accepts and never answers)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def _provider(processor: DeliverySpanProcessor, sampler=None) -> TracerProvider:
    tp = TracerProvider(shutdown_on_exit=False, **({"sampler": sampler} if sampler else {}))
    tp.add_span_processor(processor)
    return tp


def _end_spans(tp: TracerProvider, count: int) -> None:
    tracer = tp.get_tracer("test")
    for i in range(count):
        tracer.start_span(f"s{i}").end()


def test_all_spans_exported_and_counted() -> None:
    exporter = InMemorySpanExporter()
    processor = DeliverySpanProcessor(exporter, DeliverySettings(max_export_batch_size=7))
    _end_spans(_provider(processor), 100)
    processor.shutdown()
    stats = processor.stats()
    assert (stats.spans_ended, stats.spans_exported, stats.spans_dropped) == (100, 100, 0)
    assert len(exporter.get_finished_spans()) == 100


def test_failed_batches_are_retried_until_they_succeed() -> None:
    exporter = FlakyExporter(failures=3, raises=True)
    processor = DeliverySpanProcessor(exporter, DeliverySettings(schedule_delay=0.01))
    _end_spans(_provider(processor), 10)
    assert processor.force_flush(10_000)
    processor.shutdown()
    stats = processor.stats()
    assert exporter.calls == 4 and len(exporter.spans) == 10
    assert (stats.spans_exported, stats.spans_dropped) == (10, 0)


def test_retry_budget_exhausted_counts_export_failed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ddex_otel.telemetry")
    exporter = FlakyExporter(failures=10**6)
    processor = DeliverySpanProcessor(exporter, DeliverySettings(schedule_delay=0.01, retry_seconds=0.3),
                                      destination="nowhere")
    _end_spans(_provider(processor), 5)
    deadline = time.monotonic() + 10
    while processor.stats().spans_dropped_export_failed < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    processor.shutdown()
    stats = processor.stats()
    assert stats.spans_dropped_export_failed == 5 and stats.spans_ended == 5 and stats.spans_exported == 0
    reports = [r.getMessage() for r in caplog.records if "not delivered to nowhere" in r.getMessage()]
    assert reports and "export failed: 5" in reports[-1]


def test_queue_full_is_counted_exactly() -> None:
    exporter = StuckExporter()
    processor = DeliverySpanProcessor(exporter, DeliverySettings(max_queue_size=10, max_export_batch_size=5,
                                                                 schedule_delay=0.01))
    tp = _provider(processor)
    _end_spans(tp, 5)  # the worker takes these five and blocks on them
    deadline = time.monotonic() + 5
    while (processor.stats().spans_pending != 5 or processor._queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    _end_spans(tp, 25)  # 10 fit in the queue, 15 do not
    stats = processor.stats()
    assert stats.spans_dropped_queue_full == 15 and stats.spans_ended == 30
    exporter.release.set()
    processor.shutdown()
    stats = processor.stats()
    assert (stats.spans_exported, stats.spans_dropped) == (15, 15)


def test_shutdown_is_bounded_with_a_stuck_exporter() -> None:
    processor = DeliverySpanProcessor(StuckExporterNoRelease(), DeliverySettings(schedule_delay=0.01))
    tp = _provider(processor)
    _end_spans(tp, 600)
    started = time.monotonic()
    processor.shutdown(timeout_seconds=0.5)
    assert time.monotonic() - started < 1.5
    _end_spans(tp, 3)  # after shutdown: counted as dropped, not queued
    stats = processor.stats()
    assert stats.spans_ended == 603 and stats.spans_exported == 0
    assert stats.spans_dropped_shutdown == 603 and stats.spans_pending == 0


def test_shutdown_default_is_the_documented_two_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README documents a 2 s default: the settings say so and a stuck exporter is given that long."""
    monkeypatch.delenv("DDEX_OTEL_SHUTDOWN_TIMEOUT", raising=False)
    assert DeliverySettings().shutdown_timeout == DeliverySettings.from_env().shutdown_timeout == 2.0
    processor = DeliverySpanProcessor(StuckExporterNoRelease(), DeliverySettings.from_env())
    _end_spans(_provider(processor), 10)
    started = time.monotonic()
    processor.shutdown()
    took = time.monotonic() - started
    assert 1.8 <= took < 2.5, f"shutdown with the default budget took {took:.2f} s"
    assert processor.stats().spans_dropped_shutdown == 10


class StuckExporterNoRelease(StuckExporter):
    def shutdown(self) -> None:  # a shutdown that does not unblock the export (the worst case)
        return None


def test_unsampled_spans_are_not_counted() -> None:
    processor = DeliverySpanProcessor(InMemorySpanExporter())
    _end_spans(_provider(processor, ALWAYS_OFF), 10)
    processor.shutdown()
    assert processor.stats().spans_ended == 0


def test_drop_metric_reports_by_reason() -> None:
    processor = DeliverySpanProcessor(StuckExporterNoRelease(), DeliverySettings(max_queue_size=1,
                                                                                 max_export_batch_size=1))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    register_delivery_metrics(mp, processor.stats)
    _end_spans(_provider(processor), 20)
    processor.shutdown(timeout_seconds=0.2)
    data = reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    dropped = {p.attributes["reason"]: p.value for p in metrics["ddex.telemetry.spans.dropped"].data.data_points}
    assert metrics["ddex.telemetry.spans.dropped"].unit == "{span}"
    assert sum(dropped.values()) == 20 and dropped["queue_full"] >= 18
    assert set(dropped) == {"queue_full", "export_failed", "shutdown"}


def test_drop_warnings_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ddex_otel.telemetry")
    processor = DeliverySpanProcessor(StuckExporterNoRelease(),
                                      DeliverySettings(max_queue_size=1, max_export_batch_size=1,
                                                       schedule_delay=0.01, log_interval=3600))
    tp = _provider(processor)
    for _ in range(20):
        _end_spans(tp, 50)
        time.sleep(0.01)
    processor.shutdown(timeout_seconds=0.1)
    reports = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert 1 <= len(reports) <= 2, reports  # at most one per interval, plus the final one
    assert "of 1000 ended" in reports[-1]


def test_bad_settings_from_the_environment_fall_back(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ddex_otel.telemetry")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "-5")
    monkeypatch.setenv("DDEX_OTEL_SHUTDOWN_TIMEOUT", "soon")
    settings = DeliverySettings.from_env()
    assert settings == DeliverySettings()
    assert len([r for r in caplog.records if r.getMessage().startswith("ignoring")]) == 3


def test_shutdown_retries_a_failed_batch_within_its_budget() -> None:
    exporter = FlakyExporter(failures=1)
    processor = DeliverySpanProcessor(exporter, DeliverySettings(schedule_delay=3600))
    _end_spans(_provider(processor), 5)
    started = time.monotonic()
    processor.shutdown(timeout_seconds=2.0)  # first attempt fails, the retry (after <= 0.3 s) succeeds
    assert time.monotonic() - started < 1.5
    stats = processor.stats()
    assert (stats.spans_exported, stats.spans_dropped, exporter.calls) == (5, 0, 2)
