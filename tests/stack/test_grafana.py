"""Grafana provisioning: the dashboard parses and only uses provisioned datasources and known metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from support import walk_json

GRAFANA = Path(__file__).resolve().parents[2] / "collector" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "ddex-pipeline.json").read_text())
DATASOURCES = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text())

# Prometheus names of the telemetry contract (after the collector's translation), spanmetrics, alerts.
KNOWN_METRICS = {
    "ddex_operation_duration_seconds_bucket", "ddex_operation_duration_seconds_sum",
    "ddex_operation_duration_seconds_count", "ddex_stage_duration_seconds_total", "ddex_stage_calls_total",
    "ddex_message_size_bytes_total", "ddex_releases_processed_total", "ddex_operations_active",
    "ddex_operation_cpu_time_seconds_total", "ddex_operation_memory_delta_bytes_total",
    "process_cpu_time_seconds_total", "process_cpu_utilization_ratio", "process_memory_usage_bytes",
    "process_memory_virtual_bytes", "process_thread_count", "process_unix_file_descriptor_count",
    "cpython_gc_collections_total", "traces_span_metrics_calls_total",
    "traces_span_metrics_duration_seconds_bucket", "ALERTS",
}
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "or", "vector", "le"}


def dashboard_exprs() -> list[str]:
    """Every PromQL expression in the dashboard (targets, variables, annotations)."""
    exprs = [n["expr"] for n in walk_json(DASHBOARD) if isinstance(n.get("expr"), str)]
    exprs += [v["query"]["query"] for v in DASHBOARD["templating"]["list"]]
    return exprs


def test_dashboard_identity():
    assert DASHBOARD["uid"] == "ddex-pipeline"
    assert DASHBOARD["title"] == "DDEX pipeline"


def test_datasource_uids_match_provisioning():
    provisioned = {ds["uid"]: ds["type"] for ds in DATASOURCES["datasources"]}
    used = [n["datasource"] for n in walk_json(DASHBOARD) if isinstance(n.get("datasource"), dict)]
    assert used
    for ds in used:
        assert provisioned.get(ds["uid"]) == ds["type"], f"unprovisioned datasource {ds}"


def test_exemplars_link_to_jaeger():
    prom = next(ds for ds in DATASOURCES["datasources"] if ds["type"] == "prometheus")
    jaeger = next(ds for ds in DATASOURCES["datasources"] if ds["type"] == "jaeger")
    link = prom["jsonData"]["exemplarTraceIdDestinations"][0]
    assert link == {**link, "name": "trace_id", "datasourceUid": jaeger["uid"]}
    assert any(n.get("exemplar") for n in walk_json(DASHBOARD))


def test_panels_cover_the_issue():
    titles = " | ".join(p["title"].lower() for p in DASHBOARD["panels"])
    for needed in ("rate", "error", "p95", "message size", "releases", "cpu", "memory", "traces"):
        assert needed in titles, f"no panel about {needed}"


def test_panel_ids_unique_and_layout_in_grid():
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24


def test_exprs_use_only_contract_metric_names():
    for expr in dashboard_exprs():
        names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[(]", expr)) - PROMQL_WORDS
        names |= set(re.findall(r"label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)", expr))
        unknown = names - KNOWN_METRICS - {"label_values"}
        assert not unknown, f"{expr}: unknown metric(s) {unknown}"
