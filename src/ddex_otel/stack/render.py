"""Render the shipped configs into a run dir for one local stack (ports chosen at run time)."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import paths
from .alert_settings import AlertSettings, render_alerting
from .errors import StackError
from .links import DEFAULT_LOGS_URL_COMPOSE
from .ports import HOST, Ports

# Addresses written in assets/prometheus/prometheus.yml (the docker-compose form).
_PROMETHEUS_TARGETS = {
    '"otel-collector:8889"': "collector_prometheus",
    '"otel-collector:8888"': "collector_metrics",
    '"localhost:9090"': "prometheus",
    '"alertmanager:9093"': "alertmanager",
}


def render_prometheus_config(source: Path, ports: Ports) -> str:
    """prometheus.yml with each compose target replaced by 127.0.0.1 and its run-time port."""
    text = source.read_text()
    port_map = ports.as_dict()
    for token, port_name in _PROMETHEUS_TARGETS.items():
        if token not in text:
            raise StackError(f"{source} lost its target {token}: cannot render it for the local stack")
        text = text.replace(token, f'"{HOST}:{port_map[port_name]}"')
    return text


def render_run_dir(
    run_dir: Path, ports: Ports, assets_dir: Path | None = None, alerting: AlertSettings | None = None
) -> dict[str, Path]:
    """Write every config a local stack reads into run_dir; return their paths by component."""
    src = assets_dir or paths.assets_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    # The collector and Jaeger configs take every address from the environment: copied as is.
    collector = run_dir / "otelcol-config.yaml"
    shutil.copyfile(src / paths.COLLECTOR_CONFIG, collector)
    jaeger = run_dir / "jaeger-config.yaml"
    shutil.copyfile(src / paths.JAEGER_CONFIG, jaeger)
    jaeger_ui_config = run_dir / "jaeger-ui-config.json"
    jaeger_ui_config.write_text(render_jaeger_ui_config(src / paths.JAEGER_UI_CONFIG, ports))
    prometheus = run_dir / "prometheus.yml"
    prometheus.write_text(render_prometheus_config(src / paths.PROMETHEUS_CONFIG, ports))
    # rule_files are relative to prometheus.yml: alert-thresholds.yml and alert-rules.yml land beside it.
    settings = (alerting or AlertSettings()).with_jaeger_default(f"http://{HOST}:{ports.jaeger_query}")
    alertmanager = render_alerting(run_dir, src, settings)
    return {"collector": collector, "jaeger": jaeger, "jaeger_ui_config": jaeger_ui_config, "prometheus": prometheus,
            "alertmanager": alertmanager}


def render_jaeger_ui_config(source: Path, ports: Ports) -> str:
    """jaeger-ui-config.json with the trace → logs link pointing at this stack's VictoriaLogs."""
    text = source.read_text()
    if DEFAULT_LOGS_URL_COMPOSE not in text:
        raise StackError(f"{source} lost its logs link base {DEFAULT_LOGS_URL_COMPOSE}: cannot render it")
    return text.replace(DEFAULT_LOGS_URL_COMPOSE, f"http://{HOST}:{ports.victorialogs}")


def collector_env(ports: Ports) -> dict[str, str]:
    """Environment that points assets/otelcol-config.yaml at this stack's ports."""
    return {
        "DDEX_OTELCOL_HOST": HOST,
        "DDEX_OTELCOL_OTLP_GRPC_PORT": str(ports.collector_otlp_grpc),
        "DDEX_OTELCOL_OTLP_HTTP_PORT": str(ports.collector_otlp_http),
        "DDEX_OTELCOL_PROMETHEUS_PORT": str(ports.collector_prometheus),
        "DDEX_OTELCOL_HEALTH_PORT": str(ports.collector_health),
        "DDEX_OTELCOL_METRICS_PORT": str(ports.collector_metrics),
        "DDEX_JAEGER_OTLP_ENDPOINT": f"{HOST}:{ports.jaeger_otlp_grpc}",
        "DDEX_VICTORIALOGS_OTLP_ENDPOINT": f"http://{HOST}:{ports.victorialogs}/insert/opentelemetry",
    }


def jaeger_env(ports: Ports, ui_dir: Path | None = None, ui_config: Path | None = None) -> dict[str, str]:
    """Environment that points assets/jaeger/jaeger-config.yaml at this stack's ports, UI files, UI
    config (render_jaeger_ui_config) and Prometheus (the Monitor tab's span metrics)."""
    return {
        "DDEX_JAEGER_HOST": HOST,
        "DDEX_JAEGER_QUERY_PORT": str(ports.jaeger_query),
        "DDEX_JAEGER_QUERY_GRPC_PORT": str(ports.jaeger_query_grpc),
        "DDEX_JAEGER_OTLP_GRPC_PORT": str(ports.jaeger_otlp_grpc),
        "DDEX_JAEGER_OTLP_HTTP_PORT": str(ports.jaeger_otlp_http),
        "DDEX_JAEGER_UI_ASSETS_PATH": str(ui_dir) if ui_dir else "",  # empty: the binary's own page
        "DDEX_JAEGER_UI_CONFIG": str(ui_config) if ui_config else "",
        "DDEX_JAEGER_PROMETHEUS_URL": f"http://{HOST}:{ports.prometheus}",
    }
