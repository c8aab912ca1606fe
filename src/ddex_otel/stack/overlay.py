"""Optional collector pipelines as a second config file: ship to a vendor APM, secure OTLP ingest.

assets/otelcol-config.yaml stays the one base config. When a vendor endpoint or ingest auth is
asked for, ``render_overlay`` writes a second file that the collector merges over it
(``--config base.yaml --config overlay.yaml``; maps merge, lists are replaced, so the overlay
restates ``service.extensions`` from the base plus its own):

* **vendor** (``VendorOptions``): an ``otlp_http/vendor`` (or ``otlp_grpc/vendor``) exporter with
  headers, TLS (CA, client certificate; ``insecure_skip_verify`` off), gzip, retries, and a
  ``sending_queue`` persisted by the ``file_storage/vendor`` extension, so a vendor outage plus
  a collector restart loses nothing; fed by new ``traces/vendor`` and ``metrics/vendor`` pipelines
  from the same OTLP receiver (the local Jaeger/Prometheus pipelines are unchanged).
* **ingest** (``IngestOptions``): the OTLP receiver requires ``Authorization: Bearer <token>``
  (``bearertokenauth/ingest``, token read from an environment variable) and/or serves TLS with
  a given certificate and key.

Secrets never enter the rendered file: header values are ``${env:NAME}`` references; a literal
value given on the command line is moved into the collector's environment
(``DDEX_VENDOR_HEADER_<n>``) and referenced the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import StackError

VENDOR_EXPORTERS = {"http": "otlp_http/vendor", "grpc": "otlp_grpc/vendor"}
QUEUE_STORAGE = "file_storage/vendor"
INGEST_AUTH = "bearertokenauth/ingest"
OVERLAY_FILE = "otelcol-overlay.yaml"
_ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

#: Environment variables read by ``VendorOptions.from_env`` / ``IngestOptions.from_env``
#: (``ddex-otel stack up`` flags override them).
VENDOR_ENV = {
    "endpoint": "DDEX_VENDOR_ENDPOINT",
    "protocol": "DDEX_VENDOR_PROTOCOL",
    "headers": "DDEX_VENDOR_HEADERS",
    "ca_file": "DDEX_VENDOR_CA_FILE",
    "cert_file": "DDEX_VENDOR_CERT_FILE",
    "key_file": "DDEX_VENDOR_KEY_FILE",
    "compression": "DDEX_VENDOR_COMPRESSION",
}
INGEST_ENV = {
    "token_env": "DDEX_INGEST_TOKEN_ENV",
    "tls_cert": "DDEX_INGEST_TLS_CERT",
    "tls_key": "DDEX_INGEST_TLS_KEY",
}


def parse_header(text: str) -> tuple[str, str]:
    """``"name=value"`` → (name, value); value may be ``${env:NAME}``."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not _HEADER_NAME.match(name) or not value.strip():
        # Never echo the text: a malformed header may be the key itself.
        shown = f"a header named {name!r}" if sep and _HEADER_NAME.match(name) else "a value without NAME="
        raise StackError(f"vendor header must be NAME=VALUE (e.g. 'x-api-key=${{env:API_KEY}}'), got {shown}")
    return name, value.strip()


def _file(path: str | None, what: str, check: bool = True) -> str | None:
    if path is None or not check:  # not checked: a path inside a container (docker compose)
        return path
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise StackError(f"{what}: no such file: {path}")
    return str(resolved)


@dataclass(frozen=True)
class VendorOptions:
    """Where and how the bundled collector ships to a vendor (see the module docstring)."""

    endpoint: str
    protocol: str = "http"
    headers: tuple[tuple[str, str], ...] = ()
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    compression: str = "gzip"
    max_elapsed_time: str = "1h"  # retry a failing batch this long (queued on disk meanwhile)
    check_files: bool = field(default=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in VENDOR_EXPORTERS:
            raise StackError(f"vendor protocol must be one of {', '.join(VENDOR_EXPORTERS)}, got {self.protocol!r}")
        if not re.match(r"^(https?://)?[^\s/]+(:\d+)?(/.*)?$", self.endpoint):
            raise StackError(f"vendor endpoint is not a URL: {self.endpoint!r}")
        if bool(self.cert_file) != bool(self.key_file):
            raise StackError("vendor client certificate and key go together (--vendor-cert and --vendor-key)")
        object.__setattr__(self, "ca_file", _file(self.ca_file, "vendor CA", self.check_files))
        object.__setattr__(self, "cert_file", _file(self.cert_file, "vendor client certificate", self.check_files))
        object.__setattr__(self, "key_file", _file(self.key_file, "vendor client key", self.check_files))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, check_files: bool = True) -> VendorOptions | None:
        env = os.environ if environ is None else environ
        endpoint = env.get(VENDOR_ENV["endpoint"], "").strip()
        if not endpoint:
            return None
        headers = tuple(parse_header(h) for h in env.get(VENDOR_ENV["headers"], "").split(",") if h.strip())
        return cls(
            endpoint=endpoint,
            protocol=env.get(VENDOR_ENV["protocol"], "").strip() or "http",
            headers=headers,
            ca_file=env.get(VENDOR_ENV["ca_file"]) or None,
            cert_file=env.get(VENDOR_ENV["cert_file"]) or None,
            key_file=env.get(VENDOR_ENV["key_file"]) or None,
            compression=env.get(VENDOR_ENV["compression"], "").strip() or "gzip",
            check_files=check_files,
        )


