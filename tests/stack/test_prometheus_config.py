"""promtool accepts the shipped Prometheus config, the rendered local copy, and the alert rules;
the rules fire at the seed thresholds and at thresholds overridden per deployment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ddex_otel.stack import Ports
from ddex_otel.stack.alert_settings import AlertSettings
from ddex_otel.stack.render import render_run_dir

REPO = Path(__file__).resolve().parents[2]
PROM_DIR = REPO / "collector" / "prometheus"
OVERRIDES_TEST = REPO / "tests" / "data" / "alert-overrides.test.yml"


def promtool_run(promtool, *args, cwd=None):
    return subprocess.run([str(promtool), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_shipped_config_is_valid(promtool):
    result = promtool_run(promtool, "check", "config", PROM_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 rules found" in result.stdout  # rule_files resolved next to the config
    assert "5 rules found" in result.stdout  # alert-thresholds.yml: 4 thresholds + the Jaeger link


def test_rendered_local_config_is_valid_and_targets_the_chosen_ports(promtool, tmp_path):
    ports = Ports.free()
    render_run_dir(tmp_path, ports)
    text = (tmp_path / "prometheus.yml").read_text()
    for port in (ports.collector_prometheus, ports.collector_metrics, ports.prometheus, ports.alertmanager):
        assert f'"127.0.0.1:{port}"' in text
    assert '"otel-collector:' not in text and '"localhost:9090"' not in text and '"alertmanager:' not in text
    result = promtool_run(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid(promtool):
    result = promtool_run(promtool, "check", "rules", PROM_DIR / "alert-rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_alert_rule_unit_tests_pass(promtool):
    result = promtool_run(promtool, "test", "rules", "alert-rules.test.yml", cwd=PROM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("file, threshold, shifted", [
    # parse p95: fires at 5.83 s, silent at 4.91 s
    ("alert-thresholds.yml", "vector(5)\n", "vector(5.9)\n"), ("alert-thresholds.yml", "vector(5)\n", "vector(4.8)\n"),
    # build p95: fires at 10.33 s, silent at 9.89 s
    ("alert-thresholds.yml", "vector(10)\n", "vector(10.4)\n"),
    ("alert-thresholds.yml", "vector(10)\n", "vector(9.8)\n"),
    # error ratio: fires at 6 %, silent at 5 %
    ("alert-thresholds.yml", "vector(0.05)\n", "vector(0.061)\n"),
    ("alert-rules.yml", 'count[5m]))\n          ) > on() group_left() ddex_alert_threshold{alert="DDEXErrorRatioHigh"}',
     'count[5m]))\n          ) >= on() group_left() ddex_alert_threshold{alert="DDEXErrorRatioHigh"}'),
    # per-sender error ratio: fires at 10 %, silent at exactly 5 %
    ("alert-rules.yml", 'validate)"}[5m]))\n          ) > on() group_left() ddex_alert_threshold{alert="DDEXErrorRatioHigh"}',
     'validate)"}[5m]))\n          ) >= on() group_left() ddex_alert_threshold{alert="DDEXErrorRatioHigh"}'),
    # memory: fires at 1 GiB + 1 MiB, silent at 1 GiB
    ("alert-thresholds.yml", "vector(1073741824)\n", "vector(1074790400)\n"),
    ("alert-rules.yml", "(process_memory_usage_bytes) > on()", "(process_memory_usage_bytes) >= on()"),
])
def test_unit_tests_sit_close_to_each_threshold(promtool, tmp_path, file, threshold, shifted):
    """Mutation check: moving a threshold just past a test case must make `promtool test rules` fail."""
    for name in ("alert-rules.yml", "alert-thresholds.yml", "alert-rules.test.yml"):
        shutil.copy(PROM_DIR / name, tmp_path)
    text = (PROM_DIR / file).read_text()
    assert text.count(threshold) == 1
    (tmp_path / file).write_text(text.replace(threshold, shifted))
    result = promtool_run(promtool, "test", "rules", "alert-rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0, f"alert tests still pass with {threshold.strip()!r} changed to {shifted.strip()!r}"


OVERRIDES = AlertSettings(parse_p95_seconds=0.5, build_p95_seconds=2.0, error_ratio=0.01, memory_bytes=104857600.0,
                          rule_for="10s", rule_window="1m", jaeger_url="https://jaeger.example.com/")


def test_overridden_thresholds_for_and_window_fire_as_rendered(promtool, tmp_path):
    """The rendered rule files of a deployment with its own thresholds, `for:` and rate window pass the
    overrides' promtool tests: each alert fires just above its new threshold, stays silent just below it,
    after 10 s instead of 5 m, and links to the configured Jaeger."""
    render_run_dir(tmp_path, Ports.free(), alerting=OVERRIDES)
    shutil.copy(OVERRIDES_TEST, tmp_path)
    result = promtool_run(promtool, "test", "rules", OVERRIDES_TEST.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_overrides_test_fails_against_the_seed_defaults(promtool, tmp_path):
    """The overrides' promtool tests prove something: with the shipped thresholds and 5m they fail."""
    for name in ("alert-rules.yml", "alert-thresholds.yml"):
        shutil.copy(PROM_DIR / name, tmp_path)
    shutil.copy(OVERRIDES_TEST, tmp_path)
    result = promtool_run(promtool, "test", "rules", OVERRIDES_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
