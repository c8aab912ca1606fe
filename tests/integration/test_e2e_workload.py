"""End to end: the instrumented ERN engine parses and builds real samples, exports over OTLP
(gRPC and HTTP) to the local collector, and Jaeger and Prometheus hold what the contract promises.

Expected values come from the files themselves (sizes, lxml element counts) and from what the
workload saw (which calls raised), never from our own parser's model.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError

# Same convention as tests/conftest.py: $DDEX_SAMPLES_DIR, else shared/ beside the checkout.
SAMPLES_DIR = Path(os.environ.get("DDEX_SAMPLES_DIR", Path(__file__).resolve().parents[3] / "shared" / "ddex-samples"))
SAMPLES = sorted(SAMPLES_DIR.glob("*.xml"))
MALFORMED = b"<?xml version='1.0'?><NewReleaseMessage xmlns='http://ddex.net/xml/ern/43'><MessageHeader></NewReleaseMessage>"
RELEASE_ELEMENTS = {"Release", "TrackRelease", "ClipRelease"}


@dataclass
class FileFacts:
    """What a sample file holds, read with lxml independently of ddex_otel.ern."""

    path: Path
    size: int
    ern_version: str
    message_type: str
    message_id: str | None
    releases: int

    @classmethod
    def read(cls, path: Path) -> FileFacts:
        root = etree.parse(str(path)).getroot()
        local = lambda el: etree.QName(el).localname  # noqa: E731
        ns_tail = etree.QName(root).namespace.rsplit("/", 1)[1]
        release_lists = [c for c in root if isinstance(c.tag, str) and local(c) == "ReleaseList"]
        releases = sum(1 for rl in release_lists for c in rl if isinstance(c.tag, str) and local(c) in RELEASE_ELEMENTS)
        message_id = root.findtext("MessageHeader/MessageId")
        return cls(path, path.stat().st_size, ".".join(ns_tail), local(root),
                   message_id.strip() if message_id else None, releases)


@dataclass
class Workload:
    """One instrumented run: what was called, what raised, under which service name."""

    protocol: str
    service: str
    facts: dict[str, FileFacts] = field(default_factory=dict)
    bad_file: Path | None = None
    bad_error: str = ""
    parsed: dict[str, ern.Message] = field(default_factory=dict)
    build_errors: dict[str, str] = field(default_factory=dict)
    built_bytes: int = 0

    @property
    def parse_count(self) -> int:
        return len(self.facts) + 1

    @property
    def build_count(self) -> int:
        return len(self.parsed)


def run_workload(protocol: str, endpoints, tmp_dir: Path) -> Workload:
    """configure() → OTLP to the stack; parse every sample plus one malformed file, build every
    parsed message; then shut telemetry down (which exports what is pending)."""
    from ddex_otel.telemetry import configure

    work = Workload(protocol, f"ddex-e2e-{protocol}-{uuid.uuid4().hex[:8]}")
    work.facts = {str(p): FileFacts.read(p) for p in SAMPLES}
    work.bad_file = tmp_dir / f"malformed-{protocol}.xml"
    work.bad_file.write_bytes(MALFORMED)
    handle = configure(
        endpoint=endpoints.otlp_grpc if protocol == "grpc" else endpoints.otlp_http,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        service_name=work.service,
        set_global=False,
        process_metrics=True,
        instrument_options={"stage_spans": True, "resource_usage": True},  # every contract metric
        metric_export_interval_millis=3_600_000,  # one export, at shutdown
    )
    assert handle.instrumented, "configure() did not instrument the engine (already instrumented elsewhere?)"
    try:
        for path in work.facts:
            work.parsed[path] = ern.parse(path)
        with pytest.raises(DDEXError) as bad:
            ern.parse(str(work.bad_file))
        work.bad_error = type(bad.value).__name__
        for path, message in work.parsed.items():
            try:
                work.built_bytes += len(ern.build(message))
            except DDEXError as exc:
                work.build_errors[path] = type(exc).__name__
    finally:
        handle.shutdown()
    assert handle.export_failures == 0, f"telemetry export failed: {handle.failures.first_error}"
    return work


@pytest.fixture(scope="module", params=["grpc", "http"])
def workload(request, local_stack, tmp_path_factory) -> Workload:
    assert SAMPLES, f"no DDEX samples in {SAMPLES_DIR} (set DDEX_SAMPLES_DIR)"
    return run_workload(request.param, local_stack.endpoints, tmp_path_factory.mktemp("e2e"))


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


def _root(trace: dict) -> dict:
    roots = [s for s in trace["spans"] if not s["references"]]
    assert len(roots) == 1, f"trace {trace['traceID']} has {len(roots)} root spans"
    return roots[0]


@pytest.fixture(scope="module")
def traces(workload, jaeger) -> list[dict]:
    expected = workload.parse_count + workload.build_count
    return jaeger.wait_traces(workload.service, count=expected, timeout=60, limit=1000)


def test_one_parse_trace_per_message(workload, traces):
    parse_roots = [_root(t) for t in traces if _root(t)["operationName"] == "ddex.parse"]
    paths = sorted(_tags(s).get("file.path") for s in parse_roots)
    assert paths == sorted([*workload.facts, str(workload.bad_file)])


def test_one_build_trace_per_parsed_message(workload, traces):
    builds = [t for t in traces if _root(t)["operationName"] == "ddex.build"]
    assert len(builds) == workload.build_count
    assert len(traces) == workload.parse_count + workload.build_count


def test_parse_spans_carry_the_contract_attributes(workload, traces):
    by_path = {_tags(_root(t)).get("file.path"): _root(t) for t in traces if _root(t)["operationName"] == "ddex.parse"}
    for path, facts in workload.facts.items():
        tags = _tags(by_path[path])
        name = facts.path.name
        assert tags["ddex.operation.name"] == "parse", name
        assert tags["ddex.input.size"] == facts.size, name
        assert tags["ddex.ern.version"] == facts.ern_version, name
        assert tags["ddex.message.type"] == facts.message_type, name
        assert tags["ddex.release.count"] == facts.releases, name
        if facts.message_id:
            assert tags["ddex.message.id"] == facts.message_id, name
        assert "error.type" not in tags, name


def test_build_spans_report_output_size_and_errors(workload, traces):
    builds = [_root(t) for t in traces if _root(t)["operationName"] == "ddex.build"]
    failed = sorted(_tags(s).get("error.type") for s in builds if "error.type" in _tags(s))
    assert failed == sorted(workload.build_errors.values())
    for span in builds:
        tags = _tags(span)
        assert tags["ddex.operation.name"] == "build"
        if "error.type" not in tags:
            assert tags["ddex.output.size"] > 0


def test_stage_spans_are_children_of_their_operation(workload, traces):
    for trace in traces:
        root = _root(trace)
        children = [s for s in trace["spans"] if s is not root]
        op = root["operationName"]
        if op == "ddex.parse" and _tags(root).get("file.path") != str(workload.bad_file):
            assert children, f"parse trace {trace['traceID']} has no stage spans"
        for child in children:
            assert child["operationName"].startswith(op + "."), child["operationName"]
            assert child["references"][0]["spanID"] == root["spanID"]


def test_malformed_file_gives_an_error_span(workload, traces):
    bad = [_root(t) for t in traces if _tags(_root(t)).get("file.path") == str(workload.bad_file)]
    assert len(bad) == 1
    tags = _tags(bad[0])
    assert tags["error.type"] == workload.bad_error
    assert tags["otel.status_code"] == "ERROR"
    assert any(f["key"] == "event" and f["value"] == "exception" for log in bad[0]["logs"] for f in log["fields"])


def test_service_name_on_the_process(workload, traces):
    for trace in traces:
        services = {p["serviceName"] for p in trace["processes"].values()}
        assert services == {workload.service}


def test_operation_counts_in_prometheus(workload, prometheus):
    expr = f'sum by (ddex_operation_name) (ddex_operation_duration_seconds_count{{job="{workload.service}"}})'
    expected = {"parse": workload.parse_count, "build": workload.build_count}
    result = prometheus.wait(expr, lambda r: {s["metric"]["ddex_operation_name"] for s in r} >= set(expected))
    assert {s["metric"]["ddex_operation_name"]: float(s["value"][1]) for s in result} == expected


def test_error_counts_in_prometheus(workload, prometheus):
    expr = (f'sum by (ddex_operation_name, error_type) '
            f'(ddex_operation_duration_seconds_count{{job="{workload.service}", error_type!=""}})')
    result = prometheus.wait(expr)
    got = {(s["metric"]["ddex_operation_name"], s["metric"]["error_type"]): float(s["value"][1]) for s in result}
    expected: dict[tuple[str, str], float] = {("parse", workload.bad_error): 1.0}
    for error in workload.build_errors.values():
        expected[("build", error)] = expected.get(("build", error), 0.0) + 1
    assert got == expected


def test_parse_durations_by_ern_version(workload, prometheus):
    expr = (f'sum by (ddex_ern_version) (ddex_operation_duration_seconds_count'
            f'{{job="{workload.service}", ddex_operation_name="parse", error_type=""}})')
    expected: dict[str, float] = {}
    for facts in workload.facts.values():
        expected[facts.ern_version] = expected.get(facts.ern_version, 0.0) + 1
    result = prometheus.wait(expr)
    assert {s["metric"]["ddex_ern_version"]: float(s["value"][1]) for s in result} == expected


def test_releases_processed_by_parse(workload, prometheus):
    expr = f'sum(ddex_releases_processed_total{{job="{workload.service}", ddex_operation_name="parse"}})'
    result = prometheus.wait(expr)
    assert float(result[0]["value"][1]) == sum(f.releases for f in workload.facts.values())


def _sum(prometheus, expr: str) -> float:
    result = prometheus.wait(expr)
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_process_metrics_present(workload, prometheus):
    """The process gauges describe the workload's own process: plausible, mutually consistent values."""
    job = f'job="{workload.service}"'
    rss = _sum(prometheus, f"sum(process_memory_usage_bytes{{{job}}})")
    virtual = _sum(prometheus, f"sum(process_memory_virtual_bytes{{{job}}})")
    assert 10 * 2**20 < rss < virtual
    assert _sum(prometheus, f"sum(process_cpu_time_seconds_total{{{job}}})") > 0  # it parsed and built
    assert _sum(prometheus, f"sum(process_thread_count{{{job}}})") >= 2  # main + the delivery worker
    assert _sum(prometheus, f"sum(process_unix_file_descriptor_count{{{job}}})") >= 3
    assert _sum(prometheus, f"sum(cpython_gc_collections_total{{{job}}})") > 0
    utilization = prometheus.wait(f"process_cpu_utilization_ratio{{{job}}}")
    assert all(0 <= float(s["value"][1]) <= (os.cpu_count() or 1) for s in utilization), utilization


