"""Per-operation and per-stage summary (count, p50, p95, max, CPU, memory) for the CLI.

``SummarySpanProcessor`` is an in-process span processor: it reads each ended operation span's
duration, ``ddex.resource.*`` and ``ddex.stage.<stage>.duration`` attributes as it ends, so the
table needs no exporter and no re-reading of files. It sees sampled spans only (like any
processor); durations are kept per row (one float each), which is fine for CLI-sized runs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from ddex_otel.telemetry import attributes as A

_OPERATION_SPANS = frozenset(A.SPAN_NAMES.values())
_STAGE_PREFIX = "ddex.stage."
_STAGE_SUFFIX = ".duration"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ascending ``sorted_values``: ``sorted_values[ceil(q/100·n) − 1]``
    (index clamped to 0 for q = 0), so always a measured value; nan if there are none.

    The one percentile of the package (the CLI summary, the PerformanceMonitor, batch and profile
    reports). ``q`` is in 0..100; anything else is a ValueError.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    n = len(sorted_values)
    if n == 0:
        return math.nan
    return sorted_values[max(0, math.ceil(q / 100 * n) - 1)]


@dataclass
class Row:
    """Samples of one operation (``parse``) or stage (``parse › read``)."""

    name: str
    durations: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: float = 0.0
    cpu_samples: int = 0
    memory_max: int | None = None

    @property
    def count(self) -> int:
        return len(self.durations)

    def stats(self) -> dict[str, Any]:
        ordered = sorted(self.durations)
        return {
            "name": self.name,
            "count": self.count,
            "errors": self.errors,
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "max": ordered[-1] if ordered else math.nan,
            "cpu": self.cpu if self.cpu_samples else None,
            "memory_max": self.memory_max,
        }


class SummarySpanProcessor(SpanProcessor):
    """Aggregates operation spans as they end (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Row] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.name not in _OPERATION_SPANS or span.end_time is None or span.start_time is None:
            return
        attrs = span.attributes or {}
        operation = str(attrs.get(A.OPERATION_NAME, span.name.removeprefix("ddex.")))
        duration = (span.end_time - span.start_time) / 1e9
        failed = span.status.status_code is StatusCode.ERROR
        stages = [
            (key[len(_STAGE_PREFIX):-len(_STAGE_SUFFIX)], value)
            for key, value in attrs.items()
            if key.startswith(_STAGE_PREFIX) and key.endswith(_STAGE_SUFFIX)
        ]
        with self._lock:
            row = self._row(operation)
            row.durations.append(duration)
            row.errors += failed
            cpu = attrs.get(A.RESOURCE_CPU_TIME)
            if isinstance(cpu, (int, float)):
                row.cpu += float(cpu)
                row.cpu_samples += 1
            memory = attrs.get(A.RESOURCE_MEMORY_DELTA)
            if isinstance(memory, int):
                row.memory_max = memory if row.memory_max is None else max(row.memory_max, memory)
            for stage, seconds in stages:
                if isinstance(seconds, (int, float)):
                    self._row(f"{operation} › {stage}").durations.append(float(seconds))

    def _row(self, name: str) -> Row:
        row = self._rows.get(name)
        if row is None:
            row = self._rows[name] = Row(name)
        return row

    def rows(self) -> list[dict[str, Any]]:
        """Stats per row: operations in first-seen order, each followed by its stages."""
        with self._lock:
            rows = list(self._rows.values())
        operations = [r for r in rows if " › " not in r.name]
        ordered: list[Row] = []
        for op in operations:
            ordered.append(op)
            ordered.extend(r for r in rows if r.name.startswith(f"{op.name} › "))
        return [r.stats() for r in ordered]

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _ms(seconds: float) -> str:
    return "—" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.2f}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def render(rows: Iterable[dict[str, Any]], title: str = "DDEX operations") -> Any:
    """A ``rich`` Table of ``SummarySpanProcessor.rows()``."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("operation", no_wrap=True)
    for column in ("count", "errors", "p50 ms", "p95 ms", "max ms", "CPU s", "max mem Δ"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        stage = " › " in row["name"]
        table.add_row(
            ("  " + row["name"].split(" › ", 1)[1]) if stage else f"[bold]{row['name']}[/bold]",
            str(row["count"]),
            "" if stage else str(row["errors"]),
            _ms(row["p50"]),
            _ms(row["p95"]),
            _ms(row["max"]),
            "" if row["cpu"] is None else f"{row['cpu']:.3f}",
            "" if stage else _bytes(row["memory_max"]),
        )
    return table
