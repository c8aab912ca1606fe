"""The vendor / ingest overlay: rendering rules, and `validate` of the built collector on each shape.

Also the vendor recipes of docs/vendors.md ("tested-shape": each collector block, merged over the
base config with its pipelines, must pass the collector's own `validate`) and the compose override.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import trustme
import yaml

from ddex_otel.stack.errors import StackError
from ddex_otel.stack.overlay import (
    IngestOptions,
    VendorOptions,
    load_base,
    parse_header,
    render_overlay,
)

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "collector" / "otelcol-config.yaml"
DOCS = REPO / "docs" / "vendors.md"
CLI = Path(sys.executable).parent / "ddex-otel"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("overlay-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    return {name: str(directory / f"{name}.pem") for name in ("ca", "cert", "key")}


def base() -> dict:
    return load_base(BASE)


# --------------------------------------------------------------------------------- rendering


def test_vendor_overlay_adds_exporter_queue_and_pipelines(tmp_path):
    overlay = render_overlay(base(), VendorOptions("https://api.example.test",
                                                   headers=(("x-api-key", "${env:VENDOR_KEY}"),)), None, tmp_path)
    config = overlay.config
    exporter = config["exporters"]["otlp_http/vendor"]
    assert exporter["headers"] == {"x-api-key": "${env:VENDOR_KEY}"}
    assert exporter["compression"] == "gzip" and exporter["tls"] == {"insecure_skip_verify": False}
    assert exporter["sending_queue"]["storage"] == "file_storage/vendor"
    assert config["extensions"]["file_storage/vendor"]["directory"] == str(tmp_path)
    assert config["service"]["extensions"] == ["health_check", "file_storage/vendor"]
    assert config["service"]["pipelines"]["traces/vendor"]["exporters"] == ["otlp_http/vendor"]
    assert config["service"]["pipelines"]["metrics/vendor"]["receivers"] == ["otlp"]
    assert overlay.env == {} and "&id" not in overlay.text  # no YAML anchors


def test_literal_header_values_move_to_the_environment(tmp_path):
    overlay = render_overlay(base(), VendorOptions("https://v.test", headers=(("x-api-key", "lit-secret-123"),)),
                             None, tmp_path)
    assert "lit-secret-123" not in overlay.text and "lit-secret-123" not in repr(overlay)
    assert overlay.config["exporters"]["otlp_http/vendor"]["headers"] == {"x-api-key": "${env:DDEX_VENDOR_HEADER_1}"}
    assert overlay.env == {"DDEX_VENDOR_HEADER_1": "lit-secret-123"}


def test_ingest_overlay_requires_token_and_tls_on_both_protocols(tls_files):
    ingest = IngestOptions(token_env="MY_TOKEN", tls_cert=tls_files["cert"], tls_key=tls_files["key"])
    config = render_overlay(base(), None, ingest).config
    assert config["extensions"]["bearertokenauth/ingest"] == {"token": "${env:MY_TOKEN}"}
    for protocol in ("grpc", "http"):
        settings = config["receivers"]["otlp"]["protocols"][protocol]
        assert settings["auth"] == {"authenticator": "bearertokenauth/ingest"}
        assert settings["tls"] == {"cert_file": tls_files["cert"], "key_file": tls_files["key"]}
    assert "exporters" not in config


@pytest.mark.parametrize("bad, message", [
    (lambda: parse_header("x-api-key"), "NAME=VALUE"),
    (lambda: parse_header("bad name=1"), "NAME=VALUE"),
    (lambda: VendorOptions("https://v.test", protocol="zipkin"), "vendor protocol"),
    (lambda: VendorOptions("https://v.test", cert_file="/x.pem"), "go together"),
    (lambda: VendorOptions("https://v.test", ca_file="/no/such/ca.pem"), "no such file"),
    (lambda: IngestOptions(token_env="not a name"), "NAME of the variable"),
    (lambda: IngestOptions(tls_cert="/x.pem"), "both a certificate and a key"),
    (lambda: render_overlay(base(), None, None), "nothing to render"),
])
def test_bad_options_are_clear_errors(bad, message):
    with pytest.raises(StackError, match=message):
        bad()


def test_malformed_options_never_echo_what_may_be_a_secret():
    for text in ("sk-live-abcdef123456", "bad name=sk-live-abcdef123456", "x-api-key="):
        with pytest.raises(StackError) as info:
            parse_header(text)
        assert "sk-live" not in str(info.value)
    with pytest.raises(StackError) as info:
        IngestOptions(token_env="sk-live-abcdef123456")
    assert "sk-" not in str(info.value)


def test_options_from_environment(monkeypatch, tls_files):
    monkeypatch.setenv("DDEX_VENDOR_ENDPOINT", "v.test:443")
    monkeypatch.setenv("DDEX_VENDOR_PROTOCOL", "grpc")
    monkeypatch.setenv("DDEX_VENDOR_HEADERS", "a=${env:A},b=${env:B}")
    monkeypatch.setenv("DDEX_VENDOR_CA_FILE", tls_files["ca"])
    vendor = VendorOptions.from_env()
    assert (vendor.endpoint, vendor.protocol, vendor.headers) == ("v.test:443", "grpc", (("a", "${env:A}"), ("b", "${env:B}")))
    monkeypatch.setenv("DDEX_INGEST_TOKEN_ENV", "TOK")
    assert IngestOptions.from_env().token_env == "TOK"


def test_overlay_command_prints_env_references_only():
    env = dict(os.environ)
    done = subprocess.run([str(CLI), "stack", "overlay", "--vendor-endpoint", "https://v.test",
                           "--vendor-header", "x-api-key=${env:KEY}", "--ingest-token-env", "TOK"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["exporters"]["otlp_http/vendor"]["headers"] == {"x-api-key": "${env:KEY}"}
    assert config["extensions"]["file_storage/vendor"]["directory"] == "/var/lib/otelcol/vendor-queue"
    literal = subprocess.run([str(CLI), "stack", "overlay", "--vendor-endpoint", "https://v.test",
                              "--vendor-header", "x-api-key=literal-key-1"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert literal.returncode == 1 and "literal-key-1" not in literal.stdout + literal.stderr
    assert "${env:VAR} references" in literal.stderr
    in_container = subprocess.run([str(CLI), "stack", "overlay", "--ingest-token-env", "TOK",
                                   "--tls-cert", "/etc/otelcol-contrib/tls/server.pem",
                                   "--tls-key", "/etc/otelcol-contrib/tls/server.key"],
                                  capture_output=True, text=True, timeout=60, env=env)
    assert in_container.returncode == 0, in_container.stderr
    grpc = yaml.safe_load(in_container.stdout)["receivers"]["otlp"]["protocols"]["grpc"]
    assert grpc["tls"]["cert_file"] == "/etc/otelcol-contrib/tls/server.pem"


# ------------------------------------------------------------------ validate with the collector


def _validate(otelcol: Path, *configs: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DDEX_")}
    clean.update(env or {})
    args = [str(otelcol), "validate"]
    for config in configs:
        args += ["--config", str(config)]
    return subprocess.run(args, env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("shape", ["vendor-http", "vendor-grpc-mtls", "ingest", "all"])
def test_rendered_overlays_validate(otelcol, tmp_path, tls_files, shape):
    vendor = ingest = None
    if shape in ("vendor-http", "all"):
        vendor = VendorOptions("https://api.example.test", headers=(("x-api-key", "${env:VENDOR_KEY}"),),
                               ca_file=tls_files["ca"])
    if shape == "vendor-grpc-mtls":
        vendor = VendorOptions("api.example.test:443", protocol="grpc", headers=(("x-api-key", "literal"),),
                               ca_file=tls_files["ca"], cert_file=tls_files["cert"], key_file=tls_files["key"])
    if shape in ("ingest", "all"):
        ingest = IngestOptions(token_env="INGEST_TOKEN", tls_cert=tls_files["cert"], tls_key=tls_files["key"])
    overlay = render_overlay(base(), vendor, ingest, tmp_path / "queue")
    path = overlay.write(tmp_path / "overlay.yaml")
    result = _validate(otelcol, BASE, path, env={"VENDOR_KEY": "k", "INGEST_TOKEN": "t" * 16, **overlay.env})
    assert result.returncode == 0, result.stderr


def test_validate_catches_a_broken_overlay(otelcol, tmp_path):
    overlay = render_overlay(base(), VendorOptions("https://v.test"), None, tmp_path / "q")
    overlay.config["exporters"]["otlp_http/vendor"]["retry_on_failure"]["max_elapsed_time"] = "soon"
    result = _validate(otelcol, BASE, overlay.write(tmp_path / "overlay.yaml"))
    assert result.returncode != 0 and "max_elapsed_time" in result.stderr


def _recipes() -> list[tuple[str, dict]]:
    blocks = re.findall(r"```yaml\n(# recipe: ([\w-]+)\n.*?)```", DOCS.read_text(), flags=re.S)
    return [(name, yaml.safe_load(text)) for text, name in blocks]


def test_docs_have_every_recipe():
    names = {name for name, _ in _recipes()}
    assert names == {"honeycomb", "grafana-cloud", "new-relic", "datadog", "elastic", "dynatrace", "splunk"}


@pytest.mark.parametrize("name, recipe", _recipes(), ids=[n for n, _ in _recipes()])
def test_recipe_validates_with_the_collector(otelcol, tmp_path, name, recipe):
    """The recipe's exporters, wired into vendor pipelines over the base config, pass `validate`."""
    exporters = list(recipe["exporters"])
    processors = base()["service"]["pipelines"]["traces"]["processors"]
    wired = {**recipe, "service": {"pipelines": {
        f"traces/{name}": {"receivers": ["otlp"], "processors": processors, "exporters": exporters},
        f"metrics/{name}": {"receivers": ["otlp"], "processors": processors, "exporters": exporters},
    }}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(wired))
    variables = set(re.findall(r"\$\{env:(\w+)\}", path.read_text()))
    env = {v: ("https://collector.example.test/otlp" if "ENDPOINT" in v or "URL" in v else "dummy") for v in variables}
    env.update({"SPLUNK_REALM": "us1", "DD_AGENT_HOST": "127.0.0.1",
                "ELASTIC_APM_SERVER_ENDPOINT": "apm.example.test:443"})
    result = _validate(otelcol, BASE, path, env=env)
    assert result.returncode == 0, f"{name}: {result.stderr}"


# -------------------------------------------------------------------------------- compose


def test_compose_override_matches_the_spec_and_mounts_the_overlay():
    schema = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())
    override = yaml.safe_load((REPO / "docker-compose.vendor.yml").read_text())
    jsonschema.Draft201909Validator(schema).validate(override)
    collector = override["services"]["otel-collector"]
    assert "--config=/etc/otelcol-contrib/overlay.yaml" in collector["command"]
    assert any(v.startswith("./otelcol-overlay.yaml:") for v in collector["volumes"])
    assert any(v.startswith("otelcol-queue:/var/lib/otelcol") for v in collector["volumes"])