def test_contract_metrics_present(workload, prometheus):
    """The observable contract metrics add up to what the workload did."""
    job = f'job="{workload.service}"'
    calls = prometheus.wait(f'ddex_stage_calls_total{{{job}, ddex_operation_name="parse"}}')
    by_stage = {s["metric"]["ddex_stage_name"]: float(s["value"][1]) for s in calls}
    assert by_stage["read"] == by_stage["xml"] == workload.parse_count  # the malformed file too
    assert by_stage["extract"] == workload.parse_count - 1  # it fails in the xml stage
    stage_seconds = _sum(prometheus, f'sum(ddex_stage_duration_seconds_total{{{job}, ddex_operation_name="parse"}})')
    parse_seconds = _sum(prometheus, f'sum(ddex_operation_duration_seconds_sum{{{job}, ddex_operation_name="parse"}})')
    assert 0 < stage_seconds <= parse_seconds
    read = sum(f.size for f in workload.facts.values()) + len(MALFORMED)
    assert _sum(prometheus, f'sum(ddex_message_size_bytes_total{{{job}, ddex_operation_name="parse"}})') == read
    written = _sum(prometheus, f'sum(ddex_message_size_bytes_total{{{job}, ddex_operation_name="build"}})')
    assert written == workload.built_bytes
    active = prometheus.wait(f"ddex_operations_active{{{job}}}")
    assert {s["metric"]["ddex_operation_name"] for s in active} >= {"parse", "build"}
    assert all(float(s["value"][1]) == 0 for s in active), active


