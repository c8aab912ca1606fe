"""``Profiler``: profile a block of work — CPU %, memory, the DDEX operations inside, hotspots.

    prof = Profiler()
    with prof.profile("parse", file="x.xml") as p:
        message = ern.parse("x.xml")
    p.duration_s, p.cpu_percent_avg, p.memory_peak, p.operations[0]["trace_id"]
    prof.profile_parse("y.xml"); prof.summary(); prof.export_csv("profiles.csv")

While a profile runs, a background thread samples the process CPU % and RSS every
``sample_interval`` seconds (psutil, like the ``process.*`` gauges). ``cpu_percent_avg`` is exact
for any block length: process CPU seconds spent during the block (``time.process_time``, a
nanosecond clock; psutil's CPU times move in whole clock ticks) / its wall time (× 100, so it can exceed 100
with several busy threads). ``memory_peak`` is the highest RSS seen: the samples, the
readings at start and end, and the process's peak RSS (``ru_maxrss``) when that rose during the
block.

The DDEX operation spans (``ddex.parse`` …) that end inside the profile, on the profiling thread,
are captured through the same span feed as ``PerformanceMonitor`` (one measurement path), with
their stage durations and trace ids (so a slow profile leads to its trace in Jaeger). With no
SDK tracer provider installed the first profile installs a minimal one and instruments the engine
(see ``spanfeed``).

``hotspots=True`` (top 20) or ``hotspots=N`` also runs ``cProfile`` on the profiling thread and
keeps the top N functions by cumulative time — this slows the profiled code severalfold, so
durations of such profiles are not comparable with those without.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from ddex_otel.monitoring import spanfeed
from ddex_otel.outputs import atomic_write, write_text
from ddex_otel.telemetry.summary import percentile

_logger = logging.getLogger(__name__)

DEFAULT_HOTSPOTS = 20

#: Columns of ``export_csv``, in order.
CSV_COLUMNS = (
    "operation",
    "timestamp",
    "start",
    "duration",
    "cpu_percent",
    "cpu_percent_max",
    "memory_before",
    "memory_after",
    "memory_peak",
    "success",
    "error",
    "trace_id",
    "operations",
    "metadata",
)


@dataclass
class ProfileResult:
    """One profiled block; filled in when the block exits."""

    name: str
    start: float = 0.0  # epoch seconds
    duration_s: float = 0.0
    success: bool = True
    error: str | None = None
    cpu_percent_avg: float = 0.0
    cpu_percent_max: float = 0.0
    memory_before: int = 0  # RSS bytes
    memory_after: int = 0
    memory_peak: int = 0
    #: (seconds since start, process CPU % since the previous sample, RSS bytes), appended while
    #: the block runs
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    hotspots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def trace_ids(self) -> list[str]:
        """Trace ids of the captured operations, in order, without repeats."""
        seen: dict[str, None] = {}
        for op in self.operations:
            if op.get("trace_id"):
                seen[op["trace_id"]] = None
        return list(seen)

    @property
    def trace_id(self) -> str | None:
        """The first captured operation's trace id (None when none was captured)."""
        ids = self.trace_ids
        return ids[0] if ids else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["samples"] = [list(s) for s in self.samples]
        out["trace_id"] = self.trace_id
        return out

    def csv_row(self) -> dict[str, Any]:
        return {
            "operation": self.name,
            "timestamp": _dt.datetime.fromtimestamp(self.start, _dt.UTC).isoformat(),
            "start": f"{self.start:.6f}",
            "duration": repr(self.duration_s),
            "cpu_percent": repr(self.cpu_percent_avg),
            "cpu_percent_max": repr(self.cpu_percent_max),
            "memory_before": self.memory_before,
            "memory_after": self.memory_after,
            "memory_peak": self.memory_peak,
            "success": self.success,
            "error": self.error or "",
            "trace_id": " ".join(self.trace_ids),
            "operations": len(self.operations),
            "metadata": json.dumps(self.metadata, default=str, sort_keys=True),
        }


class _Sampler(threading.Thread):
    """Samples process CPU % and RSS every ``interval`` seconds until stopped."""

    def __init__(self, process: Any, interval: float, t0: float, samples: list[tuple[float, float, int]]) -> None:
        super().__init__(name="ddex-otel-profiler", daemon=True)
        self._process = process
        self._interval = interval
        self._t0 = t0
        self._stop_event = threading.Event()
        self.samples = samples  # the result's list: filled while the block runs

    def run(self) -> None:
        proc = self._process
        try:
            proc.cpu_percent(None)  # starts psutil's CPU % interval
            while not self._stop_event.wait(self._interval):
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss
                self.samples.append((time.perf_counter() - self._t0, cpu, int(rss)))
        except Exception:  # the profiled work must go on
            _logger.debug("profiler sampler failed", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5.0)


