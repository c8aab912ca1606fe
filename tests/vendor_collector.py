"""A second real collector (our built binary) that plays a vendor APM in the tests.

OTLP gRPC and HTTP over TLS (CA and server certificate made with trustme), ``bearertokenauth`` on
both, HTTP accepting only gzip bodies (``compression_algorithms: [gzip]``: an uncompressed export
is rejected, so arriving proves gzip), and everything it accepts written as OTLP JSON lines by the
``file`` exporter, read back by ``spans()`` / ``metric_points()``.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme
import yaml

from ddex_otel.stack import process

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Certs:
    """A CA, a server certificate for 127.0.0.1/localhost, and a CA bundle that does NOT trust it."""

    dir: Path
    ca: trustme.CA = field(repr=False)

    @classmethod
    def make(cls, directory: Path) -> Certs:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        server.private_key_pem.write_to_path(str(directory / "server.key"))
        server.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
        client = ca.issue_cert("ddex-otel-client")  # for mTLS: trustme certificates allow client auth
        client.private_key_pem.write_to_path(str(directory / "client.key"))
        client.cert_chain_pems[0].write_to_path(str(directory / "client.pem"))
        other = trustme.CA()  # what REQUESTS_CA_BUNDLE points at: a different, unrelated CA
        other.cert_pem.write_to_path(str(directory / "other-ca.pem"))
        return cls(directory, ca)

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def other_ca_file(self) -> Path:
        return self.dir / "other-ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"


class VendorCollector:
    """Start/stop the fake vendor; ``token`` is what its bearertokenauth accepts."""

    def __init__(self, binary: Path, workdir: Path, certs: Certs, token: str, *, mtls: bool = False) -> None:
        self.binary, self.dir, self.certs, self.token, self.mtls = binary, workdir, certs, token, mtls
        self.grpc_port, self.http_port = free_port(), free_port()
        self.health_port, self.metrics_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self.config_path = workdir / "vendor-config.yaml"
        self.log = workdir / "vendor.log"

    @property
    def grpc_endpoint(self) -> str:
        return f"https://{HOST}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"https://{HOST}:{self.http_port}"

    def config(self) -> dict:
        tls = {"cert_file": str(self.certs.server_cert), "key_file": str(self.certs.server_key)}
        if self.mtls:  # clients must present a certificate signed by the test CA
            tls["client_ca_file"] = str(self.certs.ca_file)
        auth = {"authenticator": "bearertokenauth/vendor"}
        return {
            "extensions": {
                "health_check": {"endpoint": f"{HOST}:{self.health_port}"},
                "bearertokenauth/vendor": {"token": "${env:FAKE_VENDOR_TOKEN}"},
            },
            "receivers": {"otlp": {"protocols": {
                "grpc": {"endpoint": f"{HOST}:{self.grpc_port}", "tls": tls, "auth": auth},
                "http": {"endpoint": f"{HOST}:{self.http_port}", "tls": tls, "auth": auth,
                         "compression_algorithms": ["gzip"]},
            }}},
            "exporters": {
                "file/traces": {"path": str(self.dir / "traces.jsonl"), "append": True, "flush_interval": "100ms"},
                "file/metrics": {"path": str(self.dir / "metrics.jsonl"), "append": True, "flush_interval": "100ms"},
            },
            "service": {
                "extensions": ["health_check", "bearertokenauth/vendor"],
                "telemetry": {"metrics": {"level": "normal", "readers": [{"pull": {"exporter": {"prometheus": {
                    "host": HOST, "port": self.metrics_port}}}}]}},
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "exporters": ["file/traces"]},
                    "metrics": {"receivers": ["otlp"], "exporters": ["file/metrics"]},
                },
            },
        }

    def start(self, timeout: float = 30.0) -> VendorCollector:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config()))
        self.proc = process.spawn([str(self.binary), "--config", str(self.config_path)],
                                  {"FAKE_VENDOR_TOKEN": self.token}, self.log)
        process.wait_healthy("vendor collector", self.proc, f"http://{HOST}:{self.health_port}/", self.log, timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            process.stop_child(self.proc)
            self.proc = None

    # -- what arrived ------------------------------------------------------------------------
    def _lines(self, name: str) -> Iterator[dict]:
        path = self.dir / name
        if not path.is_file():
            return
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)

    def spans(self) -> list[dict]:
        """Every span received: {name, attributes: {k: v}, service}."""
        found = []
        for doc in self._lines("traces.jsonl"):
            for rs in doc.get("resourceSpans", []):
                service = _attrs(rs.get("resource", {}).get("attributes", [])).get("service.name")
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        found.append({"name": span["name"], "attributes": _attrs(span.get("attributes", [])),
                                      "service": service})
        return found

    def metric_names(self, service: str | None = None) -> set[str]:
        names = set()
        for doc in self._lines("metrics.jsonl"):
            for rm in doc.get("resourceMetrics", []):
                if service and _attrs(rm.get("resource", {}).get("attributes", [])).get("service.name") != service:
                    continue
                for sm in rm.get("scopeMetrics", []):
                    names.update(m["name"] for m in sm.get("metrics", []))
        return names

    def wait_spans(self, predicate, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            matching = [s for s in self.spans() if predicate(s)]
            if len(matching) >= count or time.monotonic() > deadline:
                return matching
            time.sleep(0.2)

    def own_metric(self, name: str, **labels: str) -> float:
        """Sum of the vendor collector's own metric ``name`` (Prometheus text) over matching series."""
        return scrape_sum(f"http://{HOST}:{self.metrics_port}/metrics", name, **labels)


def scrape_sum(url: str, name: str, **labels: str) -> float:
    """Sum of metric ``name`` in a Prometheus text page, over the series whose labels match."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})?\s+(\S+)", line)
        if not match:
            continue
        series = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(series.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def _attrs(items: list[dict]) -> dict:
    out = {}
    for item in items:
        value = item.get("value", {})
        out[item["key"]] = next(iter(value.values()), None) if value else None
    return out
