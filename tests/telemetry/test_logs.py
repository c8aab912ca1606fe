"""The logs signal: the library's records (contract "Logs") through configure() to files and OTLP."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry import offline
from ddex_otel.telemetry.batch_spans import batch
from ddex_otel.telemetry.setup import configure
from loopback import GrpcOtlpReceiver, HttpReceiver

LOSSY_SAMPLE = "AudiusProject__01_delivery.xml"  # ERN 3.8.2 with elements the model does not hold


pytestmark = pytest.mark.usefixtures("clean_env", "not_instrumented")


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def log_records(requests: list[Any]) -> list[dict[str, Any]]:
    """Flatten ExportLogsServiceRequests: one dict per record (ids hex, attributes by key)."""
    out = []
    for request in requests:
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    out.append({"scope": sl.scope.name, "severity": r.severity_text, "body": r.body.string_value,
                                "trace_id": r.trace_id.hex(), "span_id": r.span_id.hex(),
                                "attrs": {kv.key: _value(kv.value) for kv in r.attributes}})
    return out


def spans_of(requests: list[Any]) -> list[Any]:
    return [s for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


def workload(samples_dir: Path, sample: Path, tmp_path: Path) -> Path:
    """A good parse (no record), a lossy conversion with warnings, a file that fails its build
    (validation errors), a truncated one, and a batch with a failing file."""
    ern.parse(str(sample))
    ern.build(ern.parse(str(samples_dir / LOSSY_SAMPLE)), "4.3")
    dangling = tmp_path / "dangling.xml"  # parses, fails to build: a track list entry points at no resource
    dangling.write_bytes(sample.read_bytes().replace(b">A1</ReleaseResourceReference>",
                                                     b">A999</ReleaseResourceReference>", 1))
    with pytest.raises(DDEXError):
        ern.build(ern.parse(str(dangling)))
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(sample.read_bytes()[:500])
    with batch("logs-test") as b:
        try:
            ern.parse(str(truncated))
        except DDEXError as exc:
            b.failed(exc, str(truncated))
    return truncated


def test_records_in_offline_files_carry_trace_ids_and_contract_attributes(
        samples_dir: Path, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "telemetry"
    handle = configure(offline_dir=out, set_global=False, process_metrics=False,
                       metric_export_interval_millis=3_600_000)
    assert any(d.startswith("logs → ") and "logs-" in d for d in handle.destinations)
    truncated = workload(samples_dir, sample, tmp_path)
    handle.shutdown()
    assert logging.getLogger("ddex_otel").handlers == [] and logging.getLogger("ddex_otel").level == logging.NOTSET

    (log_file,) = out.glob("logs-*.jsonl")
    assert log_file == handle.offline_files.logs
    records = log_records(list(offline.read_requests(log_file)))
    spans = spans_of([r for p in out.glob("traces-*.jsonl") for r in offline.read_requests(p)])
    by_span = {s.span_id.hex(): s for s in spans}
    # every record was emitted inside an operation (or the batch): its ids are that span's
    for record in records:
        span = by_span[record["span_id"]]
        assert span.trace_id.hex() == record["trace_id"]
        assert record["scope"].startswith("ddex_otel.")
    # never one per successful operation: the good parse has no record
    good = next(s for s in spans if s.name == "ddex.parse"
                and any(kv.key == "file.path" and kv.value.string_value == str(sample) for kv in s.attributes))
    assert not [r for r in records if r["span_id"] == good.span_id.hex()]

    losses = [r for r in records if "ddex.build.dropped.count" in r["attrs"]]
    assert len(losses) == 1
    loss = losses[0]
    assert loss["severity"] == "WARN" and by_span[loss["span_id"]].name == "ddex.build"
    assert loss["attrs"]["ddex.build.dropped.count"] >= 1 and 1 <= len(loss["attrs"]["ddex.build.dropped.paths"]) <= 5
    assert loss["attrs"]["ddex.message.id"] and loss["attrs"]["ddex.operation.name"] == "build"

    lossy_build = by_span[loss["span_id"]]
    warnings = [r for r in records if r["span_id"] == loss["span_id"] and "ddex.finding.code" in r["attrs"]]
    assert warnings and all(r["severity"] == "WARN" for r in warnings)
    assert all(r["attrs"]["ddex.finding.path"] and r["attrs"]["ddex.message.id"] for r in warnings)
    assert lossy_build.status.code != 2  # warnings and losses: the build succeeded

    failed_build = next(s for s in spans if s.name == "ddex.build" and s.status.code == 2)
    failed_records = [r for r in records if r["span_id"] == failed_build.span_id.hex()]
    errors = [r for r in failed_records if "ddex.finding.code" in r["attrs"] and r["severity"] == "ERROR"]
    assert errors, failed_records
    (failure,) = [r for r in failed_records if "error.type" in r["attrs"]]
    assert failure["severity"] == "ERROR" and failure["attrs"]["error.type"] == "DDEXValidationError"
    assert failure["attrs"]["ddex.operation.name"] == "build"

    failed_parse = next(s for s in spans if s.name == "ddex.parse" and s.status.code == 2)
    (parse_failure,) = [r for r in records if r["span_id"] == failed_parse.span_id.hex()]
    assert parse_failure["attrs"]["file.path"] == str(truncated)
    assert parse_failure["attrs"]["error.type"] == "TruncatedInputError"

    batch_span = next(s for s in spans if s.name == "ddex.batch")
    (batch_failure,) = [r for r in records if r["span_id"] == batch_span.span_id.hex()]
    assert batch_failure["severity"] == "ERROR" and batch_failure["scope"] == "ddex_otel.telemetry"
    assert batch_failure["attrs"]["ddex.batch.name"] == "logs-test"
    assert batch_failure["attrs"]["file.path"] == str(truncated)
    assert batch_failure["attrs"]["error.type"] == "TruncatedInputError"
    assert parse_failure["trace_id"] == batch_failure["trace_id"]  # the file's parse is a child of the batch


def test_library_has_no_handler_of_its_own() -> None:
    script = """
