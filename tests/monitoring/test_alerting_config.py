"""load_alerts(): YAML thresholds, options and channels, ${ENV} secrets, typed errors that never echo a secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ddex_otel.monitoring import AlertsConfigError, EmailNotifier, SlackNotifier, WebhookNotifier, load_alerts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alerts.yml"
SECRET_ENV = {
    "SMTP_PASSWORD": "smtp-Secret-123",
    "SLACK_WEBHOOK_URL": "https://hooks.example/services/T000/B000/SLACKSECRET",
    "ALERT_WEBHOOK_TOKEN": "webhook-token-456",
}


def write(tmp_path: Path, text: str, name: str = "alerts.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_loads_with_secrets_from_the_environment() -> None:
    al = load_alerts(EXAMPLE, env=SECRET_ENV)
    rules = {(t.metric, t.comparison, t.threshold) for t in al.thresholds}
    assert {("parse.duration", "gt", 5.0), ("error.rate", "gt", 0.05), ("validate.duration", "gt", 2.0),
            ("build.error_rate", "gt", 0.01), ("parse.count", "lt", 1.0)} <= rules
    assert len(rules) == 7
    assert (al.cooldown, al.every, al.window, al.handler_timeout) == (300, 60, 300, 10)
    assert al.service == "ddex-ingest"  # ${OTEL_SERVICE_NAME:-ddex-ingest}
    assert al.labels == {"service": "ddex-ingest", "environment": "production"}
    email, slack, webhook = al.handlers
    assert isinstance(email, EmailNotifier) and email.starttls and email.port == 587
    assert email._password == SECRET_ENV["SMTP_PASSWORD"]
    assert isinstance(slack, SlackNotifier) and slack._url == SECRET_ENV["SLACK_WEBHOOK_URL"]
    assert isinstance(webhook, WebhookNotifier)
    assert webhook._headers == {"Authorization": "Bearer webhook-token-456"}
    shown = repr(al.handlers) + repr(al)
    assert not any(secret in shown for secret in ("smtp-Secret-123", "SLACKSECRET", "webhook-token-456"))
    by_metric = {t.metric: t for t in al.thresholds}
    assert by_metric["build.error_rate"].severity(0.2) == "critical"
    assert by_metric["build.error_rate"].severity(0.19) == "warning"
    al.close()


def test_missing_variable_names_key_and_variable(tmp_path: Path) -> None:
    env = dict(SECRET_ENV)
    del env["SMTP_PASSWORD"]
    with pytest.raises(AlertsConfigError) as info:
        load_alerts(EXAMPLE, env=env)
    assert info.value.key == "channels.email.password"
    assert str(info.value) == (
        f"{EXAMPLE}: channels.email.password: environment variable SMTP_PASSWORD is not set"
    )
    assert isinstance(info.value, ValueError)


def test_thresholds_and_options_from_a_small_file(tmp_path: Path) -> None:
    path = write(tmp_path, """
thresholds:
  - {metric: parse.duration, threshold: 5, comparison: gt, description: slow parse}
  - {metric: memory.usage, threshold: "${MEM_LIMIT}", comparison: ">="}
options: {cooldown: 30}
""")
    al = load_alerts(path, env={"MEM_LIMIT": "2048"})
    assert [(t.metric, t.threshold, t.comparison, t.description) for t in al.thresholds] == [
        ("parse.duration", 5.0, "gt", "slow parse"), ("memory.usage", 2048.0, "ge", ""),
    ]
    assert al.cooldown == 30 and al.handlers == []
    alerts = al.check({"parse.duration": 12, "memory.usage": 100})
    assert [(a.metric, a.severity) for a in alerts] == [("parse.duration", "critical")]


def test_env_values_come_from_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDEX_TEST_HOOK_KEY", "k-123")
    path = write(tmp_path, """
defaults: true
channels:
  webhook:
    url: http://127.0.0.1:9/hook
    headers: {X-Api-Key: "${DDEX_TEST_HOOK_KEY}", X-Literal: "$${NOT_A_VAR}"}
