"""SDK-only telemetry sent over OTLP gRPC and HTTP shows up in Jaeger and Prometheus."""

from __future__ import annotations

import time

import pytest

PROTOCOLS = ["grpc", "http"]


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trace_reaches_jaeger(protocol, smoke_runs, jaeger):
    run = smoke_runs[protocol]
    traces = {t["traceID"]: t for t in jaeger.wait_traces(run.service, count=2)}
    assert set(traces) == {run.ok_trace_id, run.error_trace_id}

    ok = traces[run.ok_trace_id]
    spans = {s["operationName"]: s for s in ok["spans"]}
    assert set(spans) == {"ddex.parse", "ddex.parse.xml"}
    parse, xml = spans["ddex.parse"], spans["ddex.parse.xml"]
    assert xml["references"] == [{"refType": "CHILD_OF", "traceID": run.ok_trace_id, "spanID": parse["spanID"]}]
    assert _tags(parse)["ddex.operation.name"] == "parse"
    assert _tags(parse)["ddex.ern.version"] == "4.3"
    assert ok["processes"][parse["processID"]]["serviceName"] == run.service

    failed = _tags(traces[run.error_trace_id]["spans"][0])
    assert failed["error.type"] == "DDEXParseError"
    assert failed["otel.status_code"] == "ERROR"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_histogram_reaches_prometheus_with_contract_names(protocol, smoke_runs, prometheus):
    run = smoke_runs[protocol]
    expr = f'ddex_operation_duration_seconds_count{{job="{run.service}"}}'
    result = prometheus.wait(expr, lambda r: len(r) == 2)
    by_error = {s["metric"].get("error_type", ""): s for s in result}
    assert set(by_error) == {"", "DDEXParseError"}
    for series in result:
        assert series["metric"]["ddex_operation_name"] == "parse"
        assert series["metric"]["ddex_ern_version"] == "4.3"
        assert float(series["value"][1]) == 1.0
    total = prometheus.query(f'sum(ddex_operation_duration_seconds_sum{{job="{run.service}"}})')
    assert float(total[0]["value"][1]) == pytest.approx(0.252)
    buckets = prometheus.query(f'ddex_operation_duration_seconds_bucket{{job="{run.service}", error_type=""}}')
    cumulative = {s["metric"]["le"]: float(s["value"][1]) for s in buckets}
    assert cumulative["0.1"] == 0.0 and cumulative["0.5"] == 1.0 and cumulative["+Inf"] == 1.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_process_gauge_keeps_its_unit_suffix(protocol, smoke_runs, prometheus):
    run = smoke_runs[protocol]
    result = prometheus.wait(f'process_memory_usage_bytes{{job="{run.service}"}}')
    assert float(result[0]["value"][1]) > 1_000_000


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_spanmetrics_count_spans_per_name(protocol, smoke_runs, prometheus):
    run = smoke_runs[protocol]
    expr = f'traces_span_metrics_calls_total{{service_name="{run.service}", span_name="ddex.parse"}}'
    # The connector's first flush of a new series reports 0; wait for the count of our one span each.
    result = prometheus.wait(expr, lambda r: len(r) == 2 and all(float(s["value"][1]) == 1.0 for s in r))
    by_status = {s["metric"]["status_code"]: s["metric"] for s in result}
    assert set(by_status) == {"STATUS_CODE_UNSET", "STATUS_CODE_ERROR"}
    assert by_status["STATUS_CODE_ERROR"]["error_type"] == "DDEXParseError"
    for labels in by_status.values():
        assert labels["ddex_operation_name"] == "parse" and labels["ddex_ern_version"] == "4.3"


def test_duration_exemplar_links_to_the_trace(smoke_runs, prometheus):
    run = smoke_runs["grpc"]
    expr = f'ddex_operation_duration_seconds_bucket{{job="{run.service}"}}'
    prometheus.wait(expr)
    now = time.time()

    def trace_ids():
        groups = prometheus.exemplars(expr, now - 3600, time.time() + 60)
        return {e["labels"].get("trace_id") for g in groups for e in g["exemplars"]}

    from ddex_otel.stack.query import poll
    ids = poll(trace_ids, lambda found: run.ok_trace_id in found, 60, "exemplar with the parse trace id")
    assert run.ok_trace_id in ids
