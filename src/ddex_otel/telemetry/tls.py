"""TLS, client certificates and compression for the OTLP exporters, and clear transport errors.

``exporter_options()`` turns ``configure(certificate_file=…, client_certificate_file=…,
client_key_file=…, compression=…)`` into keyword arguments of the SDK's OTLP exporters; what is
not given is still read by the exporters from ``OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE`` …

For OTLP/HTTP it also passes an ``OTLPSession`` (a ``requests.Session``) that fixes two things:

* **the OpenTelemetry CA wins.** requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace
  a session's ``verify`` on every request (``Session.merge_environment_settings``), so the CA the
  exporter set from ``OTEL_EXPORTER_OTLP_CERTIFICATE`` was ignored wherever those variables are
  set, and every export to a private-CA endpoint failed verification. The session keeps its own
  ``verify`` when one was set (proxies from the environment still apply). See docs/vendors.md.
* **clear, fast failures.** A TLS failure (wrong CA, plain HTTP to a TLS port, or the reverse)
  and a rejected credential (401/403) become one ``OTLPTransportError`` naming the endpoint and
  the likely fix. It is not a connection error, so the exporter does not retry it for its whole
  timeout: a misconfiguration costs one request per batch, not ten seconds of backoff.

Under ``opentelemetry-instrument`` the same session is used when
``OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER=ddex_otel`` (entry point
``opentelemetry_otlp_credential_provider``), the SDK's hook for supplying the session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ddex_otel.telemetry.secrets import mask_url

CREDENTIAL_PROVIDER_NAME = "ddex_otel"
COMPRESSIONS = ("gzip", "deflate", "none")
_PLAIN_HTTP_TO_TLS = "http request to an https server"


class OTLPTransportError(Exception):
    """An OTLP request failed for a reason retrying cannot fix (TLS, credentials)."""


@dataclass(frozen=True)
class TransportOptions:
    """Per-configuration TLS and compression settings (``None``: the exporter reads OTEL_*)."""

    certificate_file: str | None = None
    client_certificate_file: str | None = None
    client_key_file: str | None = None
    compression: str | None = None

    @classmethod
    def of(cls, certificate_file: Any = None, client_certificate_file: Any = None, client_key_file: Any = None,
           compression: str | None = None) -> TransportOptions:
        """From ``configure()``'s arguments (paths may be ``os.PathLike``)."""
        def path(value: Any) -> str | None:
            return os.fspath(value) if value is not None else None

        return cls(path(certificate_file), path(client_certificate_file), path(client_key_file), compression)

    def __post_init__(self) -> None:
        for name in ("certificate_file", "client_certificate_file", "client_key_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ValueError(f"{name}: no such file: {value}")
        if self.client_key_file and not self.client_certificate_file:
            raise ValueError("client_key_file needs client_certificate_file")
        if self.compression is not None and self.compression.strip().lower() not in COMPRESSIONS:
            raise ValueError(f"unknown OTLP compression {self.compression!r}; use one of {', '.join(COMPRESSIONS)}")


def _tls_hint(url: str, verify: Any, reason: str = "", has_client_cert: bool = False) -> str:
    client_side = ("certificate required", "bad certificate", "unknown ca", "closed the connection")
    if any(marker in reason for marker in client_side) and not has_client_cert:
        return ("the server wants a client certificate it trusts: set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE "
                "and OTEL_EXPORTER_OTLP_CLIENT_KEY (or configure(client_certificate_file=..., client_key_file=...))")
    if url.lower().startswith("http://"):
        return "the endpoint does not speak plain HTTP here or a proxy interfered"
    if isinstance(verify, str):
        return f"is the server's certificate signed by the CA in {verify} and issued for this host name?"
    return ("the server's certificate is not trusted by the default CA bundle: set "
            "OTEL_EXPORTER_OTLP_CERTIFICATE (or configure(certificate_file=...)) to its CA")


class OTLPSession(requests.Session):
    """The requests session of our OTLP/HTTP exporters (see the module docstring)."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True and self.verify is not None:
            settings["verify"] = self.verify  # a CA file (or False) set on purpose beats REQUESTS_CA_BUNDLE
        return settings

    def request(self, method, url, *args, **kwargs):
        where = mask_url(str(url))
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.exceptions.SSLError as exc:
            reason = _ssl_reason(exc)
            raise OTLPTransportError(
                f"TLS with {where} failed: {reason} ({_tls_hint(str(url), self.verify, reason, bool(self.cert))})") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if "wrong version number" in str(exc).lower() or "record layer failure" in str(exc).lower():
                raise OTLPTransportError(
                    f"TLS with {where} failed: the server does not speak TLS (use http:// for it)"
                ) from None
            if str(url).lower().startswith("http://") and _speaks_tls(str(url)):
                # A TLS server answers plain HTTP with a 400 and closes; a large body makes that a reset.
                raise OTLPTransportError(f"{where} expects TLS: use https:// in the endpoint") from None
            raise
        if response.status_code == 400 and _PLAIN_HTTP_TO_TLS in (response.text or "").lower():
            raise OTLPTransportError(f"{where} expects TLS: use https:// in the endpoint")
        if response.status_code in (401, 403):
            raise OTLPTransportError(
                f"{where} rejected the credentials (HTTP {response.status_code}): check the token or key "
                "in OTEL_EXPORTER_OTLP_HEADERS / configure(headers=...)"
            )
        return response


def _speaks_tls(url: str, timeout: float = 2.0) -> bool:
    """True if host:port of ``url`` completes a TLS handshake (certificate not checked: a probe only)."""
    import socket
    import ssl
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=parts.hostname):
                return True
    except (OSError, ssl.SSLError):
        return False


def _ssl_reason(exc: BaseException) -> str:
    """The innermost SSL reason ("certificate verify failed: unable to get local issuer certificate")."""
    text = str(exc)
    if "eof occurred in violation of protocol" in text.lower():  # TLS 1.3: a rejected client, no alert
        return "the server closed the connection during the handshake"
    for marker in ("certificate verify failed", "wrong version number", "record layer failure",
                   "tlsv13 alert", "tlsv1 alert", "sslv3 alert", "handshake failure", "hostname mismatch"):
        start = text.lower().find(marker)
        if start >= 0:
            end = text.find(")", start)
            return text[start:end if end > start else None].rstrip(" '\"")
    return "TLS handshake failed"


def otlp_session() -> requests.Session:
    """Entry point for ``OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER=ddex_otel``."""
    return OTLPSession()


def _grpc_credentials(options: TransportOptions) -> Any:  # grpc.ChannelCredentials
    import grpc

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return grpc.ssl_channel_credentials(
        root_certificates=read(options.certificate_file),
        private_key=read(options.client_key_file),
        certificate_chain=read(options.client_certificate_file),
    )


def exporter_options(signal: str, protocol: str, options: TransportOptions | None) -> dict[str, Any]:
    """Extra keyword arguments for the SDK OTLP exporter of ``signal`` over ``protocol``."""
    options = options or TransportOptions()
    kwargs: dict[str, Any] = {}
    compression = (options.compression or "").strip().lower() or None
    if protocol == "grpc":
        if compression:
            from grpc import Compression

            kwargs["compression"] = {"gzip": Compression.Gzip, "deflate": Compression.Deflate,
                                     "none": Compression.NoCompression}[compression]
        if options.certificate_file or options.client_certificate_file:
            kwargs["credentials"] = _grpc_credentials(options)
        return kwargs
    kwargs["session"] = OTLPSession()
    if compression:
        from opentelemetry.exporter.otlp.proto.http import Compression as HTTPCompression

        kwargs["compression"] = HTTPCompression(compression)
    if options.certificate_file:
        kwargs["certificate_file"] = options.certificate_file
    if options.client_certificate_file:
        kwargs["client_certificate_file"] = options.client_certificate_file
    if options.client_key_file:
        kwargs["client_key_file"] = options.client_key_file
    return kwargs
