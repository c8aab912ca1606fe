"""Keep credentials out of everything telemetry prints: logs, errors, reprs, destinations.

OTLP credentials travel as header values (``OTEL_EXPORTER_OTLP_HEADERS``, ``configure(headers=)``)
and sometimes in the endpoint URL (``https://user:key@host``, ``?api-key=``). This module knows
which values are secret and masks them:

  * ``mask_url`` drops a URL's password and query values;
  * ``describe_headers`` names the headers an exporter sends, never their values;
  * ``SecretRedactor`` is a logging filter that replaces every known secret in a record;
  * ``redact`` does the same for any string (an exception message, a CLI line).
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

MASK = "***"

#: Header variables of the OTLP exporters (the SDK reads them; we only learn their values to mask).
HEADER_VARIABLES: tuple[str, ...] = (
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
)
#: Loggers whose records may carry a request, URL or error text from an exporter.
REDACTED_LOGGER_PREFIXES: tuple[str, ...] = ("opentelemetry", "ddex_otel", "grpc", "urllib3", "requests")
_MIN_SECRET_LENGTH = 4  # shorter values ("1", "on") would mask innocent text


def _header_values(raw: str) -> list[str]:
    from opentelemetry.util.re import parse_env_headers

    values = []
    for value in parse_env_headers(raw, liberal=True).values():
        values.append(value)
        scheme, _, credential = value.partition(" ")
        if credential:  # "Bearer abc", "Basic xyz", "Api-Token t": the credential alone leaks too
            values.append(credential)
    return values


def secrets_from(
    headers: Mapping[str, str] | None = None,
    urls: Iterable[str | None] = (),
    environ: Mapping[str, str] | None = None,
) -> set[str]:
    """Secret strings in ``headers``, in the passwords/queries of ``urls`` and in the header variables."""
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name in HEADER_VARIABLES:
        if env.get(name):
            found.update(_header_values(env[name]))
    for value in (headers or {}).values():
        found.update(_header_values(f"k={urllib.parse.quote(str(value))}"))
    for url in urls:
        if not url:
            continue
        parts = urllib.parse.urlsplit(url)
        if parts.password:
            found.update({parts.password, urllib.parse.unquote(parts.password)})
        for _, value in urllib.parse.parse_qsl(parts.query):
            found.add(value)
    return {s for s in found if len(s) >= _MIN_SECRET_LENGTH}


def mask_url(url: str) -> str:
    """``url`` without its password and with every query value replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        host = netloc.rpartition("@")[2]
        netloc = f"{parts.username}:{MASK}@{host}" if parts.password is not None else f"{MASK}@{host}"
    query = "&".join(f"{k}={MASK}" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def describe_headers(headers: Mapping[str, str] | None) -> str:
    """``"headers: authorization=***, x-api-key=***"`` (names only), or '' without headers."""
    if not headers:
        return ""
    return "headers: " + ", ".join(f"{name.lower()}={MASK}" for name in sorted(headers))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first, so prefixes cannot leave a tail) replaced."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretRedactor(logging.Filter):
    """Masks known secrets in log records of the OpenTelemetry SDK, exporters and ddex_otel.

    Attach with ``install()``; it rewrites ``msg``/``args`` of a record that contains a secret
    (formatted once, then stored as a plain message), and leaves every other record untouched.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("")
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}

    @property
    def secrets(self) -> frozenset[str]:
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging module's business
            return True
        exc = record.exc_info[1] if record.exc_info else None
        exc_text = "" if exc is None else str(exc)
        if any(s in message or s in exc_text for s in secrets):
            record.msg, record.args = redact(message, secrets), None
            if exc_text:  # the traceback would repeat the secret: keep the masked summary only
                record.msg = f"{record.msg} ({type(exc).__name__}: {redact(exc_text, secrets)})"
                record.exc_info, record.exc_text = None, None
        return True

    def install(self, prefixes: tuple[str, ...] = REDACTED_LOGGER_PREFIXES) -> list[logging.Logger]:
        """Attach to every existing logger under ``prefixes`` (filters act where records are logged),
        first in each logger's list, so that no other filter (``exporters.ExportLogFilter`` keeps
        the exporters' causes) sees a secret."""
        attached = []
        for name in list(logging.Logger.manager.loggerDict):
            if name.startswith(prefixes):
                logger = logging.getLogger(name)
                self._put_first(logger)
                attached.append(logger)
        for name in prefixes:  # records logged on the package loggers themselves
            logger = logging.getLogger(name)
            if logger not in attached:
                self._put_first(logger)
                attached.append(logger)
        return attached

    def _put_first(self, logger: logging.Logger) -> None:
        if self in logger.filters:
            logger.removeFilter(self)
        logger.filters.insert(0, self)

    @staticmethod
    def uninstall(loggers: Iterable[logging.Logger], redactor: SecretRedactor) -> None:
        for logger in loggers:
            logger.removeFilter(redactor)
