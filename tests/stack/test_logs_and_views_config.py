"""The stack's logs store (VictoriaLogs), Jaeger's Monitor tab and trace → logs link, per-sender span metrics:
the shipped configs agree with each other, with compose and with what `stack up` renders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from ddex_otel.stack import build, links, paths
from ddex_otel.stack.local import LocalStack
from ddex_otel.stack.ports import Ports
from ddex_otel.stack.render import collector_env, jaeger_env, render_run_dir

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "collector"
COLLECTOR = yaml.safe_load((ASSETS / "otelcol-config.yaml").read_text())
JAEGER = yaml.safe_load((ASSETS / "jaeger" / "jaeger-config.yaml").read_text())
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_collector_ships_logs_to_victorialogs_otlp_ingestion() -> None:
    pipeline = COLLECTOR["service"]["pipelines"]["logs"]
    assert pipeline == {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                        "exporters": ["otlp_http/victorialogs"]}
    exporter = COLLECTOR["exporters"]["otlp_http/victorialogs"]
    assert exporter["endpoint"] == "${env:DDEX_VICTORIALOGS_OTLP_ENDPOINT:-http://127.0.0.1:9428/insert/opentelemetry}"
    assert exporter["headers"] == {"VL-Stream-Fields": "service.name"}
    assert collector_env(Ports(victorialogs=19428))["DDEX_VICTORIALOGS_OTLP_ENDPOINT"] == (
        "http://127.0.0.1:19428/insert/opentelemetry")


def test_sender_is_a_bounded_span_metrics_dimension_in_both_collector_tiers() -> None:
    gateway = yaml.safe_load((ASSETS / "scale-out" / "otelcol-gateway.yaml").read_text())
    for config in (COLLECTOR, gateway):
        connector = config["connectors"]["span_metrics"]
        assert {"name": "ddex.message.sender.id", "default": "unknown"} in connector["dimensions"]
        assert connector["aggregation_cardinality_limit"] == "${env:DDEX_OTELCOL_SPANMETRICS_CARDINALITY_LIMIT:-5000}"


def test_jaeger_monitor_tab_reads_the_span_metrics_from_prometheus() -> None:
    query = JAEGER["extensions"]["jaeger_query"]
    backend_name = query["storage"]["metrics"]
    prometheus = JAEGER["extensions"]["jaeger_storage"]["metric_backends"][backend_name]["prometheus"]
    # the span_metrics/jaeger connector's namespace, as the prometheus exporter names it
    # (UnderscoreEscapingWithSuffixes), in milliseconds: Jaeger shows what it reads as milliseconds
    connector = COLLECTOR["connectors"]["span_metrics/jaeger"]
    assert prometheus["metric_namespace"] == connector["namespace"].replace(".", "_")
    assert connector["histogram"]["unit"] == prometheus["latency_unit"] == "ms"
    assert "span_metrics/jaeger" in COLLECTOR["service"]["pipelines"]["traces"]["exporters"]
    assert "span_metrics/jaeger" in COLLECTOR["service"]["pipelines"]["metrics"]["receivers"]
    assert prometheus["normalize_calls"] is prometheus["normalize_duration"] is True
    assert prometheus["endpoint"] == "${env:DDEX_JAEGER_PROMETHEUS_URL:-http://127.0.0.1:9090}"
    assert jaeger_env(Ports(prometheus=19090))["DDEX_JAEGER_PROMETHEUS_URL"] == "http://127.0.0.1:19090"
    compose_env = COMPOSE["services"]["jaeger"]["environment"]
    assert compose_env["DDEX_JAEGER_PROMETHEUS_URL"] == "http://prometheus:9090"


def test_jaeger_ui_config_links_a_trace_to_its_logs_query() -> None:
    ui = json.loads((ASSETS / paths.JAEGER_UI_CONFIG).read_text())
    assert ui["monitor"] == {"menuEnabled": True}
    (pattern,) = ui["linkPatterns"]
    assert pattern["type"] == "traces"
    # the same query the CLI prints (links.logs_trace_url), with Jaeger's template parameter for the id
    assert pattern["url"] == links.DEFAULT_LOGS_URL_COMPOSE + links.LOGS_QUERY_PATH.replace("{trace_id}", "#{traceID}")


def test_stack_up_renders_the_ui_config_with_its_victorialogs_port(tmp_path: Path) -> None:
    configs = render_run_dir(tmp_path, Ports(victorialogs=19428))
    ui = json.loads(configs["jaeger_ui_config"].read_text())
    assert ui["linkPatterns"][0]["url"].startswith("http://127.0.0.1:19428/select/vmui/#/?query=trace_id")
    assert jaeger_env(Ports(), None, configs["jaeger_ui_config"])["DDEX_JAEGER_UI_CONFIG"] == str(
        configs["jaeger_ui_config"])


def test_victorialogs_command_line(tmp_path: Path) -> None:
    for name in ("jaeger", "ddex-otelcol", "victoria-logs", "prometheus", "alertmanager"):
        (tmp_path / name).touch(mode=0o755)
    stack = LocalStack(tmp_path, Ports.free(), bin_dir=tmp_path)
    argv, env, health, url = stack._specs()["victorialogs"]
    port = stack.ports.victorialogs
    assert argv == [str(tmp_path / "victoria-logs"), f"-httpListenAddr=127.0.0.1:{port}",
                    f"-storageDataPath={tmp_path / 'victorialogs-data'}", "-retentionPeriod=2d", "-loggerLevel=WARN"]
    assert health == f"http://127.0.0.1:{port}/health" and url == f"http://127.0.0.1:{port}/select/vmui/"
    assert stack.endpoints.logs == f"http://127.0.0.1:{port}"


def test_logs_link_follows_the_running_stack(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(links.ENV_LOGS_URL, raising=False)
    (tmp_path / "state.json").write_text(json.dumps({"ports": {"victorialogs": 19999}}))
    url = links.logs_trace_url(0xAB, links.logs_base_url(tmp_path))
    assert url == "http://127.0.0.1:19999/select/vmui/#/?query=trace_id%3A%22" + "0" * 30 + "ab%22"
    monkeypatch.setenv(links.ENV_LOGS_URL, "https://logs.example.com/")
    assert links.logs_base_url(tmp_path) == "https://logs.example.com"


def test_compose_runs_the_victorialogs_release_the_stack_builds() -> None:
    gomod = (ASSETS / "victorialogs" / "go.mod").read_text()
    version = re.search(r"github\.com/VictoriaMetrics/VictoriaLogs (v\S+)", gomod).group(1)
    assert version == "v1.52.2"
    service = COMPOSE["services"]["victorialogs"]
    assert service["image"] == f"victoriametrics/victoria-logs:{version}"
    assert COMPOSE["services"]["otel-collector"]["environment"]["DDEX_VICTORIALOGS_OTLP_ENDPOINT"] == (
        "http://victorialogs:9428/insert/opentelemetry")
    assert "tool github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs" in gomod


def test_logs_store_has_its_own_cache_key(tmp_path: Path, monkeypatch) -> None:
    """Adding or changing the VictoriaLogs module never rebuilds the collector or Jaeger."""
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS, copy)
    monkeypatch.setattr(paths, "assets_dir", lambda: copy)
    targets = {t.name: t for t in build.GO_TARGETS}
    before = {name: build.go_key(t, "go1.26.8") for name, t in targets.items()}
    (copy / "victorialogs" / "go.mod").write_text((copy / "victorialogs" / "go.mod").read_text() + "\n// changed\n")
    after = {name: build.go_key(t, "go1.26.8") for name, t in targets.items()}
    assert after["ddex-otelcol"] == before["ddex-otelcol"] and after["jaeger"] == before["jaeger"]
    assert after["victoria-logs"] != before["victoria-logs"]
