"""Ship to a vendor APM (issue 10), against a second real collector playing the vendor.

The vendor (tests/vendor_collector.py) speaks OTLP gRPC and HTTP over TLS with a CA made by
trustme, requires a bearer token, accepts only gzip over HTTP and writes what it receives as OTLP
JSON. Every test runs with REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE pointing at an unrelated CA, as on
machines where those are set: the CA given by OTEL_EXPORTER_OTLP_CERTIFICATE must still win.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ddex_otel.stack import StackError
from ddex_otel.stack.overlay import VendorOptions
from ddex_otel.stack.overlay_stack import OverlayStack
from vendor_collector import Certs, VendorCollector, scrape_sum

CLI = Path(sys.executable).parent / "ddex-otel"
DDEX_ATTRIBUTES = ("ddex.operation.name", "ddex.ern.version", "ddex.message.id", "ddex.input.size")


@pytest.fixture(scope="module")
def token() -> str:
    return f"vendor-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def vendor(otelcol, certs, token, tmp_path_factory):
    fake = VendorCollector(otelcol, tmp_path_factory.mktemp("vendor"), certs, token)
    try:
        fake.start()
    except StackError as exc:
        pytest.fail(f"vendor collector did not start: {exc}\n{exc.log_tail()}", pytrace=False)
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def requests_ca_bundle(certs, monkeypatch):
    """The machine-wide CA bundle variables that made requests ignore the OpenTelemetry CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs.other_ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(certs.other_ca_file))


def app_env(**otel: str) -> dict[str, str]:
    """This process's environment without OTEL_* settings, plus ``otel``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(otel)
    return env


def run_demo(endpoint: str, protocol: str, service: str, env: dict[str, str], *extra: str,
             timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "demo", "--endpoint", endpoint, "--protocol", protocol, "--service-name", service,
         "--generated", "1", "--no-broken", *extra],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def vendor_env(vendor: VendorCollector, certs: Certs, token: str, **more: str) -> dict[str, str]:
    return app_env(
        OTEL_EXPORTER_OTLP_HEADERS=f"authorization=Bearer {token}",
        OTEL_EXPORTER_OTLP_CERTIFICATE=str(certs.ca_file),
        OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
        **more,
    )


def assert_ddex_spans(vendor: VendorCollector, service: str, minimum: int = 2) -> list[dict]:
    spans = vendor.wait_spans(lambda s: s["service"] == service and s["name"] == "ddex.parse", minimum)
    assert len(spans) >= minimum, f"{len(spans)} ddex.parse spans of {service} at the vendor"
    for name in DDEX_ATTRIBUTES:
        assert any(name in s["attributes"] for s in spans), f"{name} missing from the spans at the vendor"
    assert {s["attributes"]["ddex.operation.name"] for s in spans} == {"parse"}
    return spans


def wait_metric(vendor: VendorCollector, service: str, name: str, timeout: float = 30.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        names = vendor.metric_names(service)
        if name in names or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


# ---------------------------------------------------------------------- straight from the app


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_app_ships_to_the_vendor_with_tls_token_and_gzip(vendor, certs, token, protocol):
    service = f"direct-{protocol.split('/')[0]}-{uuid.uuid4().hex[:6]}"
    endpoint = vendor.http_endpoint if protocol == "http/protobuf" else vendor.grpc_endpoint
    done = run_demo(endpoint, protocol, service, vendor_env(vendor, certs, token))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "export(s) failed" not in done.stdout, done.stdout
    assert_ddex_spans(vendor, service)
    names = wait_metric(vendor, service, "ddex.operation.duration")
    assert {"ddex.operation.duration", "ddex.message.size"} <= names, names
    assert token not in done.stdout + done.stderr
    assert "authorization=***" in done.stdout  # the destination names the header, masks its value


def test_http_vendor_refuses_uncompressed_bodies(vendor, certs, token):
    """The test vendor's gzip-only rule is real, so spans arriving over HTTP prove gzip was used."""
    import requests

    answer = requests.post(f"{vendor.http_endpoint}/v1/traces", data=b"", verify=str(certs.ca_file),
                           headers={"authorization": f"Bearer {token}",
                                    "content-type": "application/x-protobuf"}, timeout=10)
    assert answer.status_code == 400 and "Content-Encoding" in answer.text


