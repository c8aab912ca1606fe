"""Alerts reach people: a real workload → collector → Prometheus rules → Alertmanager → e-mail, Slack
and a generic webhook, each received by a real server on loopback; then RESOLVED once the workload stops.

Own LocalStack (free ports, tmp run dir) with test-sized alert settings: rules hold for 5 s over a 15 s
rate window, Alertmanager waits 1 s / 2 s, and the thresholds are lowered by options (error ratio 10 %,
parse p95 1 µs) so ordinary parses with one malformed file in two fire both alerts:
  DDEXErrorRatioHigh (critical)  → e-mail + Slack + webhook
  DDEXParseLatencyHigh (warning) → Slack + webhook (never e-mail: routing by severity)
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

import ddex_otel
from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.stack import LocalStack, StackError
from ddex_otel.stack.alert_settings import AlertSettings
from ddex_otel.stack.cli import main as cli_main
from support import sample_files, stack_binaries

HOST = "127.0.0.1"
SLACK_TOKEN = "e2e-s3cr3t-slack-token"  # must never show in logs, state or `stack status`
MALFORMED = (b"<?xml version='1.0'?><NewReleaseMessage xmlns='http://ddex.net/xml/ern/43'>"
             b"<MessageHeader></NewReleaseMessage>")
FIRE_TIMEOUT = 60.0
RESOLVE_TIMEOUT = 60.0
ERROR_ALERT, LATENCY_ALERT = "DDEXErrorRatioHigh", "DDEXParseLatencyHigh"


class Mailbox:
    """aiosmtpd handler: keeps every message it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def find(self, subject_part: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if subject_part in m["Subject"]]


class Hooks(ThreadingHTTPServer):
    """HTTP server on loopback that records every JSON POST as (path, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        super().__init__((HOST, 0), _HookHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def bodies(self, path: str) -> list[dict]:
        with self.lock:
            return [body for p, body in self.posts if p == path]


class _HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server's hook name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with self.server.lock:
            self.server.posts.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def wait_for(what: str, find, timeout: float):
    """Poll find() until it returns something truthy; fail with what at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing within {timeout:.0f}s")
        time.sleep(0.25)


class Workload:
    """Parses in a background thread through the real SDK (OTLP to the stack): good samples and a
    malformed file alternately, until stop(); then shuts telemetry down (final export)."""

    def __init__(self, endpoint: str, service: str, bad_file: Path) -> None:
        self.handle = ddex_otel.configure(endpoint=endpoint, protocol="grpc", service_name=service,
                                          set_global=False, process_metrics=False,
                                          metric_export_interval_millis=1000)
        assert self.handle.instrumented, "configure() did not instrument the engine"
        self.samples = sample_files()[:3]
        self.bad_file = bad_file
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-workload", daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + FIRE_TIMEOUT + 30
        for i in range(20_000):  # bounded in count and time
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            ern.parse(str(self.samples[i % len(self.samples)]))
            self.ok += 1
            try:
                ern.parse(str(self.bad_file))
            except DDEXError:
                self.failed += 1
            self._stop.wait(0.02)  # pacing, not synchronisation

    def __enter__(self) -> Workload:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.handle.shutdown()

    def __exit__(self, *exc) -> None:
        if not self._stop.is_set():
            self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture
def receivers():
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname=HOST, port=free_port())
    smtp.start()
    hooks = Hooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    try:
        yield mailbox, smtp, hooks
    finally:
        hooks.shutdown()
        hooks.server_close()
        smtp.stop()


@pytest.fixture
def alert_stack(receivers, tmp_path):
    mailbox, smtp, hooks = receivers
    settings = AlertSettings(
        email_to="oncall@example.com", smtp_smarthost=f"{HOST}:{smtp.port}", smtp_from="ddex-e2e@example.com",
        smtp_require_tls="false", slack_webhook_url=f"{hooks.url}/services/T000/B000/{SLACK_TOKEN}",
        webhook_url=f"{hooks.url}/ddex-alerts", group_wait="1s", group_interval="2s", repeat_interval="1h",
        error_ratio=0.1, parse_p95_seconds=0.000001, rule_for="5s", rule_window="15s",
    )
    try:
        stack = LocalStack(tmp_path / "stack", free_ports=True, bin_dir=stack_binaries(), alerting=settings).start()
    except StackError as exc:
        pytest.fail(f"alerting stack did not start: {exc}\n--- log tail ---\n{exc.log_tail()}", pytrace=False)
    yield stack
    stack.stop()