import logging
import ddex_otel
from ddex_otel import ern, telemetry, monitoring
from ddex_otel.telemetry import records, logs
names = [n for n in logging.root.manager.loggerDict if n.startswith("ddex_otel")]
assert "ddex_otel.ern" in names, names
assert all(not logging.getLogger(n).handlers for n in names), names
print("OK")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr


@pytest.mark.parametrize("app_logging", [False, True])
def test_an_app_without_logging_still_sees_the_library_warnings_on_stderr(app_logging: bool, tmp_path: Path) -> None:
    """configure() attaches an OTLP handler to ``ddex_otel``; that must not silence what Python prints
    for a warning no handler takes. Once the app sets up logging, its handler prints it, not us."""
    script = f"""
import logging, sys
import ddex_otel
if {app_logging!r}:
    logging.basicConfig(stream=sys.stdout, format="APP %(message)s")
handle = ddex_otel.configure(offline_dir={str(tmp_path)!r}, set_global=False, instrument=False,
                             process_metrics=False)
logging.getLogger("ddex_otel.telemetry").warning("spans dropped: queue full")
logging.getLogger("ddex_otel.telemetry").info("not a warning")
handle.shutdown()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if app_logging:
        assert "spans dropped" not in done.stderr and done.stdout.count("APP spans dropped: queue full") == 1
    else:
        assert done.stderr.count("spans dropped: queue full") == 1 and "not a warning" not in done.stderr
    records = [line for f in tmp_path.glob("logs-*.jsonl") for line in f.read_text().splitlines()]
    assert any("spans dropped: queue full" in line for line in records)  # and it was exported as well


def test_otlp_http_logs_with_headers_and_gzip(samples_dir: Path, sample: Path, tmp_path: Path) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = HttpReceiver()
    try:
        handle = configure(endpoint=server.url, protocol="http/protobuf",
                           headers={"x-tenant": "label-1"}, compression="gzip", set_global=False,
                           process_metrics=False, metric_export_interval_millis=3_600_000)
        assert handle.offline_files is None
        workload(samples_dir, sample, tmp_path)
        handle.shutdown(timeout=30)  # delivery is under test, not the 2 s exit budget: a loaded machine may need longer
    finally:
        server.close()
    logs = [(h, b) for path, h, b in server.requests if path == "/v1/logs"]
    assert logs
    assert all(h.get("x-tenant") == "label-1" and h.get("Content-Encoding") == "gzip" for h, _ in logs)
    records = log_records([ExportLogsServiceRequest.FromString(gzip.decompress(b)) for _, b in logs])
    spans = spans_of([ExportTraceServiceRequest.FromString(gzip.decompress(b))
                      for path, _, b in server.requests if path == "/v1/traces"])
    span_ids = {s.span_id.hex() for s in spans}
    assert {r["severity"] for r in records} == {"WARN", "ERROR"}
    assert all(r["span_id"] in span_ids for r in records)
    assert any("ddex.build.dropped.count" in r["attrs"] for r in records)


def test_otlp_grpc_logs(samples_dir: Path, sample: Path, tmp_path: Path) -> None:
    server = GrpcOtlpReceiver()
    try:
        handle = configure(endpoint=server.endpoint, protocol="grpc", set_global=False,
                           process_metrics=False, metric_export_interval_millis=3_600_000)
        workload(samples_dir, sample, tmp_path)
        handle.shutdown(timeout=30)  # delivery is under test, not the 2 s exit budget: a loaded machine may need longer
    finally:
        server.close()
    records = log_records(server.received["logs"])
    assert any(r["attrs"].get("error.type") == "DDEXValidationError" for r in records)
    assert all(len(r["trace_id"]) == 32 and int(r["trace_id"], 16) for r in records)


def test_log_level_variable_filters_records(samples_dir: Path, sample: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDEX_OTEL_LOG_LEVEL", "ERROR")
    out = tmp_path / "telemetry"
    handle = configure(offline_dir=out, set_global=False, process_metrics=False)
    workload(samples_dir, sample, tmp_path)
    handle.shutdown()
    records = log_records([r for p in out.glob("logs-*.jsonl") for r in offline.read_requests(p)])
    assert records and {r["severity"] for r in records} == {"ERROR"}


def test_dead_logs_endpoint_never_stalls_shutdown(samples_dir: Path, sample: Path, tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handle = configure(endpoint=f"http://127.0.0.1:{port}", protocol="grpc", export_timeout=1, set_global=False,
                       process_metrics=False, shutdown_timeout=1.0)
    workload(samples_dir, sample, tmp_path)
    started = time.monotonic()
    handle.shutdown()
    assert time.monotonic() - started < 2.5
