"""Alert handlers that deliver an ``Alert`` by e-mail (SMTP), to Slack, or to any JSON webhook.

Each notifier is a callable taking an ``Alert``; pass it to ``Alerting.add_handler``. A failed
delivery raises ``NotificationError`` whose message names the server (host and port) but never a
password, a webhook path or token, or a header value; reprs mask the same secrets. The original
exception is not chained (``from None``), so a traceback cannot leak them either.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl as ssl_module
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from .threshold_alerts import Alert, format_number

__all__ = ["EmailNotifier", "NotificationError", "SlackNotifier", "WebhookNotifier", "alert_text", "mask_url"]

MASK = "***"


class NotificationError(RuntimeError):
    """A notifier could not deliver an alert. The message is safe to log (no secrets)."""


def mask_url(url: str) -> str:
    """``scheme://host[:port]/***``: the part of a URL that is safe to show (no credentials, path or query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    hidden = f"/{MASK}" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def _origin(url: str) -> str:
    """``scheme://host:port`` for error messages."""
    parts = urlsplit(url)
    try:
        port = str(parts.port or (443 if parts.scheme == "https" else 80))
    except ValueError:
        port = "?"
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def alert_text(alert: Alert) -> str:
    """The plain-text body used by e-mail: every field of the alert, one per line."""
    lines = [
        f"{'Resolved' if alert.state == 'resolved' else 'Alert'}: {alert.description or alert.metric}",
        "",
        f"State:       {alert.state}",
        f"Severity:    {alert.severity}",
        f"Metric:      {alert.metric}",
        f"Value:       {format_number(alert.value)}",
        f"Threshold:   {format_number(alert.threshold)}",
        f"Comparison:  {alert.comparison} ({alert.condition})",
        f"Description: {alert.description}",
        f"Time:        {_iso(alert.timestamp)}",
        f"Service:     {alert.labels.get('service', '')}",
    ]
    extra = {k: v for k, v in alert.labels.items() if k != "service"}
    if extra:
        lines.append("Labels:      " + ", ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    return "\n".join(lines) + "\n"


class _Notifier:
    """Base: callable with an ``Alert``; its repr is safe to log (``Alerting`` uses it as the handler name)."""

    safe_repr = True

    def __call__(self, alert: Alert) -> None:
        self.send(alert)

    def send(self, alert: Alert) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


# ---------------------------------------------------------------------------------- e-mail


class EmailNotifier(_Notifier):
    """Sends each alert as a plain-text e-mail through an SMTP server (``smtplib``).

    ``ssl=True``: implicit TLS (SMTPS, default port 465); ``starttls=True``: upgrade a plain
    connection (default port 587); neither: plain SMTP (port 25). ``username``/``password``: AUTH
    LOGIN/PLAIN after TLS. Certificates are verified against the system store, or ``cafile`` /
    your own ``ssl_context`` (e.g. for a private CA). ``timeout`` bounds each network operation.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        sender: str = "",
        recipients: Sequence[str] | str = (),
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl_module.SSLContext | None = None,
        cafile: str | None = None,
        subject_prefix: str = "[ddex-otel]",
    ) -> None:
        if not host:
            raise ValueError("EmailNotifier needs an SMTP host")
        if starttls and ssl:
            raise ValueError("EmailNotifier: choose starttls=True or ssl=True, not both")
        if not sender:
            raise ValueError("EmailNotifier needs a sender address")
        recipients = [recipients] if isinstance(recipients, str) else list(recipients)
        if not recipients:
            raise ValueError("EmailNotifier needs at least one recipient")
        if password is not None and not username:
            raise ValueError("EmailNotifier: a password needs a username")
        if ssl_context is not None and cafile is not None:
            raise ValueError("EmailNotifier: give ssl_context or cafile, not both")
        self.host = host
        self.port = int(port) if port else (465 if ssl else 587 if starttls else 25)
        self.sender = sender
        self.recipients = recipients
        self.username = username
        self._password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.subject_prefix = subject_prefix
        self._ssl_context = ssl_context
        self._cafile = cafile

    def subject(self, alert: Alert) -> str:
        """E.g. ``[ddex-otel] CRITICAL parse.duration = 12.3 (threshold > 5) on ingest`` (ASCII only)."""
        service = alert.labels.get("service")
        tail = f" on {service}" if service else ""
        return f"{self.subject_prefix} {alert.summary}{tail}".strip()

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = self.subject(alert)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(alert.timestamp, localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="ddex-otel.alerts")
        msg["X-DDEX-Alert-Severity"] = alert.severity
        msg["X-DDEX-Alert-State"] = alert.state
        msg["X-DDEX-Alert-Metric"] = alert.metric
        msg.set_content(alert_text(alert))
        return msg

    def _context(self) -> ssl_module.SSLContext:
        if self._ssl_context is not None:
            return self._ssl_context
        return ssl_module.create_default_context(cafile=self._cafile)

    def send(self, alert: Alert) -> None:
        where = f"SMTP server {self.host}:{self.port}"
        try:
            if self.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=self._context())
                if self.username:
                    client.login(self.username, self._password or "")
                client.send_message(self.message(alert), from_addr=self.sender, to_addrs=self.recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotificationError(f"{where} rejected the login (SMTP {exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise NotificationError(f"{where} does not support the requested STARTTLS/AUTH") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotificationError(f"{where} refused all {len(exc.recipients)} recipient(s)") from None
        except smtplib.SMTPResponseException as exc:
            raise NotificationError(f"{where} answered SMTP {exc.smtp_code}") from None
        except ssl_module.SSLError as exc:
            raise NotificationError(f"TLS with {where} failed ({exc.reason or type(exc).__name__})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(f"{where} unreachable or failed ({_os_reason(exc)})") from None

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password={MASK!r}" if self.username else ""
        return (
            f"EmailNotifier(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
            f"recipients={self.recipients!r}{auth}, starttls={self.starttls}, ssl={self.ssl})"
        )


def _os_reason(exc: BaseException) -> str:
    """The exception's type and OS error text, nothing the caller passed in (no URLs, no paths)."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


# ---------------------------------------------------------------------------------- HTTP


class _JSONPoster(_Notifier):
    """POSTs JSON with urllib; any failure becomes a ``NotificationError`` naming only the origin."""

    kind = "webhook"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{type(self).__name__} needs an http(s) URL with a host, got {mask_url(url or '')!r}")
        self._url = url
        self._headers = dict(headers or {})
        self.timeout = timeout
        self._ssl_context = ssl_context

    def payload(self, alert: Alert) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def send(self, alert: Alert) -> None:
        body = json.dumps(self.payload(alert)).encode("utf-8")
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "ddex-otel-alerting", **self._headers},
        )
        where = f"{self.kind} at {_origin(self._url)}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl_context) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise NotificationError(f"{where} answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason if isinstance(exc.reason, BaseException) else None
            text = _os_reason(reason) if reason is not None else "URL error"
            raise NotificationError(f"{where} unreachable ({text})") from None
        except (OSError, ValueError) as exc:
            raise NotificationError(f"{where} failed ({_os_reason(exc)})") from None


