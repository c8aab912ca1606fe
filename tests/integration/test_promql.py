"""Every PromQL expression we ship (dashboard, alert rules) runs on the real Prometheus."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from support import walk_json

COLLECTOR = Path(__file__).resolve().parents[2] / "collector"
DASHBOARD = json.loads((COLLECTOR / "grafana" / "dashboards" / "ddex-pipeline.json").read_text())
RULES = yaml.safe_load((COLLECTOR / "prometheus" / "alert-rules.yml").read_text())
THRESHOLDS = yaml.safe_load((COLLECTOR / "prometheus" / "alert-thresholds.yml").read_text())
GRAFANA_VARS = {"$__rate_interval": "1m", "$__range": "1h", "$job": ".+", "$ern_version": ".*"}
# Metrics the SDK-only smoke export produces; everything else needs the ddex_otel instrumentor.
SMOKE_METRICS = ("ddex_operation_duration_seconds", "traces_span_metrics", "process_memory_usage_bytes")


def _substitute(expr: str) -> str:
    for var, value in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr}"
    return expr


DASHBOARD_EXPRS = sorted({_substitute(n["expr"]) for n in walk_json(DASHBOARD) if isinstance(n.get("expr"), str)})
ALERT_EXPRS = {r["alert"]: r["expr"] for g in RULES["groups"] for r in g["rules"]}


def _without_threshold(expr: str) -> str:
    """The alert's measured quantity: its expression minus the trailing comparison with its threshold."""
    stripped = re.sub(r'\s*>\s*on\(\)\s*group_left\(\)\s*ddex_alert_threshold\{alert="\w+"\}\s*$', "", expr.strip())
    assert stripped != expr.strip(), f"no trailing threshold in {expr}"
    return stripped


@pytest.mark.parametrize("expr", DASHBOARD_EXPRS)
def test_dashboard_expr_is_valid(expr, prometheus, smoke_runs):
    answer = prometheus.query_raw(expr)
    assert answer["status"] == "success", answer


def _smoke_only(expr: str) -> bool:
    """True when every metric the expression reads is one the smoke export produces."""
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))  # selectors: name{…}
    return bool(names) and all(any(name.startswith(m) for m in SMOKE_METRICS) for name in names)


@pytest.mark.parametrize("expr", [e for e in DASHBOARD_EXPRS if _smoke_only(e)])
def test_dashboard_expr_returns_smoke_data(expr, prometheus, smoke_runs):
    for run in smoke_runs.values():  # make sure the smoke data is scraped before querying
        prometheus.wait(f'ddex_operation_duration_seconds_count{{job="{run.service}"}}', lambda r: len(r) == 2)
        prometheus.wait(f'traces_span_metrics_calls_total{{service_name="{run.service}"}}')
    jobs = "|".join(run.service for run in smoke_runs.values())
    result = prometheus.wait(expr.replace('job=~".+"', f'job=~"{jobs}"'), timeout=30)
    values = [float(series["value"][1]) for series in result]
    defined = [v for v in values if not math.isnan(v)]
    assert values and all(math.isfinite(v) and v >= 0 for v in defined), (expr, result)
    if "rate(" not in expr:  # only a rate (and what divides or ranks rates) of a one-shot export is undefined
        assert defined == values, (expr, result)
    if "histogram_quantile" in expr:  # the smoke durations are 2 ms and 250 ms: no quantile beyond the next bucket
        assert all(v <= 0.5 for v in defined), (expr, values)
    if expr.startswith("max by (job, instance) (process_memory_usage_bytes"):
        assert sorted(values) == sorted(float(run.rss) for run in smoke_runs.values())


@pytest.mark.parametrize("alert", sorted(ALERT_EXPRS))
def test_alert_expr_is_valid(alert, prometheus, smoke_runs):
    answer = prometheus.query_raw(ALERT_EXPRS[alert])
    assert answer["status"] == "success", answer


@pytest.mark.parametrize("alert", ["DDEXParseLatencyHigh", "DDEXErrorRatioHigh", "DDEXProcessMemoryHigh"])
def test_alert_quantity_is_measured_from_smoke_data(alert, prometheus, smoke_runs):
    """The quantity each alert compares exists, with the alert's labels, for both smoke services."""
    services = "|".join(run.service for run in smoke_runs.values())
    expr = _without_threshold(ALERT_EXPRS[alert])
    prometheus.wait(expr, lambda r: {s["metric"].get("job") for s in r} >= set(services.split("|")), timeout=60)


def test_alert_rules_loaded_in_prometheus(prometheus, local_stack):
    from ddex_otel.stack.query import get_json
    groups = get_json(f"{local_stack.endpoints.prometheus}/api/v1/rules")["data"]["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    recorded = {r["record"] for g in THRESHOLDS["groups"] for r in g["rules"]}
    assert loaded == set(ALERT_EXPRS) | recorded
    assert all(r["health"] in ("ok", "unknown") for g in groups for r in g["rules"])


def test_every_alert_has_its_threshold_recorded(prometheus, local_stack):
    """The series the rules compare with exist in the running Prometheus, one per threshold the rules
    read (the per-sender rules reuse the operation thresholds), with the local stack's Jaeger as the link
    base (the session stack uses the seed defaults)."""
    read = {name for expr in ALERT_EXPRS.values() for name in re.findall(r'ddex_alert_threshold\{alert="(\w+)"\}', expr)}
    assert read >= {"DDEXParseLatencyHigh", "DDEXBuildLatencyHigh", "DDEXErrorRatioHigh", "DDEXProcessMemoryHigh"}
    result = prometheus.wait("ddex_alert_threshold", lambda r: len(r) == len(read), timeout=30)
    assert {s["metric"]["alert"] for s in result} == read
    link = prometheus.wait("ddex_alert_link_info", timeout=30)
    assert [s["metric"]["jaeger_url"] for s in link] == [local_stack.endpoints.jaeger]