def test_alerts_fire_to_email_slack_and_webhook_then_resolve(alert_stack, receivers, tmp_path, capsys):
    started = time.monotonic()
    mailbox, _smtp, hooks = receivers
    stack = alert_stack
    service = f"ddex-alert-e2e-{uuid.uuid4().hex[:8]}"
    slack_path = f"/services/T000/B000/{SLACK_TOKEN}"
    bad_file = tmp_path / "malformed.xml"
    bad_file.write_bytes(MALFORMED)
    jaeger_search = f"{stack.endpoints.jaeger}/search?service={urllib.parse.quote(service)}"

    def slack(title: str) -> list[dict]:
        return [a for body in hooks.bodies(slack_path) for a in body["attachments"] if a["title"] == title]

    def webhook(status: str, alertname: str) -> list[dict]:
        return [b for b in hooks.bodies("/ddex-alerts")
                if b["status"] == status and b["commonLabels"].get("alertname") == alertname]

    with Workload(stack.endpoints.otlp_grpc, service, bad_file) as work:
        # 1. Firing: the critical alert by e-mail, both alerts on Slack and the webhook.
        mail = wait_for("e-mail about the firing error ratio",
                        lambda: mailbox.find(f"] {ERROR_ALERT} (critical) {service}"), FIRE_TIMEOUT)[0]
        slack_error = wait_for("Slack message about the error ratio",
                               lambda: slack(f"[FIRING] {ERROR_ALERT} (critical) {service}"), 15)[0]
        slack_latency = wait_for("Slack message about parse latency",
                                 lambda: slack(f"[FIRING] {LATENCY_ALERT} (warning) {service}"), 15)[0]
        hook_error = wait_for("webhook about the error ratio", lambda: webhook("firing", ERROR_ALERT), 15)[0]
        fired_after = time.monotonic() - started
        work.stop()
    assert work.failed > 0 and work.ok > 0
    assert work.handle.export_failures == 0, f"telemetry export failed: {work.handle.failures.first_error}"

    assert mail["Subject"] == f"[FIRING:1] {ERROR_ALERT} (critical) {service}"  # one series: parse
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert mail["To"] == "oncall@example.com" and mail["From"] == "ddex-e2e@example.com"
    assert f"[FIRING] {ERROR_ALERT}" in text
    assert "Severity:  critical" in text and f"Service:   {service}" in text
    assert re.search(r"Value:\s+\d+(\.\d+)?%", text), text
    assert "Threshold: 10%" in text
    assert f"Jaeger:    {jaeger_search}&operation=ddex.parse&tags=%7B%22error%22%3A%22true%22%7D" in text
    assert f'<a href="{jaeger_search}&amp;operation=ddex.parse' in html  # the link is clickable in HTML mail

    assert slack_error["color"] == "danger" and slack_latency["color"] == "warning"
    assert "• severity: critical" in slack_error["text"] and f"• service: {service}" in slack_error["text"]
    assert "• threshold: 10%" in slack_error["text"]
    assert f"<{jaeger_search}&operation=ddex.parse&tags=" in slack_error["text"]
    assert re.search(r"• threshold: 1(µ|u)s\b", slack_latency["text"]), slack_latency["text"]
    assert re.search(r"• value: \d+(\.\d+)?(µs|us|ms|s)\b", slack_latency["text"]), slack_latency["text"]

    alert = hook_error["alerts"][0]
    assert hook_error["receiver"] == "ddex-critical" and alert["labels"]["severity"] == "critical"
    assert alert["labels"]["job"] == service and alert["annotations"]["service"] == service
    assert alert["annotations"]["threshold"] == "10%" and alert["annotations"]["value"].endswith("%")
    assert alert["annotations"]["jaeger_url"].startswith(f"{jaeger_search}&operation=ddex.parse")
    assert webhook("firing", LATENCY_ALERT)[0]["receiver"] == "ddex-warning"

    # 2. Resolved: the workload stopped, the rate window empties, every channel says so.
    resolved_mail = wait_for("RESOLVED e-mail", lambda: mailbox.find(f"[RESOLVED] {ERROR_ALERT} (critical) {service}"),
                             RESOLVE_TIMEOUT)[0]
    assert f"[RESOLVED] {ERROR_ALERT}" in resolved_mail.get_body(("plain",)).get_content()
    resolved_slack = wait_for("RESOLVED Slack message", lambda: slack(f"[RESOLVED] {ERROR_ALERT} (critical) {service}"),
                              15)[0]
    assert resolved_slack["color"] == "good"
    wait_for("RESOLVED webhook", lambda: webhook("resolved", ERROR_ALERT), 15)

    # Routing by severity: the warning never went to e-mail.
    assert mailbox.find(LATENCY_ALERT) == []

    # No secret in `stack status`, its state file or any component log.
    assert cli_main(["stack", "status", "--run-dir", str(stack.run_dir)]) == 0
    assert cli_main(["stack", "status", "--run-dir", str(stack.run_dir), "--json"]) == 0
    shown = capsys.readouterr()
    assert "alertmanager" in shown.out and SLACK_TOKEN not in shown.out + shown.err
    for path in [stack.state_path, *(stack.run_dir / "logs").glob("*.log")]:
        assert SLACK_TOKEN not in path.read_text(errors="replace"), f"{path} holds the Slack token"

    total = time.monotonic() - started
    print(f"alert e2e: fired after {fired_after:.1f}s, resolved after {total:.1f}s")
    assert total < 150, f"alert round trip took {total:.0f}s"


def test_session_stack_runs_alertmanager_and_prometheus_sends_to_it(local_stack):
    """The default stack (no receivers configured) has a healthy Alertmanager that Prometheus uses."""
    from ddex_otel.stack.query import get_json, poll

    status = {s.name: s for s in local_stack.status()}
    assert status["alertmanager"].healthy and status["alertmanager"].url == local_stack.endpoints.alertmanager
    answer = poll(lambda: get_json(f"{local_stack.endpoints.prometheus}/api/v1/alertmanagers"),
                  lambda a: a["data"]["activeAlertmanagers"], 30, "Prometheus' active Alertmanager")
    assert [a["url"] for a in answer["data"]["activeAlertmanagers"]] == [
        f"{local_stack.endpoints.alertmanager}/api/v2/alerts"]
    am_status = get_json(f"{local_stack.endpoints.alertmanager}/api/v2/status")
    assert am_status["cluster"]["status"] == "disabled"
    assert am_status["versionInfo"]["version"].startswith("0.25.")
