"""assets/alertmanager/alertmanager.yml: valid as shipped and as rendered (amtool 0.25), routed by
severity, rendered the same by the local stack (Python) and by the compose entrypoint (sh + awk), and
private: the rendered file is 0600 and no secret shows in a repr, an error or the stack's state."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from ddex_otel.stack import LocalStack, Ports
from ddex_otel.stack.alert_settings import AlertConfigError, AlertSettings, render_marked
from ddex_otel.stack.cli import main as cli_main
from ddex_otel.stack.render import render_run_dir

REPO = Path(__file__).resolve().parents[2]
AM_DIR = REPO / "collector" / "alertmanager"
SHIPPED = AM_DIR / "alertmanager.yml"
ENTRYPOINT = AM_DIR / "entrypoint.sh"

SECRET_PASSWORD = "pa'ss&word\\1-s3cr3t"
SECRET_SLACK = "https://hooks.example.net/services/T000/B000/slack-s3cr3t-token"
SECRET_WEBHOOK = "http://127.0.0.1:9/hook/webhook-s3cr3t-token"
FULL = AlertSettings(
    email_to="oncall@example.com, dev@example.com", smtp_smarthost="smtp.example.com:587",
    smtp_from="ddex@example.com", smtp_username="alerts", smtp_password=SECRET_PASSWORD, smtp_require_tls="false",
    slack_webhook_url=SECRET_SLACK, webhook_url=SECRET_WEBHOOK, group_wait="1s", group_interval="2s",
    repeat_interval="1h", resolve_timeout="10s",
)
SECRETS = ("s3cr3t",)


def amtool_run(amtool: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(amtool), *map(str, args)], capture_output=True, text=True, timeout=60)


def render_with_entrypoint(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DDEX_ALERT_")}
    result = subprocess.run(["sh", str(ENTRYPOINT), "--render", str(SHIPPED)], capture_output=True, text=True,
                            env={**clean, **env}, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def integrations(config: dict) -> dict[str, set[str]]:
    return {r["name"]: {k for k in r if k.endswith("_configs")} for r in config["receivers"]}


# -- rendering (no binaries) ------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [AlertSettings(), FULL, AlertSettings(webhook_url="http://127.0.0.1:1/x")],
                         ids=["nothing-set", "everything-set", "webhook-only"])
def test_compose_entrypoint_renders_exactly_like_the_local_stack(settings):
    values = settings.template_values()
    assert render_with_entrypoint(values) == render_marked(SHIPPED.read_text(), values)


def test_rendered_config_holds_the_given_receivers_and_timings():
    config = yaml.safe_load(render_marked(SHIPPED.read_text(), FULL.template_values()))
    g = config["global"]
    assert (g["smtp_smarthost"], g["smtp_from"], g["smtp_auth_username"], g["smtp_auth_password"]) == (
        "smtp.example.com:587", "ddex@example.com", "alerts", SECRET_PASSWORD)
    assert g["smtp_require_tls"] is False and g["resolve_timeout"] == "10s"
    assert integrations(config) == {"ddex-critical": {"email_configs", "slack_configs", "webhook_configs"},
                                    "ddex-warning": {"slack_configs", "webhook_configs"}}
    critical = next(r for r in config["receivers"] if r["name"] == "ddex-critical")
    assert critical["email_configs"][0]["to"] == "oncall@example.com, dev@example.com"
    assert critical["slack_configs"][0]["api_url"] == SECRET_SLACK
    assert critical["webhook_configs"][0]["url"] == SECRET_WEBHOOK
    assert all(c["send_resolved"] for r in config["receivers"] for k in r if k.endswith("_configs") for c in r[k])
    assert (config["route"]["group_wait"], config["route"]["group_interval"]) == ("1s", "2s")


def test_unset_receivers_are_left_out_not_sent_to_example_addresses():
    values = AlertSettings(email_to="a@example.org").template_values()
    config = yaml.safe_load(render_marked(SHIPPED.read_text(), values))
    assert integrations(config) == {"ddex-critical": {"email_configs"}, "ddex-warning": set()}
    assert "smtp_auth_password" not in config["global"] and "smtp_auth_username" not in config["global"]
    assert config["route"]["group_wait"] == "30s"  # shipped default kept


def test_render_refuses_an_unterminated_block():
    with pytest.raises(Exception, match="ddex-if without ddex-end"):
        render_marked("a: 1\n  # ddex-if: DDEX_ALERT_X\nb: 2\n", {})


def test_local_stack_writes_the_config_private(tmp_path):
    config = render_run_dir(tmp_path, Ports.free(), alerting=FULL)["alertmanager"]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    config.chmod(0o644)  # a second render over a loosened file tightens it again
    render_run_dir(tmp_path, Ports.free(), alerting=FULL)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert (tmp_path / "templates" / "ddex.tmpl").is_file()


def test_secrets_stay_out_of_reprs_and_errors():
    assert not any(s in repr(FULL) for s in SECRETS)
    with pytest.raises(AlertConfigError) as info:
        AlertSettings(slack_webhook_url="hooks.example.net/s3cr3t")
    assert "DDEX_ALERT_SLACK_WEBHOOK_URL" in str(info.value) and "s3cr3t" not in str(info.value)


def test_options_win_over_environment_and_bad_values_are_named():
    env = {"DDEX_ALERT_EMAIL_TO": "env@example.com", "DDEX_ALERT_ERROR_RATIO": "0.2", "DDEX_ALERT_FOR": "30s"}
    settings = AlertSettings.from_env(env, email_to="opt@example.com")
    assert (settings.email_to, settings.error_ratio, settings.rule_for) == ("opt@example.com", 0.2, "30s")
    with pytest.raises(AlertConfigError, match="DDEX_ALERT_GROUP_WAIT.*duration"):
        AlertSettings.from_env({"DDEX_ALERT_GROUP_WAIT": "soon"})
    with pytest.raises(AlertConfigError, match="DDEX_ALERT_ERROR_RATIO"):
        AlertSettings.from_env({"DDEX_ALERT_ERROR_RATIO": "five"})


def test_cli_rejects_a_bad_alert_option_in_one_line(tmp_path, capsys):
    assert cli_main(["stack", "up", "--run-dir", str(tmp_path), "--free-ports", "--alert-for", "later"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "ddex-otel stack: error: --alert-for / DDEX_ALERT_FOR: 'later' is not a duration like 30s, 5m, 1h"


def test_alertmanager_command_line(tmp_path):
    stack = LocalStack(tmp_path, Ports.free(), bin_dir=tmp_path, alerting=FULL)
    for name in ("jaeger", "ddex-otelcol", "victoria-logs", "prometheus", "alertmanager"):
        (tmp_path / name).touch(mode=0o755)
    argv, _env, health, url = stack._specs()["alertmanager"]
    port = stack.ports.alertmanager
    assert argv[1:] == [f"--config.file={tmp_path / 'alertmanager.yml'}",
                        f"--storage.path={tmp_path / 'alertmanager-data'}",
                        f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}",
                        "--cluster.listen-address="]
    assert health == f"http://127.0.0.1:{port}/-/ready" and url == f"http://127.0.0.1:{port}"
    assert not any(s in " ".join(argv) for s in SECRETS)  # secrets live in the 0600 file only


# -- amtool (the real Alertmanager 0.25 config loader) -----------------------------------------------
def test_shipped_config_is_valid(amtool):
    result = amtool_run(amtool, "check-config", SHIPPED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout and "SUCCESS" in result.stdout


@pytest.mark.parametrize("renderer", ["local-stack", "compose-entrypoint"])
@pytest.mark.parametrize("settings", [AlertSettings(), FULL], ids=["nothing-set", "everything-set"])
def test_rendered_config_is_valid(amtool, tmp_path, renderer, settings):
    if renderer == "local-stack":
        config = render_run_dir(tmp_path, Ports.free(), alerting=settings)["alertmanager"]
    else:
        config = tmp_path / "alertmanager.yml"
        config.write_text(render_with_entrypoint(settings.template_values()))
        shutil.copytree(AM_DIR / "templates", tmp_path / "templates")
    result = amtool_run(amtool, "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


def test_amtool_rejects_a_broken_render(amtool, tmp_path):
    """check-config proves something: a smarthost without a port fails it."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_marked(SHIPPED.read_text(), {**FULL.template_values(),
                                                          "DDEX_ALERT_EMAIL_TO": "x@example.com"})
                      .replace("'smtp.example.com:587'", "'smtp.example.com'"))
    shutil.copytree(AM_DIR / "templates", tmp_path / "templates")
    assert amtool_run(amtool, "check-config", config).returncode != 0


