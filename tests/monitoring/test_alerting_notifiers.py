"""Notifiers against real servers on loopback: aiosmtpd (STARTTLS, implicit TLS, AUTH) and an HTTP server.

Certificates come from ``trustme`` (a throw-away CA and a server certificate for 127.0.0.1 /
localhost); the client trusts only that CA. Secrets used here must never show in reprs or logs.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from ddex_otel.monitoring import Alert, Alerting, EmailNotifier, SlackNotifier, WebhookNotifier
from ddex_otel.monitoring.notifiers import NotificationError, mask_url
from loopback import LoopbackController, Mailbox, authenticator
from loopback import starttls_smtp as starttls_smtp_controller

SMTP_USER = "alerts"
SMTP_PASSWORD = "s3cret-Pa55-w0rd"
SLACK_SECRET = "T0000SECRET/B0000SECRET/XXXXXXXXXXXXXXXXSECRET"
HOOK_TOKEN = "tok-9f8e7d6c5b4a"


def make_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = dict(
        metric="parse.duration", value=12.5, threshold=5.0, comparison="gt", severity="critical",
        description="parse p95 above 5 s", state="firing", timestamp=1_764_000_000.0,
        labels={"service": "ingest", "env": "test"},
    )
    return Alert(**(fields | overrides))


# --------------------------------------------------------------------------- SMTP server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def cafile(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def starttls_smtp(server_tls: ssl.SSLContext) -> Iterator[tuple[LoopbackController, Mailbox]]:
    """SMTP with STARTTLS required, then AUTH required (one user/password)."""
    mailbox = Mailbox()
    controller = starttls_smtp_controller(mailbox, server_tls, SMTP_USER, SMTP_PASSWORD)
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def smtps(server_tls: ssl.SSLContext) -> Iterator[tuple[LoopbackController, Mailbox]]:
    """SMTP over implicit TLS (SMTPS) with AUTH required."""
    mailbox = Mailbox()
    controller = LoopbackController(
        mailbox, hostname="127.0.0.1", port=0, ssl_context=server_tls,
        auth_required=True, auth_require_tls=False, authenticator=authenticator(SMTP_USER, SMTP_PASSWORD),
    )
    controller.start()
    yield controller, mailbox
    controller.stop()


def email_notifier(port: int, **overrides: Any) -> EmailNotifier:
    options: dict[str, Any] = dict(
        host="127.0.0.1", port=port, sender="ddex-otel@example.test", recipients=["oncall@example.test"],
        username=SMTP_USER, password=SMTP_PASSWORD, starttls=True, timeout=10,
    )
    return EmailNotifier(**(options | overrides))


def test_email_over_starttls_with_auth(starttls_smtp: tuple[LoopbackController, Mailbox], cafile: str) -> None:
    controller, mailbox = starttls_smtp
    notifier = email_notifier(controller.port, cafile=cafile)
    notifier(make_alert())
    [(message, session)] = mailbox.wait(1)
    assert session.authenticated and session.auth_data.login == SMTP_USER.encode()
    assert session.ssl is not None  # the session was upgraded by STARTTLS (the server requires it)
    assert message["Subject"] == "[ddex-otel] CRITICAL parse.duration = 12.5 (threshold > 5) on ingest"
    assert message["From"] == "ddex-otel@example.test"
    assert message["To"] == "oncall@example.test"
    assert message["X-DDEX-Alert-Severity"] == "critical"
    body = message.get_content()
    for line in (
        "Metric:      parse.duration", "Value:       12.5", "Threshold:   5", "Comparison:  gt (> 5)",
        "Severity:    critical", "Description: parse p95 above 5 s", "Time:        2025-11-24T16:00:00Z",
        "Service:     ingest", "State:       firing", "Labels:      env=test",
    ):
        assert line in body, (line, body)
    assert SMTP_PASSWORD not in body


def test_resolved_email_through_alerting(
    starttls_smtp: tuple[LoopbackController, Mailbox], client_tls: ssl.SSLContext
) -> None:
    controller, mailbox = starttls_smtp
    al = Alerting(service="nightly")
    al.add_threshold("error.rate", 0.05, "gt", "more than 5% of operations failed")
    al.add_handler(email_notifier(controller.port, ssl_context=client_tls))
    al.check({"error.rate": 0.07})
    al.check({"error.rate": 0.0})
    (firing, _), (resolved, _) = mailbox.wait(2)
    assert firing["Subject"] == "[ddex-otel] WARNING error.rate = 0.07 (threshold > 0.05) on nightly"
    assert resolved["Subject"] == "[ddex-otel] RESOLVED error.rate = 0 (threshold > 0.05) on nightly"
    assert "State:       resolved" in resolved.get_content()
    assert "Severity:    warning" in resolved.get_content()
    al.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd cannot see implicit TLS
def test_email_over_implicit_tls(smtps: tuple[LoopbackController, Mailbox], cafile: str) -> None:
    controller, mailbox = smtps
    email_notifier(controller.port, starttls=False, ssl=True, cafile=cafile)(make_alert(severity="warning", value=6))
    [(message, session)] = mailbox.wait(1)
    assert session.authenticated
    assert message["Subject"].startswith("[ddex-otel] WARNING parse.duration = 6 ")


def test_wrong_password_fails_cleanly(
    starttls_smtp: tuple[LoopbackController, Mailbox], cafile: str, caplog: pytest.LogCaptureFixture
) -> None:
    controller, mailbox = starttls_smtp
    wrong = "wr0ng-" + SMTP_PASSWORD
    notifier = email_notifier(controller.port, cafile=cafile, password=wrong)
    with pytest.raises(NotificationError) as info:
        notifier(make_alert())
    assert str(info.value) == f"SMTP server 127.0.0.1:{controller.port} rejected the login (SMTP 535)"
    assert info.value.__cause__ is None and info.value.__suppress_context__

    # through Alerting: logged, not raised, and no password anywhere in the log
    al = Alerting()
    al.add_threshold("parse.duration", 5, "gt")
    al.add_handler(notifier)
    with caplog.at_level(logging.DEBUG):
        assert len(al.check({"parse.duration": 9})) == 1
    assert al.handler_stats()[repr(notifier)]["failed"] == 1
    al.close()
    assert "rejected the login (SMTP 535)" in caplog.text
    assert "127.0.0.1" in caplog.text
    assert SMTP_PASSWORD not in caplog.text and wrong not in caplog.text
    assert mailbox.messages == []


def test_untrusted_certificate_fails_cleanly(starttls_smtp: tuple[LoopbackController, Mailbox]) -> None:
    controller, mailbox = starttls_smtp
    other_ca = trustme.CA()  # the client trusts a different CA
    context = ssl.create_default_context()
    other_ca.configure_trust(context)
    with pytest.raises(NotificationError, match=r"TLS with SMTP server 127\.0\.0\.1:\d+ failed \(CERTIFICATE_VERIFY_FAILED\)"):
        email_notifier(controller.port, ssl_context=context)(make_alert())
    assert mailbox.messages == []


def test_email_notifier_repr_and_validation() -> None:
    notifier = email_notifier(2525)
    text = repr(notifier)
    assert SMTP_PASSWORD not in text
    assert "password='***'" in text and "host='127.0.0.1'" in text and "port=2525" in text
    assert EmailNotifier("mail.example.test", sender="a@b", recipients="c@d").port == 25
    assert EmailNotifier("mail.example.test", sender="a@b", recipients="c@d", starttls=True).port == 587
    assert EmailNotifier("mail.example.test", sender="a@b", recipients="c@d", ssl=True).port == 465
    with pytest.raises(ValueError, match="not both"):
        EmailNotifier("h", sender="a@b", recipients="c@d", ssl=True, starttls=True)
    with pytest.raises(ValueError, match="recipient"):
        EmailNotifier("h", sender="a@b", recipients=[])
    with pytest.raises(ValueError, match="needs a username"):
        EmailNotifier("h", sender="a@b", recipients="c@d", password=SMTP_PASSWORD)


# --------------------------------------------------------------------------- HTTP server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class HookServer:
    """A real HTTP server on 127.0.0.1 (port from the OS) that records JSON POSTs."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with owner.cond:
                    owner.requests.append(Received(self.path, dict(self.headers.items()), body))
                    owner.cond.notify_all()
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= count, timeout), len(self.requests)
            return list(self.requests)


