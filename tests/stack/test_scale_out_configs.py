"""The scale-out tier's configs (collector/scale-out/): valid for the built binaries, loopback by
default, persistent queues where the issue asks for them, spanmetrics identical to the single node."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ddex_otel.stack.fleet import Fleet

ROOT = Path(__file__).resolve().parents[2] / "collector"
SCALE_OUT = ROOT / "scale-out"
AGENT, GATEWAY = SCALE_OUT / "otelcol-agent.yaml", SCALE_OUT / "otelcol-gateway.yaml"


def _run(binary: Path, config: Path, tmp_path: Path, env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DDEX_")}
    clean.update({"DDEX_OTELCOL_QUEUE_DIR": str(tmp_path / "queue"), "DDEX_JAEGER_DATA_DIR": str(tmp_path)})
    clean.update(env or {})
    return subprocess.run([str(binary), "validate", "--config", str(config)], env=clean,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("config", [AGENT, GATEWAY], ids=["agent", "gateway"])
def test_collector_configs_validate(otelcol, config, tmp_path):
    result = _run(otelcol, config, tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_misspelt_queue_setting_is_rejected(otelcol, tmp_path):
    broken = tmp_path / "agent.yaml"
    broken.write_text(AGENT.read_text().replace("num_consumers: 4", "num_consumerz: 4"))
    result = _run(otelcol, broken, tmp_path)
    assert result.returncode != 0 and "num_consumerz" in result.stderr


def test_jaeger_badger_config_validates(stack_bin_dir, tmp_path):
    result = _run(stack_bin_dir / "jaeger", SCALE_OUT / "jaeger-badger.yaml", tmp_path)
    assert result.returncode == 0, result.stderr


def test_every_forwarding_exporter_has_a_persistent_queue_that_never_gives_up():
    for config, exporter in ((AGENT, "otlp_grpc/gateway"), (GATEWAY, "otlp_grpc/jaeger")):
        data = yaml.safe_load(config.read_text())
        settings = data["exporters"][exporter]
        assert settings["sending_queue"]["storage"] == "file_storage/queue"
        assert settings["retry_on_failure"]["max_elapsed_time"] == 0
        assert "file_storage/queue" in data["service"]["extensions"]
        for pipeline in data["service"]["pipelines"].values():
            assert pipeline["processors"][0] == "memory_limiter" and "batch" in pipeline["processors"]


def test_spanmetrics_run_once_on_the_gateway_as_on_the_single_node():
    single = yaml.safe_load((ROOT / "otelcol-config.yaml").read_text())["connectors"]["span_metrics"]
    gateway = yaml.safe_load(GATEWAY.read_text())
    assert gateway["connectors"]["span_metrics"] == single
    assert "connectors" not in yaml.safe_load(AGENT.read_text())


def test_listen_on_loopback_by_default():
    for config in (AGENT, GATEWAY, SCALE_OUT / "jaeger-badger.yaml"):
        hosts = re.findall(r"\$\{env:DDEX_\w+_HOST:-([^}]+)\}", config.read_text())
        assert hosts and set(hosts) == {"127.0.0.1"}, (config.name, hosts)


def test_fleet_renders_prometheus_targets_for_its_ports(tmp_path):
    fleet = Fleet(tmp_path, workers=3)
    fleet._allocate_ports()
    text = (Path(fleet._render_prometheus())).read_text()
    targets = [t for job in yaml.safe_load(text)["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert len(targets) == 2 + 3
    assert all(t.startswith("127.0.0.1:") for t in targets)
    assert len(set(fleet.ports.values())) == len(fleet.ports)  # no port given twice