def test_configure_arguments_ship_to_the_vendor(vendor, certs, token, sample_paths, monkeypatch):
    """configure(headers=, certificate_file=, compression=) with no OTEL_* variable set."""
    from ddex_otel import ern
    from ddex_otel.telemetry.setup import configure

    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    service = f"configure-{uuid.uuid4().hex[:6]}"
    handle = configure(endpoint=vendor.http_endpoint, protocol="http/protobuf", service_name=service,
                       headers={"Authorization": f"Bearer {token}"}, certificate_file=certs.ca_file,
                       compression="gzip", set_global=False, process_metrics=False)
    try:
        for path in sample_paths[:3]:
            ern.parse(path)
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    assert handle.export_failures == 0, handle.failures.first_error
    assert_ddex_spans(vendor, service, minimum=3)
    shown = " ".join(handle.destinations) + repr(handle)
    assert token not in shown and "authorization=***" in shown


def test_sdk_alone_loses_the_ca_to_requests_ca_bundle_and_our_session_fixes_it(vendor, certs, token,
                                                                                 monkeypatch):
    """The upstream problem (docs/vendors.md), shown against the real vendor, and our workaround."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

    from ddex_otel.telemetry.tls import OTLPSession

    def export(**kwargs) -> SpanExportResult:
        exporter = OTLPSpanExporter(endpoint=f"{vendor.http_endpoint}/v1/traces", certificate_file=str(certs.ca_file),
                                    headers={"authorization": f"Bearer {token}"}, timeout=5, **kwargs)
        results = []
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_Recorder(exporter, results)))
        provider.get_tracer("t").start_span("ddex.parse").end()
        provider.shutdown()
        return results[0]

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")  # the vendor takes gzip only
    assert export() is SpanExportResult.FAILURE  # REQUESTS_CA_BUNDLE (set) replaced the CA
    assert export(session=OTLPSession()) is SpanExportResult.SUCCESS


class _Recorder:
    def __init__(self, inner, results):
        self.inner, self.results = inner, results

    def export(self, spans):
        self.results.append(self.inner.export(spans))
        return self.results[-1]

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def test_opentelemetry_instrument_uses_our_session_by_name(vendor, certs, token, tmp_path):
    """Zero-code setup: OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER=ddex_otel keeps the CA."""
    service = f"instrument-{uuid.uuid4().hex[:6]}"
    app = Path(__file__).resolve().parents[2] / "examples" / "auto_instrument_app.py"
    env = vendor_env(vendor, certs, token, OTEL_SERVICE_NAME=service, OTEL_TRACES_EXPORTER="otlp",
                     OTEL_METRICS_EXPORTER="otlp", OTEL_LOGS_EXPORTER="none",
                     OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT=vendor.http_endpoint,
                     OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER="ddex_otel")
    done = subprocess.run([str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(app)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_ddex_spans(vendor, service, minimum=1)
    assert token not in done.stdout + done.stderr


# ------------------------------------------------------------------------------ failures


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_wrong_token_is_rejected_counted_and_logged_once(vendor, certs, token, protocol):
    wrong = f"wrong-{secrets.token_hex(12)}"
    service = f"wrong-token-{uuid.uuid4().hex[:6]}"
    endpoint = vendor.http_endpoint if protocol == "http/protobuf" else vendor.grpc_endpoint
    done = run_demo(endpoint, protocol, service, vendor_env(vendor, certs, wrong))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # the application is not affected
    assert "telemetry export(s) failed" in done.stdout, done.stdout
    reason = "rejected the credentials" if protocol == "http/protobuf" else "UNAUTHENTICATED"
    assert done.stderr.count(reason) == 1, done.stderr
    assert done.stderr.count("telemetry not delivered") == 1, done.stderr  # one line says it all
    assert wrong not in output and token not in output
    assert vendor.wait_spans(lambda s: s["service"] == service, 1, timeout=2) == []


def test_wrong_ca_is_a_clear_tls_error_naming_the_endpoint(vendor, certs, token):
    service = f"wrong-ca-{uuid.uuid4().hex[:6]}"
    env = vendor_env(vendor, certs, token)
    env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = str(certs.other_ca_file)
    started = time.monotonic()
    done = run_demo(vendor.http_endpoint, "http/protobuf", service, env)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    # The first failing export is logged (the others are counted): traces or metrics, whichever
    # exporter (or the logs one) flushes first at shutdown.
    expected = re.escape(f"TLS with {vendor.http_endpoint}/v1/") + r"(traces|metrics|logs) failed: certificate verify failed"
    assert re.search(expected, done.stderr), done.stderr
    assert "export(s) failed" in done.stdout
    assert elapsed < 60, f"a TLS misconfiguration must fail fast, took {elapsed:.0f}s"


def test_plain_http_to_a_tls_endpoint_says_so(vendor, certs, token):
    service = f"plain-{uuid.uuid4().hex[:6]}"
    plain = vendor.http_endpoint.replace("https://", "http://")
    done = run_demo(plain, "http/protobuf", service, vendor_env(vendor, certs, token))
    assert done.returncode == 0, done.stdout + done.stderr
    # Traces or metrics, whichever exporter flushes first at shutdown.
    expected = re.escape(f"{plain}/v1/") + r"(traces|metrics|logs) expects TLS: use https:// in the endpoint"
    assert re.search(expected, done.stderr), done.stderr


# --------------------------------------------------------------- through the bundled collector


@pytest.fixture
def vendor_stack_factory(otelcol, tmp_path, monkeypatch):
    stacks: list[OverlayStack] = []
    monkeypatch.setenv("TEST_VENDOR_TOKEN", "")

    def start(vendor_options: VendorOptions, token_value: str) -> OverlayStack:
        monkeypatch.setenv("TEST_VENDOR_TOKEN", token_value)  # the collector inherits it
        stack = OverlayStack(tmp_path / f"stack{len(stacks)}", free_ports=True, bin_dir=otelcol.parent,
                             vendor=vendor_options)
        stacks.append(stack)
        try:
            stack.start()
        except StackError as exc:
            pytest.fail(f"stack with vendor overlay did not start: {exc}\n{exc.log_tail()}", pytrace=False)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


def vendor_options(vendor: VendorCollector, certs: Certs, protocol: str) -> VendorOptions:
    endpoint = vendor.http_endpoint if protocol == "http" else f"127.0.0.1:{vendor.grpc_port}"
    return VendorOptions(endpoint=endpoint, protocol=protocol, ca_file=str(certs.ca_file),
                         headers=(("authorization", "Bearer ${env:TEST_VENDOR_TOKEN}"),))


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_bundled_collector_ships_to_the_vendor(vendor, certs, token, vendor_stack_factory, protocol):
    stack = vendor_stack_factory(vendor_options(vendor, certs, protocol), token)
    service = f"via-collector-{protocol}-{uuid.uuid4().hex[:6]}"
    done = run_demo(stack.endpoints.otlp_grpc, "grpc", service, app_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert_ddex_spans(vendor, service)
    names = wait_metric(vendor, service, "ddex.operation.duration")
    assert "ddex.operation.duration" in names, names
    config = stack.overlay_path.read_text()
    assert token not in config and "${env:TEST_VENDOR_TOKEN}" in config
    assert token not in stack.log_path("collector").read_text()


def test_vendor_outage_and_collector_restart_lose_nothing(otelcol, certs, token, vendor_stack_factory,
                                                          tmp_path, record_property):
    """Vendor down → spans queue on disk → bundled collector restarts → vendor back → all arrive."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    fake = VendorCollector(otelcol, tmp_path / "outage-vendor", certs, token).start()
    try:
        stack = vendor_stack_factory(vendor_options(fake, certs, "http"), token)
        own_metrics = stack.endpoints.collector_metrics
        exporter_label = {"exporter": "otlp_http/vendor"}
        fake.stop()  # the outage begins
        outage_started = time.monotonic()

        count, service = 500, f"outage-{uuid.uuid4().hex[:6]}"

        def send(first: int, last: int) -> None:
            """Spans m-first … m-(last-1) from the app to the bundled collector (which accepts them)."""
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=stack.endpoints.otlp_grpc,
                                                                            insecure=True)))
            tracer = provider.get_tracer("ddex_otel")
            for i in range(first, last):
                with tracer.start_as_current_span("ddex.parse", attributes={
                        "ddex.operation.name": "parse", "ddex.ern.version": "4.3", "ddex.message.id": f"m-{i}"}):
                    pass
            assert provider.force_flush(30_000)
            provider.shutdown()

        def poll(what, read, done, timeout=60.0):
            deadline = time.monotonic() + timeout
            value = None
            while time.monotonic() < deadline:
                try:
                    value = read()
                except OSError:
                    value = None
                if value is not None and done(value):
                    return value
                time.sleep(0.25)
            pytest.fail(f"{what}: last value {value}")

        half = count // 2
        send(0, half)
        poll("spans accepted by the bundled collector",
             lambda: scrape_sum(own_metrics, "otelcol_receiver_accepted_spans"), lambda v: v >= half)
        # Past the batch processor, in the exporter's disk queue, its first attempt failed and retrying.
        log = stack.log_path("collector")
        retrying = "Exporting failed. Will retry"
        poll("a failed send to the down vendor", lambda: log.read_text(), lambda text: retrying in text)

        stack.restart_collector()  # the new process starts a fresh log
        send(half, count)          # more spans while the vendor is still down
        accepted_after_restart = poll("spans accepted by the restarted collector",
                                      lambda: scrape_sum(own_metrics, "otelcol_receiver_accepted_spans"),
                                      lambda v: v >= count - half)
        poll("the restarted collector retrying (5 times) while the vendor is down", lambda: log.read_text(),
             lambda text: text.count(retrying) >= 5)
        fake.start()  # the vendor is back
        back_at = time.monotonic()
        outage = back_at - outage_started
        arrived = fake.wait_spans(lambda s: s["service"] == service, count, timeout=90)
        delivered_after = time.monotonic() - back_at
        ids = {s["attributes"]["ddex.message.id"] for s in arrived}
        assert ids == {f"m-{i}" for i in range(count)}, f"{len(ids)} of {count} spans arrived"

        sent = poll("otelcol_exporter_sent_spans of the restarted collector",
                    lambda: scrape_sum(own_metrics, "otelcol_exporter_sent_spans", **exporter_label),
                    lambda v: v >= count)
        accepted = fake.own_metric("otelcol_receiver_accepted_spans")
        # The restarted collector received only the second half, yet sent everything: the first half
        # came from its disk queue.
        assert accepted_after_restart == count - half and sent == count and accepted >= count, \
            (accepted_after_restart, sent, accepted)
        record_property("outage", f"{count} spans, outage {outage:.1f}s with one collector restart, "
                                  f"all delivered {delivered_after:.1f}s after the vendor came back")
        print(f"\nOUTAGE: {count}/{count} spans delivered; outage {outage:.1f}s incl. one collector restart; "
              f"delivered {delivered_after:.1f}s after the vendor came back; sent={sent:.0f} accepted={accepted:.0f}")
    finally:
        fake.stop()