@pytest.fixture
def hook_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HookServer]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # loopback only, never through a proxy
    server = HookServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _fields(attachment: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for f in attachment["fields"]}


def test_slack_payloads_colors_and_fields(hook_server: HookServer) -> None:
    slack = SlackNotifier(hook_server.url(f"/services/{SLACK_SECRET}"), timeout=5)
    al = Alerting(service="ingest")
    al.add_threshold("parse.duration", 5, "gt", "parse p95 above 5 s")
    al.add_handler(slack)
    al.check({"parse.duration": 6.5})  # warning
    al.check({"parse.duration": 11})  # critical at once (severity change)
    al.check({"parse.duration": 1.25})  # resolved
    requests = hook_server.wait(3)
    al.close()
    assert all(r.path == f"/services/{SLACK_SECRET}" for r in requests)
    assert requests[0].headers["Content-Type"] == "application/json"
    colors = [r.body["attachments"][0]["color"] for r in requests]
    assert colors == ["warning", "danger", "good"]
    warning, critical, resolved = (r.body for r in requests)
    assert len(warning["attachments"]) == 1
    assert _fields(warning["attachments"][0]) == {
        "metric": "parse.duration", "value": "6.5", "threshold": "> 5", "severity": "warning",
    }
    assert _fields(critical["attachments"][0]) == {
        "metric": "parse.duration", "value": "11", "threshold": "> 5", "severity": "critical",
    }
    assert _fields(resolved["attachments"][0])["value"] == "1.25"
    assert resolved["text"].startswith("RESOLVED parse.duration")
    assert critical["attachments"][0]["text"] == "parse p95 above 5 s"
    assert "ingest" in critical["attachments"][0]["footer"]


