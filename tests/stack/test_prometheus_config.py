"""promtool accepts the shipped Prometheus config, the rendered local copy, and the alert rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ddex_otel.stack import Ports
from ddex_otel.stack.render import render_run_dir

PROM_DIR = Path(__file__).resolve().parents[2] / "collector" / "prometheus"


def promtool_run(promtool, *args, cwd=None):
    return subprocess.run([str(promtool), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_shipped_config_is_valid(promtool):
    result = promtool_run(promtool, "check", "config", PROM_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout  # rule_files resolved next to the config


def test_rendered_local_config_is_valid_and_targets_the_chosen_ports(promtool, tmp_path):
    ports = Ports.free()
    render_run_dir(tmp_path, ports)
    text = (tmp_path / "prometheus.yml").read_text()
    for port in (ports.collector_prometheus, ports.collector_metrics, ports.prometheus):
        assert f'"127.0.0.1:{port}"' in text
    assert '"otel-collector:' not in text and '"localhost:9090"' not in text
    result = promtool_run(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid(promtool):
    result = promtool_run(promtool, "check", "rules", PROM_DIR / "alert-rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_alert_rule_unit_tests_pass(promtool):
    result = promtool_run(promtool, "test", "rules", "alert-rules.test.yml", cwd=PROM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("threshold, shifted", [
    ("> 5\n", "> 5.9\n"), ("> 5\n", "> 4.8\n"),              # parse p95: fires at 5.83 s, silent at 4.91 s
    ("> 10\n", "> 10.4\n"), ("> 10\n", "> 9.8\n"),           # build p95: fires at 10.33 s, silent at 9.89 s
    ("> 0.05\n", "> 0.061\n"), ("> 0.05\n", ">= 0.05\n"),    # error ratio: fires at 6 %, silent at 5 %
    ("> 1073741824\n", "> 1074790400\n"), ("> 1073741824\n", ">= 1073741824\n"),  # memory: 1 GiB + 1 MiB / 1 GiB
])
def test_unit_tests_sit_close_to_each_threshold(promtool, tmp_path, threshold, shifted):
    """Mutation check: moving a threshold just past a test case must make `promtool test rules` fail."""
    rules = (PROM_DIR / "alert-rules.yml").read_text()
    assert rules.count(threshold) == 1
    (tmp_path / "alert-rules.yml").write_text(rules.replace(threshold, shifted))
    shutil.copy(PROM_DIR / "alert-rules.test.yml", tmp_path)
    result = promtool_run(promtool, "test", "rules", "alert-rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0, f"alert tests still pass with {threshold.strip()!r} changed to {shifted.strip()!r}"