def test_spanmetrics_series_present(workload, prometheus):
    """The collector's span_metrics connector counts every parse and build span (its first flush is 0)."""
    expr = f'sum by (span_name) (traces_span_metrics_calls_total{{service_name="{workload.service}"}})'
    expected = {"ddex.parse": workload.parse_count, "ddex.build": workload.build_count}
    calls = lambda r: {s["metric"]["span_name"]: float(s["value"][1]) for s in r}  # noqa: E731
    result = prometheus.wait(expr, lambda r: all(calls(r).get(k) == v for k, v in expected.items()))
    assert {k: v for k, v in calls(result).items() if k in expected} == expected
    stage_spans = {k for k in calls(result) if k.startswith("ddex.parse.")}
    assert stage_spans, "no spanmetrics for the parse stage spans"


def test_every_dashboard_panel_has_data(workload, prometheus):
    """After the full workload, each dashboard query (Grafana variables filled in) returns series."""
    import json

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "collector" / "grafana" / "dashboards"
                            / "ddex-pipeline.json").read_text())
    fill = {"$__rate_interval": "1m", "$__range": "1h", "$job": workload.service, "$ern_version": ".*"}
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if "expr" in target:
                expr = target["expr"]
                for var, value in sorted(fill.items(), key=lambda kv: -len(kv[0])):
                    expr = expr.replace(var, value)
                exprs.append((panel["title"], expr))
    assert len(exprs) > 20
    prometheus.wait(f'ddex_operation_duration_seconds_count{{job="{workload.service}"}}')
    for title, expr in exprs:
        try:
            prometheus.wait(expr, timeout=30)
        except TimeoutError as exc:
            pytest.fail(f"panel {title!r} has no data: {exc}")
