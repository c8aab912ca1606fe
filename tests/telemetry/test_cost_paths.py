"""The cheaper per-operation paths keep the same meaning: suppression, peak RSS, stage facts, ``active``."""

from __future__ import annotations

import resource
import sys
import threading
from pathlib import Path

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry import resource_usage
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor


def test_the_plain_suppression_key_alone_suppresses(tel, sample: Path) -> None:
    """``enabled_context()`` reads both keys ``is_instrumentation_enabled()`` reads, the old plain one too."""
    token = otel_context.attach(otel_context.set_value("suppress_instrumentation", True))
    try:
        message = ern.parse(str(sample))
    finally:
        otel_context.detach(token)
    assert message.releases
    assert tel.spans() == []
    assert "ddex.operation.duration" not in tel.metrics()


def test_parse_span_is_a_child_of_the_callers_span(tel, sample: Path) -> None:
    """The context read once for the suppression check is the span's parent, as ``start_span`` would choose."""
    tracer = tel.tracer_provider.get_tracer("caller")
    with tracer.start_as_current_span("caller") as caller:
        ern.parse(str(sample))
    span = tel.span("ddex.parse")
    assert span.parent is not None and span.parent.span_id == caller.get_span_context().span_id
    assert span.context.trace_id == caller.get_span_context().trace_id


def test_peak_rss_is_the_process_peak_from_any_thread() -> None:
    """``peak_rss`` (``getrusage(RUSAGE_THREAD)`` on Linux, ``RUSAGE_SELF`` elsewhere) reads the process's
    peak, not the thread's: between two RUSAGE_SELF readings, from any thread."""
    unit = 1 if sys.platform == "darwin" else 1024
    readings: list[tuple[int, int, int]] = []

    def read() -> None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
        ours = resource_usage.peak_rss()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
        readings.append((before, ours, after))

    worker = threading.Thread(target=read)
    worker.start()
    worker.join(timeout=10)
    read()
    assert len(readings) == 2
    for before, ours, after in readings:
        assert 0 < before <= ours <= after


def test_failed_parse_keeps_what_the_stages_before_it_reported(instrument) -> None:
    """Span attributes are made at the end from what the stages reported: a failure in the xml stage keeps the
    read stage's input size and duration."""
    tel = instrument(stage_attributes=True)
    data = (b'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43" MessageSchemaVersionId="ern/43">'
            b"<MessageHeader><MessageId>x</MessageId></MessageHeader>")  # truncated: malformed XML
    with pytest.raises(DDEXError):
        ern.parse(data)
    span = tel.span("ddex.parse")
    assert span.attributes["ddex.input.size"] == len(data)
    assert span.attributes["ddex.stage.read.duration"] >= 0.0
    assert span.attributes["error.type"]


def test_unsampled_operations_still_feed_the_totals(samples_dir: Path) -> None:
    """An unsampled span records no attributes, but the counters still count its operation."""
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=ALWAYS_OFF)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    sample = samples_dir / "daddykev__Samples43_1_Audio.xml"
    assert not DDEXInstrumentor().is_instrumented_by_opentelemetry
    DDEXInstrumentor().instrument(tracer_provider=tp, meter_provider=mp, resource_usage=True)
    try:
        for _ in range(2):
            ern.parse(str(sample))
        data = reader.get_metrics_data()
    finally:
        DDEXInstrumentor().uninstrument()
        tp.shutdown()
        mp.shutdown()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert exporter.get_finished_spans() == ()
    key = (("ddex.ern.version", "4.3"), ("ddex.operation.name", "parse"))
    size = {tuple(sorted(p.attributes.items())): p.value for p in metrics["ddex.message.size"].data.data_points}
    assert size[key] == 2 * sample.stat().st_size
    calls = {tuple(sorted(p.attributes.items())): p.value for p in metrics["ddex.stage.calls"].data.data_points}
    assert calls[(("ddex.operation.name", "parse"), ("ddex.stage.name", "extract"))] == 2
    cpu = [p.value for p in metrics["ddex.operation.cpu.time"].data.data_points]
    assert cpu and cpu[0] > 0.0
    active = {dict(p.attributes)["ddex.operation.name"]: p.value
              for p in metrics["ddex.operations.active"].data.data_points}
    assert active == {"parse": 0}


def test_active_is_started_minus_ended_across_threads(tel, sample: Path) -> None:
    """Starts and ends are counted from several threads at once: the gauge returns to 0."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                ern.parse(str(sample))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    active = {dict(p.attributes)["ddex.operation.name"]: p.value
              for p in tel.metrics()["ddex.operations.active"].data.data_points}
    assert active == {"parse": 0}
    assert len(tel.spans("ddex.parse")) == 20
