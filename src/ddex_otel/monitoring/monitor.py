"""``PerformanceMonitor``: in-process duration/error statistics of every DDEX operation.

    mon = PerformanceMonitor().attach()         # every ern.parse/stream/build/validate from now on
    ...
    mon.percentile("parse", 95), mon.error_rate("parse"), mon.aggregates(start=time.time() - 300)

One measurement path: ``attach()`` subscribes to the ended ``ddex.*`` operation spans of the SDK
``TracerProvider`` (see ``spanfeed``), so the monitor counts exactly what goes to Jaeger (sampled
spans): duration from the span's start/end, failure from its ERROR status, plus
``ddex.resource.memory.delta``, ``file.path`` and ``error.type``. With no SDK provider installed,
``attach()`` installs a minimal one without exporters and instruments the engine.
``record()`` and ``measure()`` add your own measurements under your own names.

Percentiles use the nearest-rank rule on the sorted durations: ``sorted[ceil(p/100·n) − 1]``
(``p = 0`` gives the minimum, ``p = 100`` the maximum).

Memory is bounded: at most ``max_per_name`` records per name (a ring buffer: the oldest is
dropped), records older than ``max_age`` seconds are dropped, and at most ``max_names`` names are
kept (records under further names are dropped). ``dropped`` counts what was dropped, by reason
(``"cap"``, ``"age"``, ``"names"``). A record is a small tuple (~150–300 bytes with its values),
so the defaults hold ≈ 3 MB per name at most.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from ddex_otel.monitoring import spanfeed
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import resource_usage
from ddex_otel.telemetry.summary import percentile

T = TypeVar("T")

_ERROR = StatusCode.ERROR
_attributes_of = spanfeed.attributes_of
_OP_NAME, _MEMORY, _FILE, _ERROR_TYPE = A.OPERATION_NAME, A.RESOURCE_MEMORY_DELTA, A.FILE_PATH, A.ERROR_TYPE


class Record(NamedTuple):
    """One measurement: ``time`` is when it ended (epoch seconds)."""

    time: float
    duration_s: float
    success: bool
    memory_delta: int | None
    metadata: dict[str, Any] | None


class Measurement:
    """What ``measure(name)`` returns: times the ``with`` block and records it on exit.

    Add metadata while the block runs with ``m.metadata["key"] = value``; after the block
    ``m.duration_s`` and ``m.success`` hold what was recorded. A failing block is recorded with
    ``success=False`` and ``error.type`` in its metadata, and the exception propagates.
    """

    __slots__ = ("_monitor", "name", "metadata", "duration_s", "success", "_t0", "_rss0")

    def __init__(self, monitor: PerformanceMonitor, name: str, metadata: dict[str, Any]) -> None:
        self._monitor = monitor
        self.name = name
        self.metadata = metadata
        self.duration_s: float | None = None
        self.success: bool | None = None

    def __enter__(self) -> Measurement:
        self._rss0 = resource_usage.sample()[1]
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.duration_s = time.perf_counter() - self._t0
        memory = max(0, resource_usage.sample()[1] - self._rss0)
        self.success = exc_type is None
        if exc_type is not None:
            self.metadata.setdefault(_ERROR_TYPE, exc_type.__qualname__)
        self._monitor.record(self.name, self.duration_s, self.success, memory, **self.metadata)


class PerformanceMonitor:
    """Thread-safe, bounded per-name statistics of operation durations and failures.

    ``clock`` (default ``time.time``) stamps ``record()``/``measure()`` records and decides what
    has expired; operation spans are stamped with their own end time.
    """

    def __init__(
        self,
        max_per_name: int = 10_000,
        max_age: float | None = 3600.0,
        *,
        max_names: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_per_name < 1:
            raise ValueError("max_per_name must be at least 1")
        if max_age is not None and max_age <= 0:
            raise ValueError("max_age must be positive (or None for no age limit)")
        self.max_per_name = max_per_name
        self.max_age = max_age
        self.max_names = max_names
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[str, deque[tuple[Any, ...]]] = {}  # plain tuples (see _append)
        self._dropped = {"cap": 0, "age": 0, "names": 0}
        self._subscription: spanfeed.Subscription | None = None
        self._process: Any = None

    # -- attaching to the spans ---------------------------------------------------------------
    def attach(self, tracer_provider: Any = None) -> PerformanceMonitor:
        """Record every ended DDEX operation span of ``tracer_provider`` (the global SDK provider
        if None; installed, without exporters, when there is none; the engine is instrumented
        if nothing instrumented it). Idempotent; returns self."""
        if self._subscription is None:
            self._subscription = spanfeed.subscribe(self._on_span, tracer_provider)
        return self

    def detach(self) -> None:
        """Stop recording spans (and undo the instrumentation ``attach`` did). Records stay."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()

    @property
    def attached(self) -> bool:
        return self._subscription is not None

    def __enter__(self) -> PerformanceMonitor:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def _on_span(self, span: ReadableSpan) -> None:
        """Hot path (runs as each operation span ends): build one plain tuple, append it."""
        get = _attributes_of(span).get
        end = span.end_time or 0
        file_path = get(_FILE)
        error_type = get(_ERROR_TYPE)
        metadata: tuple[tuple[str, Any], ...] | None
        if error_type is None:
            metadata = None if file_path is None else ((_FILE, file_path),)
        elif file_path is None:
            metadata = ((_ERROR_TYPE, error_type),)
        else:
            metadata = ((_FILE, file_path), (_ERROR_TYPE, error_type))
        self._append(
            get(_OP_NAME) or span.name[5:],  # "ddex.parse" -> "parse"
            (
                end / 1e9,
                (end - (span.start_time or end)) / 1e9,
                span.status.status_code is not _ERROR,
                get(_MEMORY),
                metadata,
            ),
        )

    # -- recording -----------------------------------------------------------------------------
    def record(
        self, name: str, duration_s: float, success: bool = True, memory_delta: int | None = None, **metadata: Any
    ) -> None:
        """Add one measurement of ``name`` (``duration_s`` seconds) ending now."""
        self._append(
            name,
            (self._clock(), float(duration_s), bool(success), memory_delta, tuple(metadata.items()) or None),
        )

    def measure(self, name: str, fn: Callable[..., T] | None = None, /, *args: Any, **metadata: Any) -> Any:
        """Time a block or a call under ``name``.

        ``with mon.measure("enrich", batch="b1"): ...`` — no callable: a context manager
        (``Measurement``), keyword arguments are the record's metadata.
        ``mon.measure("enrich", fn, a, b)`` — calls ``fn(a, b)``, records it, returns its result
        (keyword arguments are metadata, not passed to ``fn``: use ``functools.partial``).
        Failures are recorded with ``success=False`` and re-raised.
        """
        if fn is None:
            return Measurement(self, name, metadata)
        if not callable(fn):
            raise TypeError(f"measure() expects a callable or nothing, got {type(fn).__name__}")
        with Measurement(self, name, metadata):
            return fn(*args)

    def _append(self, name: str, record: tuple[Any, ...]) -> None:
        """Store one record: a plain tuple in ``Record`` field order, metadata as a tuple of
        (key, value) pairs. Tuples of atomic values are cheap to build and, unlike dicts, are
        untracked by the garbage collector, so 10 000s of stored records do not slow its passes."""
        horizon = record[0] - self.max_age if self.max_age is not None else None
        with self._lock:
            series = self._series.get(name)
            if series is None:
                if len(self._series) >= self.max_names:
                    self._dropped["names"] += 1
                    return
                series = self._series[name] = deque()
            if len(series) >= self.max_per_name:
                series.popleft()
                self._dropped["cap"] += 1
            series.append(record)
            if horizon is not None:
                while series[0][0] < horizon:
                    series.popleft()
                    self._dropped["age"] += 1

    # -- housekeeping --------------------------------------------------------------------------
    def _expire(self, now: float) -> None:
        """Drop records older than ``max_age`` (caller holds the lock)."""
        if self.max_age is None:
            return
        horizon = now - self.max_age
        for series in self._series.values():
            while series and series[0][0] < horizon:
                series.popleft()
                self._dropped["age"] += 1

    @property
    def dropped(self) -> dict[str, int]:
        """Records dropped so far, by reason: ``cap`` (ring buffer full), ``age`` (older than
        ``max_age``), ``names`` (more than ``max_names`` names)."""
        with self._lock:
            self._expire(self._clock())
            return dict(self._dropped)

    def clear(self) -> None:
        """Forget every record (the drop counters stay)."""
        with self._lock:
            self._series.clear()

    def names(self) -> list[str]:
        """Names with records (after expiry), sorted."""
        with self._lock:
            self._expire(self._clock())
            return sorted(name for name, series in self._series.items() if series)

    def records(self, name: str, start: float | None = None, end: float | None = None) -> list[Record]:
        """Records of ``name`` with ``start <= time <= end`` (either bound optional), oldest first."""
        return [Record(t, d, ok, mem, dict(meta) if meta else None) for t, d, ok, mem, meta in self._raw(name, start, end)]

    def _raw(self, name: str, start: float | None, end: float | None) -> list[tuple[Any, ...]]:
        """Like ``records`` but the stored tuples themselves (no Record objects built)."""
        with self._lock:
            self._expire(self._clock())
            series = self._series.get(name)
            if not series:
                return []
            if start is None and end is None:
                return list(series)
            lo = -math.inf if start is None else start
            hi = math.inf if end is None else end
            return [r for r in series if lo <= r[0] <= hi]

    def _durations(self, name: str, start: float | None, end: float | None) -> list[float]:
        return [r[1] for r in self._raw(name, start, end)]

    # -- queries -------------------------------------------------------------------------------
    def count(self, name: str, start: float | None = None, end: float | None = None) -> int:
        return len(self._raw(name, start, end))

    def error_rate(self, name: str, start: float | None = None, end: float | None = None) -> float:
        """Failed / all records in range (0..1; 0.0 when there are none)."""
        records = self._raw(name, start, end)
        return sum(1 for r in records if not r[2]) / len(records) if records else 0.0

    def mean(self, name: str, start: float | None = None, end: float | None = None) -> float:
        values = self._durations(name, start, end)
        return math.fsum(values) / len(values) if values else math.nan

    def min(self, name: str, start: float | None = None, end: float | None = None) -> float:
        values = self._durations(name, start, end)
        return min(values) if values else math.nan

    def max(self, name: str, start: float | None = None, end: float | None = None) -> float:
        values = self._durations(name, start, end)
        return max(values) if values else math.nan

    def percentile(self, name: str, p: float, start: float | None = None, end: float | None = None) -> float:
        """Nearest rank: ``sorted[ceil(p/100·n) − 1]`` of the durations in range (nan if none)."""
        return percentile(sorted(self._durations(name, start, end)), p)

    def stats(self, name: str, start: float | None = None, end: float | None = None) -> dict[str, Any]:
        """count, errors, error_rate, mean, min, max, p50, p95, p99 of ``name`` in one pass."""
        records = self._raw(name, start, end)
        values = sorted(r[1] for r in records)
        errors = sum(1 for r in records if not r[2])
        n = len(values)
        return {
            "count": n,
            "errors": errors,
            "error_rate": errors / n if n else 0.0,
            "mean": math.fsum(values) / n if n else math.nan,
            "min": values[0] if n else math.nan,
            "max": values[-1] if n else math.nan,
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
        }

    def aggregates(self, start: float | None = None, end: float | None = None) -> dict[str, float]:
        """Flat metrics for alert thresholds, per name with records in range:
        ``<name>.duration`` (p95, s), ``<name>.duration.mean`` (s), ``<name>.count``,
        ``<name>.error_rate``; and ``error.rate`` (all names, 0..1) and ``memory.usage``
        (current process RSS, MB = 10⁶ bytes)."""
        out: dict[str, float] = {}
        total = errors = 0
        for name in self.names():
            s = self.stats(name, start, end)
            if not s["count"]:
                continue
            out[f"{name}.duration"] = s["p95"]
            out[f"{name}.duration.mean"] = s["mean"]
            out[f"{name}.count"] = float(s["count"])
            out[f"{name}.error_rate"] = s["error_rate"]
            total += s["count"]
            errors += s["errors"]
        out["error.rate"] = errors / total if total else 0.0
        out["memory.usage"] = self._rss() / 1e6
        return out

    def _rss(self) -> int:
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        return int(self._process.memory_info().rss)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        with self._lock:
            sizes = {name: len(series) for name, series in self._series.items()}
        return f"PerformanceMonitor(records={sizes}, attached={self.attached})"
