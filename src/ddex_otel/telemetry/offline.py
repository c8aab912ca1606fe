"""Offline telemetry: OTLP JSON Lines files, replayable into any collector.

With no OTLP endpoint configured, ``configure()`` writes spans, metrics and log records here with
``opentelemetry-exporter-otlp-json-file``: one ``ExportTraceServiceRequest`` /
``ExportMetricsServiceRequest`` / ``ExportLogsServiceRequest`` as OTLP JSON per line — the format of the collector's
``otlpjsonfile`` receiver (``include: [telemetry/*.jsonl]``) and of its ``file`` exporter.
Each process writes its own set of files (``traces-…``, ``metrics-…``, ``logs-…``), so concurrent runs never interleave lines; files rotate
at ``DDEX_OTEL_OFFLINE_MAX_BYTES`` (64 MiB) and the newest ``DDEX_OTEL_OFFLINE_KEEP_FILES`` (8)
per signal are kept; a full disk never leaves half a line (see ``RotatingLineFile``).

OTLP JSON differs from protobuf's JSON mapping in one way: trace and span ids are hex, not
base64. ``read_requests`` converts them and decodes every line with the protobuf classes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_OFFLINE_DIR = "DDEX_OTEL_OFFLINE_DIR"
ENV_MAX_BYTES = "DDEX_OTEL_OFFLINE_MAX_BYTES"
ENV_KEEP_FILES = "DDEX_OTEL_OFFLINE_KEEP_FILES"
DEFAULT_DIR = "telemetry"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # per file; ~50 000 spans
DEFAULT_KEEP_FILES = 8  # per signal in the directory: at most ~512 MiB of spans + the same of metrics

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})
_logger = logging.getLogger("ddex_otel.telemetry")


@dataclass(frozen=True)
class OfflineFiles:
    """Where one process's offline telemetry goes (first file of each signal; rotation adds ``.1``, ``.2``…)."""

    directory: Path
    traces: Path
    metrics: Path
    stamp: str = ""

    @property
    def logs(self) -> Path:
        """The log records' first file, beside the traces and metrics (same stamp and pid)."""
        return self.directory / self.traces.name.replace("traces-", "logs-", 1)


def offline_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$DDEX_OTEL_OFFLINE_DIR``, else ``./telemetry``."""
    return Path(explicit or os.environ.get(ENV_OFFLINE_DIR) or DEFAULT_DIR)


def fallback_dir() -> Path:
    """Where offline files go when the configured directory is not writable: a per-user temp dir."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"ddex-otel-{uid}" / DEFAULT_DIR


def _file_name(signal: str, stamp: str, pid: int, seq: int = 0) -> str:
    return f"{signal}-{stamp}-{pid}{f'.{seq}' if seq else ''}.jsonl"


def plan_files(directory: str | os.PathLike[str] | None = None) -> OfflineFiles:
    """Create the directory, check it is writable and name this process's files.

    Raises ``OSError`` when the directory cannot be created or written (``configure`` falls back).
    """
    folder = offline_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".ddex-otel-probe-{os.getpid()}"
    with open(probe, "w", encoding="utf-8"):
        pass
    probe.unlink()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    pid = os.getpid()
    return OfflineFiles(folder, folder / _file_name("traces", stamp, pid), folder / _file_name("metrics", stamp, pid),
                        stamp)


def parse_bytes(text: str) -> int:
    """``"64MB"`` → 64 000 000, ``"64MiB"`` → 2**26, ``"1000"`` → 1000."""
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
    raw = text.strip().upper().replace(" ", "")
    number = raw.rstrip("KMGIB")
    value = float(number) * units[raw[len(number):]]
    if value < 1:
        raise ValueError(text)
    return int(value)


def rotation_settings() -> tuple[int, int]:
    """(max bytes per file, files kept per signal) from the environment; bad values warn."""
    from ddex_otel.telemetry.envvars import env_int, warn_env

    max_bytes = DEFAULT_MAX_BYTES
    raw = os.environ.get(ENV_MAX_BYTES, "").strip()
    if raw:
        try:
            max_bytes = parse_bytes(raw)
        except (ValueError, KeyError):
            warn_env(ENV_MAX_BYTES, raw, "ignoring %s=%r: not a size like 64MiB; using %d bytes", ENV_MAX_BYTES, raw,
                     max_bytes)
    return max_bytes, env_int(ENV_KEEP_FILES, DEFAULT_KEEP_FILES, minimum=1)


