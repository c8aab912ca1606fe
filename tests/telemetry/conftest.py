"""Fixtures: local (never global) providers with in-memory exporters, and the instrumentor.

``BaseInstrumentor`` is a process-wide singleton, so every fixture that instruments also
uninstruments on teardown; tests never depend on global providers or on test order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

SAMPLE_43 = "daddykev__Samples43_1_Audio.xml"


@dataclass
class Telemetry:
    """Local providers + readers for one test."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def span(self, name: str) -> ReadableSpan:
        found = self.spans(name)
        assert len(found) == 1, f"expected one {name} span, got {[s.name for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, Metric]:
        """Metrics of every scope, by name (collected now)."""
        out: dict[str, Metric] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def scopes(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        return {sm.scope.name: sm.scope for rm in data.resource_metrics for sm in rm.scope_metrics}

    @property
    def tracer(self) -> Any:
        return self.tracer_provider.get_tracer("tests")


def make_telemetry() -> Telemetry:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    return Telemetry(tp, mp, exporter, reader)


@pytest.fixture
def instrument() -> Iterator[Any]:
    """``instrument(**options) -> Telemetry``: instrument with local providers (undone after)."""
    created: list[Telemetry] = []

    def factory(**options: Any) -> Telemetry:
        assert not DDEXInstrumentor().is_instrumented_by_opentelemetry, "instrumented by someone else"
        tel = make_telemetry()
        DDEXInstrumentor().instrument(
            tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider, **options
        )
        created.append(tel)
        return tel

    yield factory
    if DDEXInstrumentor().is_instrumented_by_opentelemetry:
        DDEXInstrumentor().uninstrument()
    for tel in created:
        tel.tracer_provider.shutdown()
        tel.meter_provider.shutdown()


@pytest.fixture
def tel(instrument: Any) -> Telemetry:
    """Instrumented with the default options."""
    return instrument()


@pytest.fixture
def sample(samples_dir: Path) -> Path:
    path = samples_dir / SAMPLE_43
    if not path.is_file():
        pytest.fail(f"{path} not found (set DDEX_SAMPLES_DIR)")
    return path


@pytest.fixture(autouse=True)
def fresh_env_warnings() -> Iterator[None]:
    """Bad-variable warnings are said once per process; each test starts as a new process would."""
    from ddex_otel.telemetry import envvars

    envvars._warned.clear()
    yield
    envvars._warned.clear()


@pytest.fixture
def local_telemetry() -> Iterator[Telemetry]:
    """Local providers with in-memory readers, not handed to any instrumentor (shut down after)."""
    tel = make_telemetry()
    yield tel
    tel.tracer_provider.shutdown()
    tel.meter_provider.shutdown()


@pytest.fixture
def layer(local_telemetry: Telemetry) -> Iterator[Telemetry]:
    """The XML layer (``XMLLayerInstrumentor``) instrumented with local providers (undone after)."""
    from ddex_otel.telemetry.xmllayer import XMLLayerInstrumentor

    XMLLayerInstrumentor().instrument(tracer_provider=local_telemetry.tracer_provider,
                                      meter_provider=local_telemetry.meter_provider)
    try:
        yield local_telemetry
    finally:
        XMLLayerInstrumentor().uninstrument()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* / DDEX_OTEL_* from the outside changes what these tests configure."""
    for key in list(os.environ):
        if key.startswith(("OTEL_", "DDEX_OTEL_")):
            monkeypatch.delenv(key)


@pytest.fixture
def not_instrumented() -> None:
    yield
    if DDEXInstrumentor().is_instrumented_by_opentelemetry:
        DDEXInstrumentor().uninstrument()
