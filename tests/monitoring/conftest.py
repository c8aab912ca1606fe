"""Fixtures: a local (never global) SDK tracer provider with an in-memory exporter, and the engine
instrumented with it; undone after each test (``DDEXInstrumentor`` is a process-wide singleton)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from monitoring_support import FakeClock, Traces
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

SAMPLE_43 = "daddykev__Samples43_1_Audio.xml"


@pytest.fixture
def traces() -> Iterator[Traces]:
    """The engine instrumented with a local provider whose spans land in memory."""
    assert not DDEXInstrumentor().is_instrumented_by_opentelemetry, "instrumented by someone else"
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    DDEXInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
    yield Traces(tp, exporter)
    if DDEXInstrumentor().is_instrumented_by_opentelemetry:
        DDEXInstrumentor().uninstrument()
    tp.shutdown()
    mp.shutdown()


@pytest.fixture
def sample(samples_dir: Path) -> Path:
    path = samples_dir / SAMPLE_43
    if not path.is_file():
        pytest.fail(f"{path} not found (set DDEX_SAMPLES_DIR)")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
