"""`ddex-otel batch --workers 3` into the real stack: ONE trace in Jaeger, connected across processes.

The console script runs in a child process (no OTEL_* set) over copies of real samples plus one
corrupt file, exporting over OTLP (gRPC, then HTTP) to the local collector; the assertions read
what the real Jaeger query API returns for the trace whose link the command printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ddex_otel.stack.query import poll

CLI = Path(sys.executable).parent / "ddex-otel"
COPIES = 3  # each sample three times: enough files that every worker gets some


def _tags(items: list[dict]) -> dict:
    return {t["key"]: t["value"] for t in items}


@pytest.fixture(scope="module", params=["grpc", "http/protobuf"])
def batch_run(request, tmp_path_factory, local_stack, jaeger, sample_paths):
    """Run the batch over one OTLP protocol; return (inputs, corrupt path, completed process, service, traces)."""
    protocol = request.param
    endpoint = local_stack.endpoints.otlp_grpc if protocol == "grpc" else local_stack.endpoints.otlp_http
    folder = tmp_path_factory.mktemp("delivery")
    inputs = []
    for i in range(COPIES):
        for sample in sample_paths:
            target = folder / f"{sample.stem}-copy{i}.xml"
            shutil.copy(sample, target)
            inputs.append(target)
    corrupt = folder / "corrupt.xml"
    data = sample_paths[0].read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])
    inputs.append(corrupt)

    service = f"ddex-batch-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(DDEX_OTEL_JAEGER_URL=local_stack.endpoints.jaeger, COLUMNS="200")
    done = subprocess.run(
        [str(CLI), "batch", str(folder), "--workers", "3", "--endpoint", endpoint,
         "--protocol", protocol, "--service-name", service],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path_factory.mktemp("cwd"),
    )
    # 1 batch span + per file: ddex.file and ddex.parse, + ddex.validate for the files that parse
    expected_spans = 1 + 2 * len(inputs) + (len(inputs) - 1)
    traces = poll(lambda: jaeger.traces(service),
                  lambda t: len(t) >= 1 and sum(len(x["spans"]) for x in t) >= expected_spans,
                  timeout=60, what=f"{expected_spans} spans of {service} in Jaeger")
    return inputs, corrupt, done, service, traces


def test_exit_status_and_printed_summary(batch_run):
    inputs, corrupt, done, _, _ = batch_run
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"files {len(inputs)}  ok {len(inputs) - 1}  failed 1" in done.stdout, done.stdout
    assert str(corrupt) in done.stdout and "TruncatedInputError" in done.stdout
    assert "Traceback" not in done.stderr


def test_one_trace_whose_link_was_printed(batch_run, local_stack):
    _, _, done, _, traces = batch_run
    assert len(traces) == 1, [t["traceID"] for t in traces]
    match = re.search(r"batch trace: (\S+)", done.stdout)
    assert match, done.stdout
    link = match.group(1)
    assert link == f"{local_stack.endpoints.jaeger.rstrip('/')}/trace/{traces[0]['traceID']}"


def test_spans_come_from_several_processes_and_every_parent_resolves(batch_run):
    _, _, _, service, traces = batch_run
    trace = traces[0]
    spans = trace["spans"]
    pids = {_tags(trace["processes"][s["processID"]]["tags"]).get("process.pid") for s in spans}
    instances = {_tags(trace["processes"][s["processID"]]["tags"]).get("service.instance.id") for s in spans}
    assert None not in pids and len(pids) >= 3, pids  # the main process + at least two workers
    assert len(instances) == len(pids)
    assert {trace["processes"][s["processID"]]["serviceName"] for s in spans} == {service}
    ids = {s["spanID"] for s in spans}
    roots = [s for s in spans if not s["references"]]
    assert [r["operationName"] for r in roots] == ["ddex.batch"]
    for span in spans:
        for ref in span["references"]:
            assert ref["traceID"] == trace["traceID"] and ref["spanID"] in ids, span["operationName"]
    batch_pid = _tags(trace["processes"][roots[0]["processID"]]["tags"])["process.pid"]
    worker_pids = {_tags(trace["processes"][s["processID"]]["tags"])["process.pid"]
                   for s in spans if s["operationName"] == "ddex.file"}
    assert batch_pid not in worker_pids


def test_one_file_span_per_file_holding_its_parse(batch_run):
    inputs, corrupt, _, _, traces = batch_run
    spans = traces[0]["spans"]
    batch_id = next(s["spanID"] for s in spans if s["operationName"] == "ddex.batch")
    files = [s for s in spans if s["operationName"] == "ddex.file"]
    assert Counter(_tags(s["tags"])["file.path"] for s in files) == Counter(str(p) for p in inputs)
    children: dict[str, list[dict]] = {}
    for s in spans:
        for ref in s["references"]:
            children.setdefault(ref["spanID"], []).append(s)
    for f in files:
        tags = _tags(f["tags"])
        assert f["references"][0]["spanID"] == batch_id
        assert tags["file.name"] == Path(tags["file.path"]).name
        (parse,) = [c for c in children.get(f["spanID"], []) if c["operationName"] == "ddex.parse"]
        assert _tags(parse["tags"])["file.path"] == tags["file.path"]
        names = sorted(c["operationName"] for c in children.get(f["spanID"], []))
        expected = ["ddex.parse"] if tags["file.path"] == str(corrupt) else ["ddex.parse", "ddex.validate"]
        assert names == expected, tags["file.path"]


def test_corrupt_file_is_an_error_span_and_a_batch_event(batch_run):
    _, corrupt, _, _, traces = batch_run
    spans = traces[0]["spans"]
    errors = [s for s in spans if _tags(s["tags"]).get("otel.status_code") == "ERROR"]
    assert sorted(s["operationName"] for s in errors) == ["ddex.file", "ddex.parse"]
    for span in errors:
        tags = _tags(span["tags"])
        assert tags["file.path"] == str(corrupt) and tags["error.type"] == "TruncatedInputError"
    file_tags = _tags(next(s for s in errors if s["operationName"] == "ddex.file")["tags"])
    assert file_tags["ddex.file.outcome"] == "failed"
    batch = next(s for s in spans if s["operationName"] == "ddex.batch")
    assert _tags(batch["tags"])["ddex.batch.failure.count"] == 1
    (event,) = [_tags(log["fields"]) for log in batch["logs"] if _tags(log["fields"]).get("event") == "ddex.batch.failure"]
    assert event["file.path"] == str(corrupt) and event["error.type"] == "TruncatedInputError"