class Profiler:
    """Profiles blocks of work; keeps each ``ProfileResult`` in ``results`` (see module doc).

    ``results`` keeps every profile unless ``max_results`` is set (then the oldest are dropped);
    ``clear()`` empties it. ``tracer_provider``: the SDK provider whose spans to capture (the
    global one if None).
    """

    def __init__(
        self,
        sample_interval: float = 0.1,
        hotspots: bool | int = False,
        tracer_provider: Any = None,
        *,
        max_results: int | None = None,
    ) -> None:
        if sample_interval <= 0:
            raise ValueError("sample_interval must be positive")
        if max_results is not None and max_results < 1:
            raise ValueError("max_results must be at least 1 (or None: keep every result)")
        self.max_results = max_results
        self.sample_interval = sample_interval
        self.hotspots = hotspots
        self.results: list[ProfileResult] = []
        self._tracer_provider = tracer_provider
        self._subscription: spanfeed.Subscription | None = None
        self._lock = threading.Lock()
        self._active: dict[int, list[ProfileResult]] = {}  # thread id -> open profiles
        self._no_spans = False  # set when there is no SDK provider to read spans from

    # -- span capture ------------------------------------------------------------------------
    def attach(self, tracer_provider: Any = None) -> Profiler:
        """Subscribe to operation spans now (``profile`` does it on first use). Returns self."""
        with self._lock:
            if self._subscription is None:
                provider = tracer_provider if tracer_provider is not None else self._tracer_provider
                self._subscription = spanfeed.subscribe(self._on_span, provider)
        return self

    def _attach_quietly(self) -> None:
        """``attach()`` for ``profile``: without an SDK provider to read, profile without spans."""
        if self._subscription is not None or self._no_spans:
            return
        try:
            self.attach()
        except TypeError as exc:
            self._no_spans = True
            _logger.warning("profiling without DDEX operation spans: %s", exc)

    def close(self) -> None:
        """Stop capturing spans (and undo the instrumentation the subscription did)."""
        with self._lock:
            subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()

    detach = close

    def __enter__(self) -> Profiler:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _on_span(self, span: ReadableSpan) -> None:
        open_profiles = self._active.get(threading.get_ident())
        if not open_profiles:
            return
        described = spanfeed.describe_operation(span)
        for result in open_profiles:
            result.operations.append(described)

    # -- profiling ---------------------------------------------------------------------------
    @contextmanager
    def profile(self, name: str, hotspots: bool | int | None = None, **metadata: Any) -> Iterator[ProfileResult]:
        """Profile the ``with`` block as ``name``; the yielded ``ProfileResult`` is filled at exit.

        A failing block is recorded (``success=False``, ``error="Type: message"``) and re-raised.
        """
        self._attach_quietly()
        import psutil

        proc = psutil.Process()  # own objects: psutil keeps cpu_percent / oneshot state per object
        result = ProfileResult(name=name, metadata=dict(metadata))
        thread = threading.get_ident()
        top = _hotspot_count(self.hotspots if hotspots is None else hotspots)
        maxrss_before = _maxrss()
        result.memory_before = int(proc.memory_info().rss)
        cpu_before = time.process_time()
        result.start = time.time()
        t0 = time.perf_counter()
        sampler = _Sampler(psutil.Process(), self.sample_interval, t0, result.samples)
        sampler.start()
        cprofile = None
        try:
            with self._lock:
                self._active.setdefault(thread, []).append(result)
            cprofile = _start_cprofile() if top else None
            yield result
        except BaseException as exc:
            result.success = False
            result.error = f"{type(exc).__qualname__}: {exc}"[:1000]
            raise
        finally:
            if cprofile is not None:
                cprofile.disable()
            result.duration_s = time.perf_counter() - t0
            cpu_after = time.process_time()
            sampler.stop()
            # a sample the thread took between the block's end and its stop is not of the block
            result.samples[:] = [s for s in result.samples if s[0] <= result.duration_s]
            with self._lock:
                open_profiles = self._active.get(thread, [])
                if result in open_profiles:
                    open_profiles.remove(result)
                if not open_profiles:
                    self._active.pop(thread, None)
            result.memory_after = int(proc.memory_info().rss)
            wall = result.duration_s
            result.cpu_percent_avg = (cpu_after - cpu_before) / wall * 100 if wall > 0 else 0.0
            result.cpu_percent_max = max([result.cpu_percent_avg] + [s[1] for s in result.samples])
            peak = max([result.memory_before, result.memory_after] + [s[2] for s in result.samples])
            maxrss_after = _maxrss()
            if maxrss_after > maxrss_before:  # the process peak was set during this block
                peak = max(peak, maxrss_after)
            result.memory_peak = peak
            if cprofile is not None:
                result.hotspots = _top_functions(cprofile, top)
            with self._lock:
                self.results.append(result)
                if self.max_results is not None and len(self.results) > self.max_results:
                    del self.results[: len(self.results) - self.max_results]

    def profile_parse(self, source: Any, *, raise_errors: bool = True, **metadata: Any) -> ProfileResult:
        """Profile ``ern.parse(source)``. ``raise_errors=False`` returns a failed result instead of raising."""
        from ddex_otel import ern

        if isinstance(source, (str, os.PathLike)) and "file" not in metadata:
            metadata["file"] = str(source)
        return self._run("parse", lambda: ern.parse(source), raise_errors, metadata)

    def profile_build(
        self, message: Any, version: str | None = None, *, raise_errors: bool = True, **metadata: Any
    ) -> ProfileResult:
        """Profile ``ern.build(message, version)`` (the engine's default version when None)."""
        from ddex_otel import ern

        if version is not None:
            metadata.setdefault("version", version)
            return self._run("build", lambda: ern.build(message, version), raise_errors, metadata)
        return self._run("build", lambda: ern.build(message), raise_errors, metadata)

    def _run(self, name: str, call: Any, raise_errors: bool, metadata: dict[str, Any]) -> ProfileResult:
        result: ProfileResult | None = None
        try:
            with self.profile(name, **metadata) as result:
                call()
        except Exception:
            if raise_errors or result is None:
                raise
        assert result is not None
        return result

    # -- results -----------------------------------------------------------------------------
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per profile name: count, errors, avg/min/max/p95 duration (s), avg CPU %, avg and peak
        memory (bytes; of each profile's ``memory_peak``)."""
        groups: dict[str, list[ProfileResult]] = {}
        with self._lock:
            results = list(self.results)
        for r in results:
            groups.setdefault(r.name, []).append(r)
        out: dict[str, dict[str, Any]] = {}
        for name, rs in groups.items():
            durations = sorted(r.duration_s for r in rs)
            n = len(rs)
            out[name] = {
                "count": n,
                "errors": sum(1 for r in rs if not r.success),
                "avg_duration": math.fsum(durations) / n,
                "min_duration": durations[0],
                "max_duration": durations[-1],
                "p95_duration": percentile(durations, 95),
                "avg_cpu_percent": math.fsum(r.cpu_percent_avg for r in rs) / n,
                "avg_memory": math.fsum(r.memory_peak for r in rs) / n,
                "peak_memory": max(r.memory_peak for r in rs),
            }
        return out

    def clear(self) -> None:
        with self._lock:
            self.results.clear()

    def export_csv(self, path: str | os.PathLike[str]) -> Path:
        """One row per profile (columns: ``CSV_COLUMNS``; metadata as JSON, trace ids space-separated);
        written atomically."""
        target = Path(path)
        with self._lock:
            results = list(self.results)
        with atomic_write(target, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for r in results:
                writer.writerow(r.csv_row())
        return target

    def export_json(self, path: str | os.PathLike[str]) -> Path:
        """``{"profiles": [ProfileResult as dict, …], "summary": summary()}``; written atomically."""
        target = Path(path)
        with self._lock:
            results = list(self.results)
        doc = {"profiles": [r.to_dict() for r in results], "summary": self.summary()}
        write_text(target, json.dumps(doc, indent=2, default=str))
        return target


# ------------------------------------------------------------------------------------ helpers


def _maxrss() -> int:
    from ddex_otel.telemetry import resource_usage

    return resource_usage.sample()[1]


def _hotspot_count(hotspots: bool | int | None) -> int:
    if hotspots is True:
        return DEFAULT_HOTSPOTS
    if not hotspots:
        return 0
    return max(0, int(hotspots))


def _start_cprofile() -> Any:
    import cProfile

    profiler = cProfile.Profile()
    try:
        profiler.enable()
    except ValueError:  # another profiler (a debugger, coverage in some modes) is active
        _logger.warning("hotspots unavailable: another profiling tool is active")
        return None
    return profiler


def _top_functions(profiler: Any, top: int) -> list[dict[str, Any]]:
    """Top ``top`` functions by cumulative time: function, calls, cumulative_s, total_s."""
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, func), (_cc, calls, total, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{func}" if filename == "~" else f"{os.path.basename(filename)}:{line}({func})"
        rows.append({"function": where, "calls": calls, "cumulative_s": cumulative, "total_s": total})
    rows.sort(key=lambda r: r["cumulative_s"], reverse=True)
    return rows[:top]
