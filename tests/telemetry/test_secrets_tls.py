"""Secret masking and the OTLP/HTTP session: unit level, with a real TLS server on loopback.

The HTTPS server here is Python's own (ssl + http.server) with a trustme CA; the end-to-end
versions against a real collector are in tests/integration/test_vendor_shipping.py.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import trustme

from ddex_otel.telemetry import secrets, tls
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor
from ddex_otel.telemetry.setup import configure


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("OTEL_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")):
            monkeypatch.delenv(key)
    yield
    if DDEXInstrumentor().is_instrumented_by_opentelemetry:
        DDEXInstrumentor().uninstrument()


# ------------------------------------------------------------------------------------ secrets


def test_mask_url_hides_password_and_query_values():
    assert secrets.mask_url("https://user:pw@host:443/v1/traces?api-key=abc&x=1") == \
        "https://user:***@host:443/v1/traces?api-key=***&x=***"
    assert secrets.mask_url("http://127.0.0.1:4317") == "http://127.0.0.1:4317"


def test_describe_headers_names_only():
    assert secrets.describe_headers({"Authorization": "Bearer s3cr3t", "x-api-key": "k"}) == \
        "headers: authorization=***, x-api-key=***"
    assert secrets.describe_headers({}) == ""


def test_secrets_from_headers_variables_and_urls():
    found = secrets.secrets_from(
        {"authorization": "Bearer abcdefgh"}, ["https://u:secretpw@h/?token=qwertyui"],
        {"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-api-key=k1234567,Authorization=Basic%20zzzzzz"},
    )
    assert {"Bearer abcdefgh", "abcdefgh", "secretpw", "qwertyui", "k1234567", "Basic zzzzzz", "zzzzzz"} <= found


def test_redactor_masks_messages_args_and_exceptions(caplog):
    logger = logging.getLogger("opentelemetry.exporter.test_redactor")
    redactor = secrets.SecretRedactor({"tok-123456"})
    attached = redactor.install()
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            logger.warning("failed with header %s", "Bearer tok-123456")
            try:
                raise RuntimeError("server said tok-123456 is wrong")
            except RuntimeError:
                logger.exception("export failed")
            logger.warning("nothing secret here: %d", 5)
    finally:
        secrets.SecretRedactor.uninstall(attached, redactor)
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "tok-123456" not in text and caplog.text.count("***") >= 2
    assert "nothing secret here: 5" in text


def test_the_redactor_acts_before_the_filter_that_keeps_export_causes():
    """``ExportLogFilter`` keeps the exporters' failure causes for the one-line warning: it must
    only ever see them masked, whichever of the two was installed first."""
    from ddex_otel.telemetry.exporters import ExportFailures, ExportLogFilter

    logger = logging.getLogger("opentelemetry.exporter.test_redactor_order")
    redactor = secrets.SecretRedactor({"tok-654321"})
    failures = ExportFailures()
    log_filter = ExportLogFilter(failures=failures)
    redacted = redactor.install()
    filtered = log_filter.install()  # goes first in the lists ...
    redacted = redactor.install()  # ... until the redactor is installed again, as configure() does
    try:
        assert logger.filters[:2] == [redactor, log_filter]
        logger.handle(logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "Failed to export traces: %s",
                                        ("Bearer tok-654321 rejected",), None))
    finally:
        log_filter.uninstall(filtered)
        secrets.SecretRedactor.uninstall(redacted, redactor)
    assert failures.logged_causes and "tok-654321" not in str(failures.logged_causes), failures.logged_causes


# ---------------------------------------------------------------------------- the TLS session


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """A loopback HTTPS server (trustme CA) answering 200, or 401 without the right header."""
    directory = tmp_path_factory.mktemp("tls")
    ca, other = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    other.cert_pem.write_to_path(str(directory / "other.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            ok = self.headers.get("authorization") == "Bearer right-token"
            self.send_response(200 if ok else 401)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", directory / "ca.pem", directory / "other.pem"
    server.shutdown()


def test_requests_lets_requests_ca_bundle_replace_the_session_ca(https_server, monkeypatch):
    """The upstream behaviour our session fixes (docs/vendors.md)."""
    url, ca, other = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    plain = requests.Session()
    plain.verify = str(ca)
    with pytest.raises(requests.exceptions.SSLError):
        plain.post(url, headers={"authorization": "Bearer right-token"}, timeout=5)
    ours = tls.OTLPSession()
    ours.verify = str(ca)
    assert ours.post(url, headers={"authorization": "Bearer right-token"}, timeout=5).status_code == 200


def test_session_turns_tls_and_auth_failures_into_clear_errors(https_server):
    url, ca, other = https_server
    session = tls.OTLPSession()
    session.verify = str(other)
    with pytest.raises(tls.OTLPTransportError, match=rf"TLS with {url}/v1/traces failed: certificate verify failed"):
        session.post(f"{url}/v1/traces", timeout=5)
    session.verify = str(ca)
    with pytest.raises(tls.OTLPTransportError, match=r"rejected the credentials \(HTTP 401\)"):
        session.post(f"{url}/v1/traces", headers={"authorization": "Bearer wrong"}, timeout=5)


def test_transport_options_reject_missing_files_and_bad_compression(tmp_path):
    with pytest.raises(ValueError, match="certificate_file: no such file"):
        tls.TransportOptions(certificate_file=str(tmp_path / "nope.pem"))
    with pytest.raises(ValueError, match="unknown OTLP compression"):
        tls.TransportOptions(compression="brotli")


def test_configure_over_https_keeps_secrets_out_of_destinations_and_repr(https_server, monkeypatch):
    url, ca, other = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    handle = configure(endpoint=url, protocol="http/protobuf", headers="authorization=Bearer right-token",
                       certificate_file=ca, compression="gzip", set_global=False, instrument=False,
                       process_metrics=False)
    try:
        tracer = handle.tracer_provider.get_tracer("t")
        tracer.start_span("ddex.parse").end()
        assert handle.force_flush(10_000)
        assert handle.export_failures == 0, handle.failures.first_error
        shown = repr(handle) + " ".join(handle.destinations)
        assert "right-token" not in shown
        assert f"traces → OTLP HTTP {url}/v1/traces (headers: authorization=***)" in handle.destinations
    finally:
        handle.shutdown()


def test_configure_counts_a_rejected_token_once_and_never_logs_it(https_server, caplog):
    url, ca, _ = https_server
    handle = configure(endpoint=url, protocol="http/protobuf", headers={"authorization": "Bearer wrong-token-x"},
                       certificate_file=ca, set_global=False, instrument=False, process_metrics=False,
                       failure_cooldown=0)
    try:
        with caplog.at_level(logging.DEBUG):
            tracer = handle.tracer_provider.get_tracer("t")
            for _ in range(3):
                tracer.start_span("ddex.parse").end()
                handle.force_flush(10_000)
    finally:
        handle.shutdown()
    assert handle.export_failures >= 3
    assert "wrong-token-x" not in caplog.text
    # The export failure is logged once; retries are folded into one "N similar message(s) suppressed"
    # line, and the delivery accounting adds its own drop summary.
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "rejected the credentials" in r.getMessage()
                and not r.name.startswith("ddex_otel.telemetry") and "similar message(s) suppressed" not in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