@pytest.mark.parametrize("labels, receiver", [
    (["alertname=DDEXErrorRatioHigh", "severity=critical", "job=svc"], "ddex-critical"),
    (["alertname=DDEXParseLatencyHigh", "severity=warning", "job=svc"], "ddex-warning"),
    (["alertname=Other", "job=svc"], "ddex-warning"),
])
def test_routes_by_severity(amtool, labels, receiver):
    result = amtool_run(amtool, "config", "routes", "test", f"--config.file={SHIPPED}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver



def test_stack_up_options_become_alert_settings(monkeypatch):
    import argparse

    from ddex_otel.stack import cli

    monkeypatch.setenv("DDEX_ALERT_SMTP_PASSWORD", "from-env")
    monkeypatch.setenv("DDEX_ALERT_EMAIL_TO", "env@example.com")
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["stack", "up", "--alert-email-to", "opt@example.com", "--alert-error-ratio", "0.2",
                              "--alert-for", "10s", "--slack-webhook-url", "http://127.0.0.1:1/s"])
    settings = cli._alert_settings(args)
    assert (settings.email_to, settings.error_ratio, settings.rule_for) == ("opt@example.com", 0.2, "10s")
    assert (settings.slack_webhook_url, settings.smtp_password) == ("http://127.0.0.1:1/s", "from-env")
    assert settings.receivers == ["email", "slack"]
    with pytest.raises(SystemExit):  # the password is never an option (command lines are visible)
        parser.parse_args(["stack", "up", "--smtp-password", "x"])