""")
    [hook] = load_alerts(path).handlers
    assert hook._headers == {"X-Api-Key": "k-123", "X-Literal": "${NOT_A_VAR}"}


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("thresholds: [{metric: m, threshold: 1, comparsion: gt}]", "thresholds[0].comparsion", "unknown key"),
        ("thresholds: [{metric: m}]", "thresholds[0].threshold", "missing required key"),
        ("thresholds: [{metric: m, threshold: fast}]", "thresholds[0].threshold", "expected a number"),
        ("thresholds: [{metric: m, threshold: 1, comparison: approx}]", "thresholds[0]", "unknown comparison"),
        ("thresholds: {metric: m}", "thresholds", "expected a list"),
        ("thresholds: []", "thresholds", "no thresholds"),
        ("defaults: true\noptions: {every: 0}", "options.every", "must be > 0"),
        ("defaults: true\noptions: {cooldwn: 1}", "options.cooldwn", "unknown key"),
        ("defaults: true\nchannels: {pager: {}}", "channels.pager", "unknown key"),
        ("defaults: true\nchannels: {email: {host: h, sender: a@b}}", "channels.email.recipients",
         "missing required key"),
        ("defaults: true\nchannels: {email: {host: h, sender: a@b, recipients: [c@d], port: lots}}",
         "channels.email.port", "expected an integer"),
        ("defaults: true\nchannels: {email: {host: h, sender: a@b, recipients: [c@d], ssl: true, starttls: true}}",
         "channels.email", "not both"),
        ("defaults: true\nchannels: {email: {host: h, sender: a@b, recipients: [c@d], cafile: nope.pem}}",
         "channels.email.cafile", "no such file"),
        ("defaults: true\nchannels: {slack: {webhook_url: '${BROKEN'}}", "channels.slack.webhook_url",
         "malformed"),
        ("- just\n- a list", "", "expected a mapping at top level"),
    ],
)
def test_bad_files_are_typed_errors_naming_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    with pytest.raises(AlertsConfigError) as info:
        load_alerts(write(tmp_path, text), env={})
    assert info.value.key == key
    assert problem in info.value.problem


def test_bad_yaml_is_a_typed_error_without_file_content(tmp_path: Path) -> None:
    path = write(tmp_path, "channels:\n  email:\n    password: hunter2-secret\n   host: [unclosed\n")
    with pytest.raises(AlertsConfigError) as info:
        load_alerts(path, env={})
    message = str(info.value)
    assert message.startswith(f"{path}: invalid YAML (line ")
    assert "hunter2" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(AlertsConfigError, match="cannot read the file"):
        load_alerts(tmp_path / "absent.yml")


def test_errors_never_echo_secret_values(tmp_path: Path) -> None:
    path = write(tmp_path, """
defaults: true
channels:
  slack: {webhook_url: "ftp://hooks.example/${HOOK_PATH}"}
""")
    with pytest.raises(AlertsConfigError) as info:
        load_alerts(path, env={"HOOK_PATH": "services/VERYSECRET"})
    assert info.value.key == "channels.slack"
    assert "VERYSECRET" not in str(info.value)
    path = write(tmp_path, """
defaults: true
channels:
  email: {host: h, sender: a@b, recipients: [c@d], port: "${SMTP_PORT}"}
""")
    with pytest.raises(AlertsConfigError) as info:
        load_alerts(path, env={"SMTP_PORT": "not-a-port-SECRET"})
    assert "SECRET" not in str(info.value)


# --------------------------------------------------------------------------- end to end


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], Any]]
    cond: threading.Condition

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.cond:
            self.received.append((self.path, dict(self.headers.items()), body))
            self.cond.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThreadingHTTPServer, type[_Hook]]]:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    handler = type("Hook", (_Hook,), {"received": [], "cond": threading.Condition()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_loaded_channels_deliver_to_a_real_server(
    tmp_path: Path, hook_server: tuple[ThreadingHTTPServer, type[_Hook]]
) -> None:
    server, handler = hook_server
    port = server.server_address[1]
    path = write(tmp_path, """
service: loaded
thresholds:
  - {metric: error.rate, threshold: 0.05, description: too many failures}
channels:
  slack: {webhook_url: "http://127.0.0.1:${PORT}/services/${SLACK_PATH}", timeout: 5}
  webhook:
    - url: "http://127.0.0.1:${PORT}/plain"
      headers: {Authorization: "Bearer ${TOKEN}"}
""")
    al = load_alerts(path, env={"PORT": str(port), "SLACK_PATH": "T1/B2/abc", "TOKEN": "tkn"})
    al.check({"error.rate": 0.5})
    with handler.cond:
        assert handler.cond.wait_for(lambda: len(handler.received) >= 2, 10)
    al.close()
    by_path = {p: (h, b) for p, h, b in handler.received}
    _, slack = by_path["/services/T1/B2/abc"]
    assert slack["attachments"][0]["color"] == "danger"
    headers, plain = by_path["/plain"]
    assert headers["Authorization"] == "Bearer tkn"
    assert (plain["metric"], plain["severity"], plain["labels"]["service"]) == ("error.rate", "critical", "loaded")


def test_the_yaml_in_the_docs_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Alerts"):]
    yaml_block = section[section.index("```yaml\n") + len("```yaml\n"):]
    yaml_block = yaml_block[: yaml_block.index("```")]
    (tmp_path / "private-ca.pem").write_text("placeholder", encoding="utf-8")  # the cafile it names
    al = load_alerts(write(tmp_path, yaml_block), env=SECRET_ENV)
    assert len(al.thresholds) == 5
    assert [type(h).__name__ for h in al.handlers] == ["EmailNotifier", "SlackNotifier", "WebhookNotifier"]
    assert al.handlers[0]._cafile == str(tmp_path / "private-ca.pem")