def test_grpc_wrong_ca_names_the_endpoint_and_the_certificate_failure(vendor, certs, token):
    """gRPC reports TLS failures itself (as UNAVAILABLE, retried): the SDK's line must still be clear."""
    env = vendor_env(vendor, certs, token)
    env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = str(certs.other_ca_file)
    done = run_demo(vendor.grpc_endpoint, "grpc", f"grpc-wrong-ca-{uuid.uuid4().hex[:6]}", env)
    assert done.returncode == 0, done.stdout + done.stderr
    # one line at the end names the endpoint and what gRPC said of the handshake
    lines = [line for line in done.stderr.splitlines() if "telemetry not delivered" in line]
    assert len(lines) == 1 and f"127.0.0.1:{vendor.grpc_port}" in lines[0], done.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in lines[0], lines[0]
    assert token not in done.stdout + done.stderr


# ----------------------------------------------------------------------------------- mTLS


@pytest.fixture(scope="module")
def mtls_vendor(otelcol, certs, token, tmp_path_factory):
    fake = VendorCollector(otelcol, tmp_path_factory.mktemp("mtls-vendor"), certs, token, mtls=True)
    try:
        fake.start()
    except StackError as exc:
        pytest.fail(f"mTLS vendor collector did not start: {exc}\n{exc.log_tail()}", pytrace=False)
    yield fake
    fake.stop()


