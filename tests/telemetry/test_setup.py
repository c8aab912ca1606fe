"""configure(): resource, exporter choice, offline files, flushing, and never breaking the host."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry import offline
from ddex_otel.telemetry.setup import build_resource, configure, resolve_protocol
from loopback import GrpcOtlpReceiver, HttpReceiver

DEFAULT_METRICS = {
    "ddex.operation.duration", "ddex.stage.duration", "ddex.message.size", "ddex.releases.processed",
    "ddex.operations.active", "ddex.stage.calls",
}
#: Reported only while per-operation resource usage is on (off by default).
RESOURCE_USAGE_METRICS = {"ddex.operation.cpu.time", "ddex.operation.memory.delta"}
CONTRACT_METRICS = DEFAULT_METRICS | RESOURCE_USAGE_METRICS
PROCESS_METRICS = {
    "process.cpu.utilization", "process.cpu.time", "process.memory.usage", "process.memory.virtual",
    "process.thread.count", "process.unix.file_descriptor.count", "cpython.gc.collections",
}


pytestmark = pytest.mark.usefixtures("clean_env", "not_instrumented")


def _attrs(kvs) -> dict:
    out = {}
    for kv in kvs:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return out


def _decode(directory: Path, signal: str = "") -> tuple[list, list]:
    traces, metrics = [], []
    for path in sorted(directory.glob(f"{signal}*.jsonl")):
        for request in offline.read_requests(path):
            kind = type(request).__name__
            if kind != "ExportLogsServiceRequest":
                (traces if kind == "ExportTraceServiceRequest" else metrics).append(request)
    return traces, metrics


def test_public_configure_is_the_real_function_and_importing_ddex_otel_stays_cheap() -> None:
    import inspect

    import ddex_otel

    assert ddex_otel.configure is configure
    parameters = inspect.signature(ddex_otel.configure).parameters
    assert {"endpoint", "protocol", "service_name", "offline_dir", "set_global"} <= set(parameters)
    assert ddex_otel.configure.__doc__ == configure.__doc__
    code = ("import sys, ddex_otel; "
            "bad = [m for m in sys.modules if m.startswith(('opentelemetry', 'ddex_otel.telemetry'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_offline_files_are_otlp_json_lines(tmp_path: Path, sample: Path) -> None:
    handle = configure(offline_dir=tmp_path, set_global=False, metric_export_interval_millis=3_600_000)
    assert handle.instrumented and handle.offline_files is not None
    ern.parse(str(sample))
    with pytest.raises(DDEXError):
        ern.parse(b"<NewReleaseMessage")
    handle.shutdown()
    assert handle.export_failures == 0
    assert {p.name.split("-")[0] for p in tmp_path.glob("*.jsonl")} == {"traces", "metrics", "logs"}

    # raw lines: one compact OTLP JSON object each, ids in hex (the otlpjsonfile receiver's format)
    trace_file = handle.offline_files.traces
    first = json.loads(trace_file.read_text().splitlines()[0])
    span0 = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span0["traceId"]) == 32 and int(span0["traceId"], 16)

    traces, metrics = _decode(tmp_path)
    spans = [
        (scope_spans.scope, span, _attrs(rs.resource.attributes))
        for request in traces for rs in request.resource_spans
        for scope_spans in rs.scope_spans for span in scope_spans.spans
    ]
    parses = [s for s in spans if s[1].name == "ddex.parse"]
    assert len(parses) == 2
    scope, ok, resource = next(s for s in parses if _attrs(s[1].attributes).get("file.path") == str(sample))
    assert scope.name == "ddex_otel" and scope.version
    assert len(ok.trace_id) == 16 and len(ok.span_id) == 8
    attrs = _attrs(ok.attributes)
    assert attrs["ddex.ern.version"] == "4.3" and attrs["ddex.release.count"] == 22
    assert attrs["ddex.input.size"] == sample.stat().st_size
    assert resource["service.name"] == "ddex-otel"
    assert resource["service.version"]
    assert {"telemetry.sdk.name", "host.name", "process.pid"} <= resource.keys()
    failed = next(s[1] for s in parses if s[1] is not ok)
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    assert _attrs(failed.attributes)["error.type"] == "TruncatedInputError"

    names = {m.name for request in metrics for rm in request.resource_metrics
             for sm in rm.scope_metrics for m in sm.metrics}
    assert DEFAULT_METRICS <= names
    assert not RESOURCE_USAGE_METRICS & names  # off by default: nothing measured, nothing reported
    assert "ddex.resource.cpu_time" not in attrs
    assert PROCESS_METRICS <= names
    exemplars = [e for request in metrics for rm in request.resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics if m.name == "ddex.operation.duration"
                 for p in m.histogram.data_points for e in p.exemplars]
    assert any(e.span_id == ok.span_id for e in exemplars)

    # the failed parse is one ERROR log record in the failed span's trace (the successful one: none)
    records = [(r, _attrs(r.attributes)) for path in tmp_path.glob("logs-*.jsonl")
               for request in offline.read_requests(path) for rl in request.resource_logs
               for sl in rl.scope_logs for r in sl.log_records]
    assert len(records) == 1, records
    record, attrs = records[0]
    assert record.severity_text == "ERROR" and record.trace_id == failed.trace_id
    assert record.span_id == failed.span_id
    assert attrs["error.type"] == "TruncatedInputError" and attrs["ddex.operation.name"] == "parse"


def test_offline_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DDEX_OTEL_OFFLINE_DIR", str(tmp_path / "env-dir"))
    handle = configure(set_global=False, instrument=False, process_metrics=False)
    handle.shutdown()
    assert handle.offline_files.directory == tmp_path / "env-dir"
    assert all(d.split(" → ")[1].startswith(str(tmp_path / "env-dir")) for d in handle.destinations)


def test_resource_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_resource().attributes["service.name"] == "ddex-otel"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=ci,team=ingest")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    res = build_resource().attributes
    assert res["service.name"] == "from-env"
    assert res["deployment.environment.name"] == "ci" and res["team"] == "ingest"
    assert res["telemetry.sdk.language"] == "python"
    assert "process.pid" in res and "host.name" in res and "os.type" in res
    res = build_resource(service_name="from-kwarg", attributes={"team": "kw"}).attributes
    assert res["service.name"] == "from-kwarg" and res["team"] == "kw"


def test_protocol_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_protocol("traces") == "grpc"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert resolve_protocol("traces") == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
    assert resolve_protocol("metrics") == "grpc"
    assert resolve_protocol("metrics", "http/protobuf") == "http/protobuf"
    with pytest.raises(ValueError):
        resolve_protocol("traces", "carrier-pigeon")


def test_exporter_names_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "console")
    handle = configure(set_global=False, instrument=False, process_metrics=False)
    handle.shutdown()
    assert handle.destinations == ["traces → console", "logs → console"]
    assert handle.offline_files is None


def test_sdk_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = configure(set_global=False)
    assert not handle.enabled and not handle.instrumented and handle.tracer_provider is None
    handle.shutdown()


@pytest.mark.parametrize(("raw", "disabled"), [("TRUE", True), (" true ", True), ("false", False), ("yes", False)])
def test_the_cli_and_configure_read_otel_sdk_disabled_alike(raw: str, disabled: bool, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Only ``true`` (any case) disables, for the CLI's early check and for ``configure()``; a bad value
    is one warning, from ``configure()`` only."""
    import argparse

    from ddex_otel.telemetry.clisetup import wants_telemetry

    monkeypatch.setenv("OTEL_SDK_DISABLED", raw)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    caplog.set_level(logging.WARNING, logger="ddex_otel.telemetry")
    assert wants_telemetry(argparse.Namespace()) is not disabled
    assert not caplog.records
    handle = configure(set_global=False, instrument=False, process_metrics=False,
                       offline_dir=None, export_timeout=1)
    handle.shutdown(timeout=1)
    assert handle.enabled is not disabled
    assert ("OTEL_SDK_DISABLED" in caplog.text) is (raw == "yes")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_dead_collector_never_breaks_the_host(protocol: str, sample: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    handle = configure(
        endpoint=f"http://127.0.0.1:{_closed_port()}", protocol=protocol, export_timeout=1,
        set_global=False, process_metrics=False,
    )
    assert handle.offline_files is None
    for _ in range(3):
        ern.parse(str(sample))
    started = time.monotonic()
    handle.shutdown()
    assert time.monotonic() - started < 3  # bounded: DDEX_OTEL_SHUTDOWN_TIMEOUT, 2 s by default
    assert handle.export_failures >= 1
    assert handle.failures.first_error and "127.0.0.1" in handle.failures.first_error
    delivery = handle.delivery
    assert (delivery.spans_ended, delivery.spans_exported, delivery.spans_dropped) == (3, 0, 3)
    ours = [r.getMessage() for r in caplog.records if r.name == "ddex_otel.telemetry" and r.levelno >= logging.WARNING]
    # the first failure once, then one drop report with the count (never more per 10 s)
    assert len(ours) == 2 and "export failed" in ours[0] and "3 span(s) not delivered" in ours[1], ours
    (report,) = [r for r in caplog.records if "not delivered" in r.getMessage()]
    # the log record's attributes: the reasons the message names (a retry may outlast the shutdown budget)
    assert report.count == 3 and report.reason in ("export_failed", "shutdown", "export_failed,shutdown")
    assert all(f"{reason.replace('_', ' ')}: " in report.getMessage() for reason in report.reason.split(","))
    handle.shutdown()  # idempotent


# ----------------------------------------------------------------- a live OTLP receiver (both protocols)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_shutdown_flushes_everything_to_the_endpoint(protocol: str, sample: Path) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = GrpcOtlpReceiver() if protocol == "grpc" else HttpReceiver()
    endpoint = server.endpoint if isinstance(server, GrpcOtlpReceiver) else server.url
    try:
        handle = configure(endpoint=endpoint, protocol=protocol, service_name="flush-test", set_global=False,
                           metric_export_interval_millis=3_600_000, instrument_options={"resource_usage": True})
        ern.build(ern.parse(str(sample)))
        handle.shutdown()
    finally:
        server.close()
    assert handle.export_failures == 0
    if isinstance(server, GrpcOtlpReceiver):
        traces, metrics = server.received["traces"], server.received["metrics"]
    else:
        assert {path for path, _, _ in server.requests} == {"/v1/traces", "/v1/metrics"}
        traces = [ExportTraceServiceRequest.FromString(b) for b in server.bodies("/v1/traces")]
        metrics = [ExportMetricsServiceRequest.FromString(b) for b in server.bodies("/v1/metrics")]
    names = {s.name for r in traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert {"ddex.parse", "ddex.build"} <= names
    resource = _attrs(traces[0].resource_spans[0].resource.attributes)
    assert resource["service.name"] == "flush-test"
    metric_names = {m.name for r in metrics for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert CONTRACT_METRICS <= metric_names


def test_existing_global_providers_are_left_alone(tmp_path: Path, sample: Path) -> None:
    """In a fresh interpreter: the app's own SDK provider keeps receiving our spans."""
    script = f"""
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import ddex_otel
from ddex_otel import ern
handle = ddex_otel.configure(offline_dir={str(tmp_path)!r}, summary=True)
assert not handle.owns_tracer_provider and handle.owns_meter_provider
assert trace.get_tracer_provider() is provider
ern.parse({str(sample)!r})
handle.shutdown()
names = [s.name for s in exporter.get_finished_spans()]
assert names == ["ddex.parse"], names
assert handle.summary.rows()[0]["count"] == 1
print("OK")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("OK")
    assert not list(tmp_path.glob("traces-*.jsonl"))  # spans went to the app's provider
    assert list(tmp_path.glob("metrics-*.jsonl"))  # metrics were ours to set up