class RotatingLineFile:
    """The text stream behind the OTLP JSON file exporters: whole lines, a size cap, retention.

    * every ``write`` is one complete line, appended with ``os.write``; if the disk fills (or a
      file-size limit hits) part-way, the file is truncated back, so no half line is ever left
      and the export fails (and is counted) instead;
    * when a file would pass ``max_bytes`` the next one starts (``….1.jsonl``, ``….2.jsonl``) and
      only the newest ``keep`` files of this signal stay in the directory;
    * after ``fork`` the child writes its own file (named by its pid), never the parent's.
    """

    def __init__(self, directory: Path, signal: str, stamp: str, max_bytes: int | None = None,
                 keep: int | None = None) -> None:
        env_max, env_keep = rotation_settings()
        self.directory, self.signal, self.stamp = Path(directory), signal, stamp
        self.max_bytes = max_bytes or env_max
        self.keep = keep or env_keep
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._seq = 0
        self._size = 0
        self.closed = False

    @property
    def path(self) -> Path:
        return self.directory / _file_name(self.signal, self.stamp, os.getpid(), self._seq)

    def _open(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        if self._pid != os.getpid():  # first use, or a forked child: its own files
            self._fd, self._pid, self._seq = None, os.getpid(), 0
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._fd, self._size = fd, os.fstat(fd).st_size
        return fd

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._seq += 1
        self._prune()

    def _prune(self) -> None:
        """Keep the newest ``keep`` files of this signal (any process's) in the directory."""
        try:
            files = sorted(self.directory.glob(f"{self.signal}-*.jsonl"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return
        for old in files[: max(0, len(files) - self.keep + 1)]:  # +1: room for the file about to open
            try:
                old.unlink()
            except OSError:
                pass

    def write(self, line: str) -> int:
        data = line.encode("utf-8")
        with self._lock:
            if self.closed:
                raise ValueError("write to a closed offline file")
            fd = self._open()
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
                fd = self._open()
            start = self._size
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError:
                try:
                    os.ftruncate(fd, start)  # never leave half a line behind
                except OSError:
                    pass
                raise
            self._size = start + len(data)
        return len(line)

    def flush(self) -> None:
        return None  # os.write is unbuffered

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def stream(path: Path, signal: str) -> RotatingLineFile:
    """The rotating line file behind ``signal``'s exporter, ``path`` its first file."""
    # path is this process's first file: <dir>/<signal>-<stamp>-<pid>.jsonl
    stamp = path.name[len(signal) + 1:].rsplit("-", 1)[0]
    return RotatingLineFile(path.parent, signal, stamp)


def span_exporter(path: Path) -> Any:
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter

    # Its type hint asks for an IO[str]; it only writes, flushes, closes and reads .closed.
    return FileSpanExporter(stream=stream(Path(path), "traces"))  # type: ignore[call-overload]


def metric_exporter(path: Path) -> Any:
    from opentelemetry.exporter.otlp.json.file import FileMetricExporter

    # Its type hint asks for an IO[str]; it only writes, flushes, closes and reads .closed.
    return FileMetricExporter(stream=stream(Path(path), "metrics"))  # type: ignore[call-overload]


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                out[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def decode_line(line: str) -> Any:
    """One OTLP JSON line → its protobuf request (``ExportTraceServiceRequest``,
    ``ExportMetricsServiceRequest`` or ``ExportLogsServiceRequest``); needs opentelemetry-proto.

    Raises ``google.protobuf.json_format.ParseError`` for JSON that is not valid OTLP.
    """
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    data = json.loads(line)
    if "resourceSpans" in data:
        message: Any = ExportTraceServiceRequest()
    elif "resourceMetrics" in data:
        message = ExportMetricsServiceRequest()
    elif "resourceLogs" in data:
        message = ExportLogsServiceRequest()
    else:
        raise ValueError("an OTLP JSON line that is neither traces, metrics nor logs")
    return json_format.ParseDict(_hex_ids_to_base64(data), message)


def read_requests(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Decode each line of an offline file (see ``decode_line``)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield decode_line(line)
