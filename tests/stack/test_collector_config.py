"""The shipped collector config is valid for the built collector, which has exactly its components."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "collector" / "otelcol-config.yaml"
COMPOSE_ENV = {"DDEX_OTELCOL_HOST": "0.0.0.0", "DDEX_JAEGER_OTLP_ENDPOINT": "jaeger:4317",
               "DDEX_VICTORIALOGS_OTLP_ENDPOINT": "http://victorialogs:9428/insert/opentelemetry"}


def _validate(otelcol, config, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDEX_")}
    env.update(extra_env or {})
    return subprocess.run([str(otelcol), "validate", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=60)


def test_validates_with_local_defaults(otelcol):
    result = _validate(otelcol, CONFIG)
    assert result.returncode == 0, result.stderr


def test_validates_with_compose_environment(otelcol):
    result = _validate(otelcol, CONFIG, COMPOSE_ENV)
    assert result.returncode == 0, result.stderr


def test_validate_rejects_a_broken_config(otelcol, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG.read_text().replace("UnderscoreEscapingWithSuffixes", "NoSuchStrategy"))
    result = _validate(otelcol, broken)
    assert result.returncode != 0
    assert "translation_strategy" in result.stderr


def _component_type(name: str) -> str:
    return name.split("/", 1)[0]


# Built for the tests' fake vendor and for archiving OTLP JSON, used by no shipped config.
EXTRA_COMPONENTS = {"exporters": {"file"}}


def _everything_the_overlay_can_add() -> dict:
    """The vendor (http and grpc) + ingest overlay of ddex_otel.stack.overlay, all options on."""
    from ddex_otel.stack.overlay import IngestOptions, VendorOptions, render_overlay

    base = yaml.safe_load(CONFIG.read_text())
    combined: dict = {}
    for protocol in ("http", "grpc"):
        overlay = render_overlay(base, VendorOptions("https://v.test", protocol=protocol),
                                 IngestOptions(token_env="TOKEN"), "/tmp/queue").config
        for kind, section in overlay.items():
            if kind != "service":
                combined.setdefault(kind, {}).update(section)
    return combined


def test_binary_has_exactly_the_components_the_config_uses(otelcol):
    config = yaml.safe_load(CONFIG.read_text())
    overlay = _everything_the_overlay_can_add()
    listed = yaml.safe_load(subprocess.run([str(otelcol), "components"], capture_output=True,
                                           text=True, check=True, timeout=60).stdout)
    for kind in ("receivers", "processors", "exporters", "connectors", "extensions"):
        used = {_component_type(name) for name in [*config.get(kind, {}), *overlay.get(kind, {})]}
        used |= EXTRA_COMPONENTS.get(kind, set())
        built = {c["name"] for c in listed.get(kind) or []}
        assert used == built, f"{kind}: config uses {sorted(used)}, binary has {sorted(built)}"


def test_prometheus_exporter_translates_per_contract():
    exporter = yaml.safe_load(CONFIG.read_text())["exporters"]["prometheus"]
    assert exporter["translation_strategy"] == "UnderscoreEscapingWithSuffixes"
    assert exporter["enable_open_metrics"] is True  # exemplars need OpenMetrics


def test_spanmetrics_dimensions_include_the_ddex_attributes():
    connector = yaml.safe_load(CONFIG.read_text())["connectors"]["span_metrics"]
    names = {d["name"] for d in connector["dimensions"]}
    assert {"ddex.operation.name", "ddex.ern.version"} <= names
    assert connector["exemplars"]["enabled"] is True


def test_jaeger_config_validates(stack_bin_dir):
    config = CONFIG.parent / "jaeger" / "jaeger-config.yaml"
    result = subprocess.run([str(stack_bin_dir / "jaeger"), "validate", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
