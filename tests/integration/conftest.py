"""Session fixture: the real local stack (collector, Jaeger, Prometheus) on free ports.

Builds the binaries via `ddex-otel stack build` (support.stack_binaries) if needed (cached after the first run) and fails the
session loudly, with the failing component's log tail, if anything cannot start. Never skips.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ddex_otel.stack import LocalStack, StackError
from ddex_otel.stack.query import Jaeger, Prometheus
from support import stack_binaries


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> LocalStack:
    """A running LocalStack; use .endpoints for OTLP/Jaeger/Prometheus URLs."""
    try:
        bin_dir = stack_binaries()
        stack = LocalStack(tmp_path_factory.mktemp("ddex-stack"), free_ports=True, bin_dir=bin_dir).start()
    except StackError as exc:
        pytest.fail(f"local telemetry stack did not start: {exc}\n--- log tail ---\n{exc.log_tail()}",
                    pytrace=False)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def jaeger(local_stack) -> Jaeger:
    return Jaeger(local_stack.endpoints.jaeger)


@pytest.fixture(scope="session")
def prometheus(local_stack) -> Prometheus:
    return Prometheus(local_stack.endpoints.prometheus)


@dataclass(frozen=True)
class SmokeRun:
    """What one SDK-only export sent: its service name, the hex trace ids of both operations and
    the process memory it reported."""

    protocol: str
    service: str
    ok_trace_id: str
    error_trace_id: str
    rss: int


def _exporters(protocol: str, endpoints):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (OTLPSpanExporter(endpoint=endpoints.otlp_grpc, insecure=True),
                OTLPMetricExporter(endpoint=endpoints.otlp_grpc, insecure=True))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (OTLPSpanExporter(endpoint=f"{endpoints.otlp_http}/v1/traces"),
            OTLPMetricExporter(endpoint=f"{endpoints.otlp_http}/v1/metrics"))


def send_smoke(protocol: str, endpoints) -> SmokeRun:
    """With the bare OpenTelemetry SDK, export contract-named telemetry for one ok and one failed parse."""
    service = f"ddex-smoke-{protocol}-{uuid.uuid4().hex[:8]}"
    resource = Resource.create({"service.name": service})
    span_exporter, metric_exporter = _exporters(protocol, endpoints)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    seconds = View(instrument_name="ddex.operation.duration",
                   aggregation=ExplicitBucketHistogramAggregation([0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30]))
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader], views=[seconds])
    tracer = tracer_provider.get_tracer("ddex_otel")
    meter = meter_provider.get_meter("ddex_otel")
    duration = meter.create_histogram("ddex.operation.duration", unit="s")
    rss = psutil.Process().memory_info().rss
    meter.create_observable_gauge("process.memory.usage", unit="By",
                                  callbacks=[lambda _options: [Observation(rss)]])

    attrs = {"ddex.operation.name": "parse", "ddex.ern.version": "4.3"}
    with tracer.start_as_current_span("ddex.parse", attributes=attrs) as span:
        with tracer.start_as_current_span("ddex.parse.xml"):
            pass
        duration.record(0.25, attrs)  # inside the sampled span: carries an exemplar
        ok_trace_id = format(span.get_span_context().trace_id, "032x")
    with tracer.start_as_current_span("ddex.parse", attributes=attrs) as span:
        span.set_attribute("error.type", "DDEXParseError")
        span.set_status(Status(StatusCode.ERROR, "malformed"))
        duration.record(0.002, {**attrs, "error.type": "DDEXParseError"})
        error_trace_id = format(span.get_span_context().trace_id, "032x")

    assert tracer_provider.force_flush(10_000), f"OTLP span export over {protocol} failed"
    tracer_provider.shutdown()
    # Export metrics exactly once, at shutdown: the SDK's exemplar reservoir empties on each collection,
    # so a second export (force_flush, then shutdown) would replace the point that carries the exemplar.
    results = []
    export = metric_exporter.export
    metric_exporter.export = lambda *a, **kw: results.append(export(*a, **kw)) or results[-1]
    meter_provider.shutdown()
    assert results == [MetricExportResult.SUCCESS], f"OTLP metric export over {protocol}: {results}"
    return SmokeRun(protocol, service, ok_trace_id, error_trace_id, rss)


@pytest.fixture(scope="session")
def smoke_runs(local_stack) -> dict[str, SmokeRun]:
    """One SDK-only export over each OTLP protocol, keyed by "grpc" / "http"."""
    return {protocol: send_smoke(protocol, local_stack.endpoints) for protocol in ("grpc", "http")}


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The built collector binary (a second instance plays the vendor, or runs with ingest auth)."""
    try:
        return stack_binaries() / "ddex-otelcol"
    except StackError as exc:
        pytest.fail(f"{exc}\n{exc.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Any:
    """A test CA with server (127.0.0.1) and client certificates, and an unrelated CA (trustme)."""
    from vendor_collector import Certs

    return Certs.make(tmp_path_factory.mktemp("certs"))
