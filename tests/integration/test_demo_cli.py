"""README's "See a trace in Jaeger", as written: `ddex-otel demo --endpoint …` into the real stack.

The demo runs as a user would run it (the console script, in a child process, no OTEL_* set), over
OTLP gRPC and OTLP HTTP; Jaeger must hold its one batch trace and Prometheus its operation counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ddex_otel.stack.query import poll
from support import samples_root

CLI = Path(sys.executable).parent / "ddex-otel"


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


OPERATION_SPANS = ("ddex.parse", "ddex.build", "ddex.stream")


def _operation_counts(trace: dict) -> Counter:
    return Counter(_tags(s)["ddex.operation.name"] for s in trace["spans"] if s["operationName"] in OPERATION_SPANS)


@pytest.fixture(scope="module", params=["grpc", "http/protobuf"])
def demo_run(request, local_stack, jaeger, prometheus):
    """Run the demo; return its service name, its trace once complete, and the operation counts."""
    protocol = request.param
    service = f"ddex-demo-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    endpoints = local_stack.endpoints
    endpoint = endpoints.otlp_grpc if protocol == "grpc" else endpoints.otlp_http
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["DDEX_SAMPLES_DIR"] = str(samples_root())  # the samples the assertions below count, passed explicitly
    done = subprocess.run(
        [str(CLI), "demo", "--endpoint", endpoint, "--protocol", protocol, "--service-name", service,
         "--generated", "1"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "traces → OTLP" in done.stdout and endpoint in done.stdout, done.stdout
    # The metrics leave in one export at exit: once Prometheus has them, they are all there ...
    expr = f'sum by (ddex_operation_name) (ddex_operation_duration_seconds_count{{job="{service}"}})'
    counts = poll(lambda: {s["metric"]["ddex_operation_name"]: float(s["value"][1]) for s in prometheus.query(expr)},
                  lambda c: "parse" in c, timeout=60, what=f"operation counts of {service} in Prometheus")
    # ... while the spans may reach Jaeger in several batches: wait until it holds as many.
    traces = poll(lambda: jaeger.traces(service),
                  lambda t: len(t) == 1 and _operation_counts(t[0]) == counts, timeout=60,
                  what=f"the demo trace of {service} in Jaeger with {counts}")
    return service, traces[0], counts


def test_demo_is_one_batch_trace_in_jaeger(demo_run, sample_paths):
    service, trace, _ = demo_run
    roots = [s for s in trace["spans"] if not s["references"]]
    assert [r["operationName"] for r in roots] == ["ddex.batch"]
    assert trace["processes"][roots[0]["processID"]]["serviceName"] == service
    parses = [s for s in trace["spans"] if s["operationName"] == "ddex.parse"]
    # parse → build → parse: each sample file is read once (the second parse reads the built bytes)
    read_paths = Counter(_tags(s).get("file.path") for s in parses)
    assert {str(p): 1 for p in sample_paths} == {p: n for p, n in read_paths.items() if p is not None}
    # batch → one ddex.file span per message (its file.path, or the generated message's label) → its operations
    files = {s["spanID"]: s for s in trace["spans"] if s["operationName"] == "ddex.file"}
    assert all(f["references"][0]["spanID"] == roots[0]["spanID"] for f in files.values())
    assert {_tags(f).get("file.path") for f in files.values()} >= {str(p) for p in sample_paths}
    assert all(s["references"][0]["spanID"] in files for s in parses)
    for span in parses:
        path = _tags(span).get("file.path")
        if path is not None:
            assert _tags(files[span["references"][0]["spanID"]])["file.path"] == path
    for span in parses:
        tags = _tags(span)
        if "file.path" in tags:
            assert tags["ddex.input.size"] == Path(tags["file.path"]).stat().st_size, tags["file.path"]


def test_demo_broken_message_is_an_error_span(demo_run):
    _, trace, _ = demo_run
    errors = [(s["operationName"], _tags(s)) for s in trace["spans"] if _tags(s).get("otel.status_code") == "ERROR"]
    # the failed parse, and the ddex.file span of that message
    assert sorted((name, t["error.type"]) for name, t in errors) == [
        ("ddex.file", "TruncatedInputError"), ("ddex.parse", "TruncatedInputError")]
    batch = _tags(next(s for s in trace["spans"] if s["operationName"] == "ddex.batch"))
    assert batch["ddex.batch.failure.count"] == 1


def test_demo_operation_counts_match_between_jaeger_and_prometheus(demo_run, sample_paths):
    _, trace, counts = demo_run
    assert counts == _operation_counts(trace)
    assert counts["parse"] >= 2 * len(sample_paths) and counts["build"] >= len(sample_paths)
    assert counts["stream"] == 1