@dataclass(frozen=True)
class IngestOptions:
    """Auth and TLS on the bundled collector's OTLP receiver (for receivers beyond loopback)."""

    token_env: str | None = None  # name of the variable holding the bearer token, never the token
    tls_cert: str | None = None
    tls_key: str | None = None
    check_files: bool = field(default=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.token_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.token_env):
            raise StackError("--ingest-token-env takes the NAME of the variable holding the token, not the token")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise StackError("ingest TLS needs both a certificate and a key (--tls-cert and --tls-key)")
        object.__setattr__(self, "tls_cert", _file(self.tls_cert, "ingest TLS certificate", self.check_files))
        object.__setattr__(self, "tls_key", _file(self.tls_key, "ingest TLS key", self.check_files))

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    @property
    def enabled(self) -> bool:
        return bool(self.token_env or self.tls_cert)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, check_files: bool = True) -> IngestOptions | None:
        env = os.environ if environ is None else environ
        values = {key: env.get(name, "").strip() or None for key, name in INGEST_ENV.items()}
        options = cls(**values, check_files=check_files)
        return options if options.enabled else None

    def check_token(self, environ: Mapping[str, str] | None = None) -> None:
        """Fail clearly (without the value) if the token variable is unset or too short."""
        env = os.environ if environ is None else environ
        if self.token_env and len(env.get(self.token_env, "")) < 8:
            raise StackError(f"ingest token variable {self.token_env} is unset or shorter than 8 characters")


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated lists/maps in full (no YAML anchors): the file is read by people too."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class Overlay:
    """A rendered overlay: its YAML text and the variables the collector process needs."""

    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may hold secrets: never printed

    @property
    def text(self) -> str:
        header = ("# Rendered by ddex-otel (ddex_otel.stack.overlay): merged over otelcol-config.yaml with a\n"
                  "# second --config. Secrets are ${env:...} references, never values.\n")
        return header + yaml.dump(self.config, Dumper=_PlainDumper, sort_keys=False)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text)
        return path


def _header_refs(headers: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], dict[str, str]]:
    refs: dict[str, str] = {}
    env: dict[str, str] = {}
    for index, (name, value) in enumerate(headers, start=1):
        if _ENV_REF.match(value) or value.startswith("${env:") and value.endswith("}"):
            refs[name] = value
        elif "${env:" in value:  # "Bearer ${env:TOKEN}": a template around a reference
            refs[name] = value
        else:  # a literal: move it into the collector's environment
            var = f"DDEX_VENDOR_HEADER_{index}"
            env[var] = value
            refs[name] = f"${{env:{var}}}"
    return refs, env


def _vendor_exporter(vendor: VendorOptions, headers: dict[str, str]) -> dict[str, Any]:
    tls: dict[str, Any] = {"insecure_skip_verify": False}
    if vendor.endpoint.startswith("http://"):
        tls = {"insecure": True}
    if vendor.ca_file:
        tls["ca_file"] = vendor.ca_file
    if vendor.cert_file:
        tls["cert_file"], tls["key_file"] = vendor.cert_file, vendor.key_file
    exporter: dict[str, Any] = {"endpoint": vendor.endpoint}
    if headers:
        exporter["headers"] = headers
    exporter.update({
        "compression": vendor.compression,
        "tls": tls,
        "timeout": "10s",
        "retry_on_failure": {"enabled": True, "initial_interval": "1s", "max_interval": "10s",
                             "max_elapsed_time": vendor.max_elapsed_time},
        "sending_queue": {"enabled": True, "storage": QUEUE_STORAGE, "num_consumers": 2, "queue_size": 5000},
    })
    return exporter


def render_overlay(
    base: Mapping[str, Any],
    vendor: VendorOptions | None = None,
    ingest: IngestOptions | None = None,
    queue_dir: Path | str | None = None,
) -> Overlay:
    """The overlay for ``base`` (the parsed otelcol-config.yaml) with the given options."""
    if vendor is None and (ingest is None or not ingest.enabled):
        raise StackError("nothing to render: give a vendor endpoint or ingest auth/TLS")
    config: dict[str, Any] = {}
    env: dict[str, str] = {}
    extensions = list(base.get("service", {}).get("extensions", []))

    if vendor is not None:
        if queue_dir is None:
            raise StackError("the vendor pipeline needs a queue directory")
        headers, env = _header_refs(vendor.headers)
        exporter = VENDOR_EXPORTERS[vendor.protocol]
        processors = list(base["service"]["pipelines"]["traces"].get("processors", []))
        config["extensions"] = {QUEUE_STORAGE: {"directory": str(queue_dir), "create_directory": True,
                                                "timeout": "2s"}}
        config["exporters"] = {exporter: _vendor_exporter(vendor, headers)}
        config.setdefault("service", {})["pipelines"] = {
            "traces/vendor": {"receivers": ["otlp"], "processors": processors, "exporters": [exporter]},
            "metrics/vendor": {"receivers": ["otlp"], "processors": processors, "exporters": [exporter]},
        }
        extensions.append(QUEUE_STORAGE)

    if ingest is not None and ingest.enabled:
        protocol_settings: dict[str, Any] = {}
        if ingest.token_env:
            config.setdefault("extensions", {})[INGEST_AUTH] = {"token": f"${{env:{ingest.token_env}}}"}
            protocol_settings["auth"] = {"authenticator": INGEST_AUTH}
            extensions.append(INGEST_AUTH)
        if ingest.tls:
            protocol_settings["tls"] = {"cert_file": ingest.tls_cert, "key_file": ingest.tls_key}
        config["receivers"] = {"otlp": {"protocols": {"grpc": dict(protocol_settings), "http": dict(protocol_settings)}}}

    config.setdefault("service", {})["extensions"] = extensions
    return Overlay(config, env)


def load_base(path: Path) -> dict[str, Any]:
    """The parsed base collector config (``${env:...}`` left as text)."""
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StackError(f"cannot read the collector config {path}: {exc}") from exc