class SlackNotifier(_JSONPoster):
    """Posts to a Slack incoming webhook: a text line plus one attachment with the alert's fields.

    Attachment color: ``danger`` (critical), ``warning`` (warning), ``good`` (resolved). The
    webhook URL is a secret: only its host ever shows (repr, errors).
    """

    kind = "Slack webhook"

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout: float = 10.0,
        channel: str | None = None,
        username: str | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        super().__init__(webhook_url, None, timeout, ssl_context)
        self.channel = channel
        self.username = username

    @staticmethod
    def color(alert: Alert) -> str:
        if alert.state == "resolved":
            return "good"
        return "danger" if alert.severity == "critical" else "warning"

    def payload(self, alert: Alert) -> dict[str, Any]:
        service = alert.labels.get("service", "")
        attachment = {
            "fallback": alert.summary,
            "color": self.color(alert),
            "title": alert.summary,
            "text": alert.description,
            "fields": [
                {"title": "metric", "value": alert.metric, "short": True},
                {"title": "value", "value": format_number(alert.value), "short": True},
                {"title": "threshold", "value": alert.condition, "short": True},
                {"title": "severity", "value": alert.severity, "short": True},
            ],
            "footer": f"{service} · {alert.state}" if service else alert.state,
            "ts": int(alert.timestamp),
        }
        payload: dict[str, Any] = {"text": alert.summary, "attachments": [attachment]}
        if self.channel:
            payload["channel"] = self.channel
        if self.username:
            payload["username"] = self.username
        return payload

    def __repr__(self) -> str:
        return f"SlackNotifier(webhook_url={mask_url(self._url)!r})"


class WebhookNotifier(_JSONPoster):
    """POSTs the alert as plain JSON (``Alert.to_dict()``) to ``url`` with optional ``headers``.

    Header values (e.g. ``Authorization``) and the URL's path/query are masked in the repr and
    never appear in errors.
    """

    kind = "webhook"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        super().__init__(url, headers, timeout, ssl_context)

    def payload(self, alert: Alert) -> dict[str, Any]:
        return alert.to_dict()

    def __repr__(self) -> str:
        headers = {name: MASK for name in self._headers}
        shown = f", headers={headers!r}" if headers else ""
        return f"WebhookNotifier(url={mask_url(self._url)!r}{shown})"
