"""Authenticated, TLS-protected OTLP ingest on the bundled collector (issue 14), and no secret leaks.

`ddex-otel stack up --ingest-token-env VAR --tls-cert F --tls-key F` (and the vendor options) run
as a user would run them; the SDK sends the token with OTEL_EXPORTER_OTLP_HEADERS; the accepted
and the rejected case are checked against the real collector and the real Jaeger behind it. The
last test greps every output of a full run for the secret values it set.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ddex_otel.stack.query import Jaeger, poll
from vendor_collector import VendorCollector

CLI = Path(sys.executable).parent / "ddex-otel"


def base_env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_VENDOR_", "DDEX_INGEST_"))}
    env.update(more)
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def secured_stack(otelcol, certs, tmp_path_factory):
    """`stack up` with ingest token + TLS, started through the CLI; yields (run_dir, token, state, outputs)."""
    token = f"ingest-{secrets.token_hex(16)}"
    run_dir = tmp_path_factory.mktemp("secured-stack")
    env = base_env(DDEX_TEST_INGEST_TOKEN=token, DDEX_OTEL_BIN_DIR=str(otelcol.parent))
    up = cli("stack", "up", "--run-dir", str(run_dir), "--free-ports", "--ingest-token-env", "DDEX_TEST_INGEST_TOKEN",
             "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key), env=env)
    if up.returncode != 0:
        pytest.fail(f"stack up failed: {up.stdout}{up.stderr}", pytrace=False)
    state = json.loads((run_dir / "state.json").read_text())
    yield run_dir, token, state, [up]
    cli("stack", "down", "--run-dir", str(run_dir), env=env)


def _endpoint(state: dict, protocol: str) -> str:
    port = state["ports"]["collector_otlp_grpc" if protocol == "grpc" else "collector_otlp_http"]
    return f"https://127.0.0.1:{port}"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_ingest_accepts_the_token_and_rejects_a_wrong_one(secured_stack, certs, protocol):
    run_dir, token, state, _ = secured_stack
    jaeger = Jaeger(f"http://127.0.0.1:{state['ports']['jaeger_query']}")
    endpoint = _endpoint(state, protocol)
    tag = f"{protocol.split('/')[0]}-{uuid.uuid4().hex[:6]}"
    common = dict(OTEL_EXPORTER_OTLP_CERTIFICATE=str(certs.ca_file), REQUESTS_CA_BUNDLE=str(certs.other_ca_file))
    demo = ["demo", "--endpoint", endpoint, "--protocol", protocol, "--generated", "1", "--no-broken"]

    wrong = f"wrong-{secrets.token_hex(8)}"
    rejected = cli(*demo, "--service-name", f"rejected-{tag}",
                   env=base_env(OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer {wrong}", **common))
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    assert "telemetry export(s) failed" in rejected.stdout, rejected.stdout
    assert wrong not in rejected.stdout + rejected.stderr

    accepted = cli(*demo, "--service-name", f"accepted-{tag}",
                   env=base_env(OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer {token}", **common))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "export(s) failed" not in accepted.stdout, accepted.stdout
    poll(jaeger.services, lambda s: f"accepted-{tag}" in s, 60, f"accepted-{tag} in Jaeger")
    # The rejected run went first: had any of it got through, Jaeger would show it by now.
    assert f"rejected-{tag}" not in jaeger.services()
    assert token not in accepted.stdout + accepted.stderr


def test_ingest_without_token_or_without_tls_is_refused(secured_stack, certs):
    _, _, state, _ = secured_stack
    no_token = cli("demo", "--endpoint", _endpoint(state, "http/protobuf"), "--protocol", "http/protobuf",
                   "--generated", "1", "--no-broken",
                   env=base_env(OTEL_EXPORTER_OTLP_CERTIFICATE=str(certs.ca_file)))
    assert "rejected the credentials (HTTP 401)" in no_token.stderr, no_token.stderr
    plain = _endpoint(state, "http/protobuf").replace("https://", "http://")
    no_tls = cli("demo", "--endpoint", plain, "--protocol", "http/protobuf", "--generated", "1", "--no-broken",
                 env=base_env())
    assert "expects TLS: use https://" in no_tls.stderr, no_tls.stderr


def test_stack_up_refuses_an_unset_token_variable(otelcol, certs, tmp_path):
    env = base_env(DDEX_OTEL_BIN_DIR=str(otelcol.parent))
    env.pop("NO_SUCH_TOKEN_VAR", None)
    up = cli("stack", "up", "--run-dir", str(tmp_path), "--free-ports", "--ingest-token-env", "NO_SUCH_TOKEN_VAR",
             env=env, timeout=60)
    assert up.returncode == 1
    assert up.stderr.strip() == ("ddex-otel stack: error: ingest token variable NO_SUCH_TOKEN_VAR is unset "
                                 "or shorter than 8 characters")


def test_no_secret_in_any_output_of_a_full_run(otelcol, certs, tmp_path):
    """Ingest token, vendor key (env reference and literal), app header: never in any output or file."""
    ingest_token = f"itok-{secrets.token_hex(16)}"
    vendor_token = f"vtok-{secrets.token_hex(16)}"
    literal_key = f"lit-{secrets.token_hex(16)}"
    wrong_token = f"bad-{secrets.token_hex(16)}"
    secret_values = (ingest_token, vendor_token, literal_key, wrong_token)

    vendor = VendorCollector(otelcol, tmp_path / "vendor", certs, vendor_token).start()
    run_dir, offline = tmp_path / "run", tmp_path / "offline"
    outputs: list[subprocess.CompletedProcess] = []
    env = base_env(ITOK=ingest_token, VTOK=vendor_token, DDEX_OTEL_BIN_DIR=str(otelcol.parent),
                   REQUESTS_CA_BUNDLE=str(certs.other_ca_file))
    try:
        up = cli("stack", "up", "--run-dir", str(run_dir), "--free-ports",
                 "--ingest-token-env", "ITOK", "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
                 "--vendor-endpoint", vendor.http_endpoint, "--vendor-ca", str(certs.ca_file),
                 "--vendor-header", "authorization=Bearer ${env:VTOK}", "--vendor-header", f"x-extra-key={literal_key}",
                 env=env)
        outputs.append(up)
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((run_dir / "state.json").read_text())
        service = f"leakcheck-{uuid.uuid4().hex[:6]}"
        for token in (ingest_token, wrong_token):
            demo_env = {**env, "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {token}",
                        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(certs.ca_file)}
            for protocol in ("grpc", "http/protobuf"):
                outputs.append(cli("demo", "--endpoint", _endpoint(state, protocol), "--protocol", protocol,
                                   "--service-name", service, "--generated", "1", "--offline-dir", str(offline),
                                   env=demo_env))
        arrived = vendor.wait_spans(lambda s: s["service"] == service, 2, timeout=60)
        assert arrived, "the vendor pipeline delivered nothing: the run checked too little"
        outputs.append(cli("stack", "status", "--run-dir", str(run_dir), env=env))
        outputs.append(cli("stack", "status", "--run-dir", str(run_dir), "--json", env=env))
        outputs.append(cli("stack", "overlay", "--vendor-endpoint", vendor.http_endpoint,
                           "--vendor-header", "authorization=Bearer ${env:VTOK}", "--ingest-token-env", "ITOK",
                           env=env))
    finally:
        outputs.append(cli("stack", "down", "--run-dir", str(run_dir), env=env))
        vendor.stop()

    assert any("export(s) failed" in o.stdout for o in outputs), "the wrong-token runs must have failed"
    leaks = []
    for o in outputs:
        for value in secret_values:
            if value in o.stdout or value in o.stderr:
                leaks.append(f"{' '.join(map(str, o.args[1:3]))} output holds {value[:4]}…")
    files = [p for p in [*run_dir.rglob("*"), *offline.rglob("*"), *vendor.dir.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in offline.rglob("*")), "no offline telemetry files were written"
    for path in files:
        data = path.read_bytes()
        for value in secret_values:
            if value.encode() in data:
                leaks.append(f"{path} holds {value[:4]}…")
    assert not leaks, leaks
    assert len(files) >= 8, [str(p) for p in files]
