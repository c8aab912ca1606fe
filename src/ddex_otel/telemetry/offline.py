"""Offline telemetry: OTLP JSON Lines files, replayable into any collector.

With no OTLP endpoint configured, ``configure()`` writes spans and metrics here with
``opentelemetry-exporter-otlp-json-file``: one ``ExportTraceServiceRequest`` /
``ExportMetricsServiceRequest`` as OTLP JSON per line — the format of the collector's
``otlpjsonfile`` receiver (``include: [telemetry/*.jsonl]``) and of its ``file`` exporter.
Each process writes its own pair of files, so concurrent runs never interleave lines.

OTLP JSON differs from protobuf's JSON mapping in one way: trace and span ids are hex, not
base64. ``read_requests`` converts them and decodes every line with the protobuf classes.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_OFFLINE_DIR = "DDEX_OTEL_OFFLINE_DIR"
DEFAULT_DIR = "telemetry"

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


@dataclass(frozen=True)
class OfflineFiles:
    """Where one process's offline telemetry goes."""

    directory: Path
    traces: Path
    metrics: Path


def offline_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$DDEX_OTEL_OFFLINE_DIR``, else ``./telemetry``."""
    return Path(explicit or os.environ.get(ENV_OFFLINE_DIR) or DEFAULT_DIR)


def plan_files(directory: str | os.PathLike[str] | None = None) -> OfflineFiles:
    """Create the directory and name this process's files (``traces-<time>-<pid>.jsonl``)."""
    folder = offline_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    suffix = f"{stamp}-{os.getpid()}.jsonl"
    return OfflineFiles(folder, folder / f"traces-{suffix}", folder / f"metrics-{suffix}")


def span_exporter(path: Path) -> Any:
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter

    return FileSpanExporter(path)


def metric_exporter(path: Path) -> Any:
    from opentelemetry.exporter.otlp.json.file import FileMetricExporter

    return FileMetricExporter(path)


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
    """One OTLP JSON line → its protobuf request (``ExportTraceServiceRequest`` or
    ``ExportMetricsServiceRequest``); needs opentelemetry-proto.

    Raises ``google.protobuf.json_format.ParseError`` for JSON that is not valid OTLP.
    """
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    data = json.loads(line)
    if "resourceSpans" in data:
        message: Any = ExportTraceServiceRequest()
    elif "resourceMetrics" in data:
        message = ExportMetricsServiceRequest()
    else:
        raise ValueError("an OTLP JSON line that is neither traces nor metrics")
    return json_format.ParseDict(_hex_ids_to_base64(data), message)


def read_requests(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Decode each line of an offline file (see ``decode_line``)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield decode_line(line)