def test_webhook_posts_the_alert_as_json_with_headers(hook_server: HookServer) -> None:
    hook = WebhookNotifier(hook_server.url(f"/alerts?token={HOOK_TOKEN}"),
                           headers={"Authorization": f"Bearer {HOOK_TOKEN}"})
    alert = make_alert()
    hook(alert)
    [request] = hook_server.wait(1)
    assert request.path == f"/alerts?token={HOOK_TOKEN}"
    assert request.headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert request.body == {
        "metric": "parse.duration", "value": 12.5, "threshold": 5.0, "comparison": "gt",
        "severity": "critical", "description": "parse p95 above 5 s", "state": "firing",
        "timestamp": 1_764_000_000.0, "labels": {"service": "ingest", "env": "test"},
    }


def test_http_error_status_is_a_safe_error(hook_server: HookServer, caplog: pytest.LogCaptureFixture) -> None:
    hook_server.status = 500
    slack = SlackNotifier(hook_server.url(f"/services/{SLACK_SECRET}"))
    with pytest.raises(NotificationError) as info:
        slack(make_alert())
    assert str(info.value) == f"Slack webhook at http://127.0.0.1:{hook_server.port} answered HTTP 500"

    hook = WebhookNotifier(hook_server.url(f"/hook/{HOOK_TOKEN}"), headers={"X-Api-Key": HOOK_TOKEN})
    al = Alerting()
    al.add_threshold("memory.usage", 1000, "gt")
    al.add_handler(slack)
    al.add_handler(hook)
    with caplog.at_level(logging.DEBUG):
        al.check({"memory.usage": 4096})
        al.close()
    assert "answered HTTP 500" in caplog.text
    assert SLACK_SECRET not in caplog.text and HOOK_TOKEN not in caplog.text
    assert len(hook_server.wait(3)) == 3  # both notifiers reached the server despite the errors


def test_unreachable_endpoint_names_host_not_path(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slack = SlackNotifier(f"http://127.0.0.1:{port}/services/{SLACK_SECRET}", timeout=5)
    with pytest.raises(NotificationError) as info:
        slack(make_alert())
    message = str(info.value)
    assert message.startswith(f"Slack webhook at http://127.0.0.1:{port} unreachable (ConnectionRefusedError")
    assert SLACK_SECRET not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_http_notifier_reprs_mask_secrets() -> None:
    slack = SlackNotifier(f"https://hooks.example/services/{SLACK_SECRET}")
    assert repr(slack) == "SlackNotifier(webhook_url='https://hooks.example/***')"
    hook = WebhookNotifier(f"https://user:pw@alerts.example:8443/in?token={HOOK_TOKEN}",
                           headers={"Authorization": f"Bearer {HOOK_TOKEN}"})
    assert repr(hook) == "WebhookNotifier(url='https://alerts.example:8443/***', headers={'Authorization': '***'})"
    assert mask_url("https://alerts.example") == "https://alerts.example"
    with pytest.raises(ValueError) as info:
        SlackNotifier(f"ftp://hooks.example/services/{SLACK_SECRET}")
    assert SLACK_SECRET not in str(info.value)
