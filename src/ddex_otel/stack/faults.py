"""Real endpoints for delivery tests and the delivery benchmark, all on 127.0.0.1.

* ``CollectorOnly``: our collector build alone (OTLP in, ``debug`` out) on free ports, with its
  internal metrics endpoint, so ``accepted_spans()`` reads what the collector itself counted
  (``otelcol_receiver_accepted_spans``). ``kill()`` (SIGKILL) and ``start()`` again on the same
  ports simulate an outage.
* ``BlackHole``: a TCP server that accepts connections and never answers.
* ``Http503``: an HTTP server that answers every request with 503.
* ``refused_endpoint()``: a URL where nothing listens.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import paths, process
from .errors import StackError
from .ports import HOST

_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {host}:{grpc}
      http:
        endpoint: {host}:{http}
exporters:
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: {host}:{health}
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: warn
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: {host}
                port: {metrics}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      exporters: [debug]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def refused_endpoint() -> str:
    """An http URL on a port nothing listens on (connections are refused)."""
    return f"http://{HOST}:{free_port()}"


class CollectorOnly:
    """ddex-otelcol with a minimal OTLP → debug config; restartable on the same ports."""

    def __init__(self, run_dir: Path, bin_dir: Path | None = None, timeout: float = 30.0) -> None:
        self.run_dir = Path(run_dir)
        self.binary = paths.find_binary("ddex-otelcol", bin_dir)
        self.timeout = timeout
        self.ports = {name: free_port() for name in ("grpc", "http", "health", "metrics")}
        self.config = self.run_dir / "collector-only.yaml"
        self.log = self.run_dir / "collector-only.log"
        self._proc: subprocess.Popen | None = None
        self._accepted_before_restart = 0

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['grpc']}"

    @property
    def http_endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['http']}"

    def start(self) -> CollectorOnly:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(_CONFIG.format(host=HOST, **self.ports))
        self._proc = process.spawn([str(self.binary), "--config", str(self.config)], {}, self.log)
        process.wait_healthy("collector", self._proc, f"http://{HOST}:{self.ports['health']}/", self.log,
                             self.timeout)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would; the counts so far are kept for ``accepted_spans``."""
        if self._proc is not None and self._proc.poll() is None:
            self._accepted_before_restart += self._read_accepted()
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            process.stop_child(self._proc)
            self._proc = None

    def _read_accepted(self) -> int:
        url = f"http://{HOST}:{self.ports['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if re.match(r"otelcol_receiver_accepted_spans(_total)?\{", line):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def accepted_spans(self) -> int:
        """Spans the collector's receiver accepted, summed over transports and restarts."""
        if self._proc is None:
            raise StackError("collector-only instance is not running")
        return self._accepted_before_restart + self._read_accepted()

    def __enter__(self) -> CollectorOnly:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BlackHole:
    """Accepts TCP connections and never reads or answers (a hung collector or a firewall)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind((HOST, 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._conns.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._conns:
            conn.close()
        self._sock.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Answer503(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server API
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.requests += 1  # type: ignore[attr-defined]
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


class Http503:
    """An HTTP server answering 503 Service Unavailable to every POST."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer((HOST, 0), _Answer503)
        self._server.daemon_threads = True
        self._server.requests = 0  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> int:
        return self._server.requests  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Http503:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