def test_app_client_certificate_reaches_an_mtls_vendor_and_its_absence_is_a_tls_error(mtls_vendor, certs, token):
    service = f"mtls-{uuid.uuid4().hex[:6]}"
    with_cert = vendor_env(mtls_vendor, certs, token, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(certs.client_cert),
                           OTEL_EXPORTER_OTLP_CLIENT_KEY=str(certs.client_key))
    done = run_demo(mtls_vendor.http_endpoint, "http/protobuf", service, with_cert)
    assert done.returncode == 0 and "export(s) failed" not in done.stdout, done.stdout + done.stderr
    assert_ddex_spans(mtls_vendor, service)

    without = run_demo(mtls_vendor.http_endpoint, "http/protobuf", f"no-cert-{service}",
                       vendor_env(mtls_vendor, certs, token))
    assert without.returncode == 0, without.stdout + without.stderr
    # whichever signal fails first is logged (repeats are folded): it names the endpoint it tried
    assert re.search(rf"TLS with {re.escape(mtls_vendor.http_endpoint)}/v1/(traces|metrics|logs) failed", without.stderr), \
        without.stderr
    assert "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" in without.stderr, without.stderr


def test_bundled_collector_ships_with_a_client_certificate(mtls_vendor, certs, token, vendor_stack_factory):
    options = dataclasses.replace(vendor_options(mtls_vendor, certs, "http"), cert_file=str(certs.client_cert),
                                  key_file=str(certs.client_key))
    stack = vendor_stack_factory(options, token)
    service = f"mtls-collector-{uuid.uuid4().hex[:6]}"
    done = run_demo(stack.endpoints.otlp_grpc, "grpc", service, app_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert_ddex_spans(mtls_vendor, service)
