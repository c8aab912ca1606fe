"""Resource usage: cheap per-operation CPU/memory samples and the process gauges.

Per operation (on the hot path, when resource usage is on), at the start and at the end:
``time.thread_time()`` for the calling thread's CPU time and ``getrusage(RUSAGE_THREAD).ru_maxrss``
for the process's peak RSS, whose growth is the operation's memory delta. Both are system calls
(``psutil.Process().memory_info()`` costs far more, reading ``/proc/self/statm`` gives the
current RSS, which is noisy and can go negative). ``getrusage``'s own
CPU fields are not used: for a running thread Linux updates them only at scheduler ticks, so an
operation shorter than a tick reads as zero or a whole tick; ``clock_gettime(CLOCK_THREAD_CPUTIME_ID)`` is exact.
``tracemalloc`` would slow every allocation in the process, so it is never turned on here.

Process gauges (collected only when a metric reader asks) reuse
``opentelemetry-instrumentation-system-metrics`` for the names it already emits with the
current semantic conventions and add the two it gets wrong (see ``ProcessMetrics``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable
from time import thread_time
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.version import __version__

_logger = logging.getLogger(__name__)

try:
    import resource as _resource

    _RUSAGE_SELF = _resource.RUSAGE_SELF
    #: ``who`` for reading the peak RSS: ``RUSAGE_THREAD`` where it exists (Linux). Its ru_maxrss is
    #: the same process-wide peak (the kernel reads the address space's high-water mark for both),
    #: but the call skips summing every thread's CPU times, which RUSAGE_SELF does on every call.
    RUSAGE_PEAK = getattr(_resource, "RUSAGE_THREAD", _RUSAGE_SELF)
    getrusage = _resource.getrusage
    #: ru_maxrss is KiB on Linux, bytes on macOS.
    MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
except ImportError:  # pragma: no cover - Windows
    _resource = None  # type: ignore[assignment]
    RUSAGE_PEAK = 0
    MAXRSS_UNIT = 0  # every reading is 0: no memory figure

    class _NoRusage:
        ru_maxrss = 0

    def getrusage(who: int) -> Any:
        return _NoRusage


def peak_rss() -> int:
    """The process's peak resident set size in bytes (``getrusage().ru_maxrss``; 0 where unknown)."""
    return getrusage(RUSAGE_PEAK).ru_maxrss * MAXRSS_UNIT


def sample() -> tuple[float, int]:
    """(calling thread's CPU seconds, process peak RSS bytes); subtract two samples for one operation."""
    return thread_time(), getrusage(RUSAGE_PEAK).ru_maxrss * MAXRSS_UNIT


# -------------------------------------------------------------------------------- process gauges

#: What system-metrics emits correctly (names, units, attributes of the current conventions).
SYSTEM_METRICS_CONFIG: dict[str, list[str] | None] = {
    "process.cpu.utilization": None,
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "cpython.gc.collections": None,
}

#: Names ProcessMetrics writes itself (system-metrics gets their labels or units wrong).
OWN_PROCESS_METRICS = ("process.cpu.time", "process.unix.file_descriptor.count", "process.thread.count")

#: True once system-metrics was started with SYSTEM_METRICS_CONFIG in this process (by us).
_system_metrics_ours = False


def start_system_metrics(meter_provider: MeterProvider | None = None) -> bool:
    """Start system-metrics with our config unless it already runs; True if this call started it."""
    global _system_metrics_ours
    try:
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    except ImportError:  # pragma: no cover - it is a declared dependency
        _logger.debug("opentelemetry-instrumentation-system-metrics not installed")
        return False
    if _system_metrics_running(SystemMetricsInstrumentor):
        # Constructing it again would re-run __init__ and swap the running one's config.
        _logger.debug("system metrics already instrumented; not restarting them")
        return False
    instrumentor = SystemMetricsInstrumentor(config=dict(SYSTEM_METRICS_CONFIG))
    kwargs: dict[str, Any] = {}
    if meter_provider is not None:
        kwargs["meter_provider"] = meter_provider
    instrumentor.instrument(**kwargs)
    _system_metrics_ours = True
    return True


def _system_metrics_running(instrumentor_class: Any) -> bool:
    """Whether the process-wide system-metrics instrumentor runs, without constructing it again.

    ``BaseInstrumentor`` is a singleton through ``__new__``; calling ``__new__`` alone returns the
    one instance without re-running ``__init__`` (which would replace a running one's config).
    """
    return bool(instrumentor_class.__new__(instrumentor_class).is_instrumented_by_opentelemetry)


#: Names of OWN_PROCESS_METRICS' kind that system-metrics emits with its default configuration
#: (what ``opentelemetry-instrument`` starts it with), less OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS.
_SYSTEM_METRICS_DEFAULT_PROCESS_NAMES = ("process.cpu.time", "process.thread.count",
                                         "process.open_file_descriptor.count")


def names_already_emitted() -> set[str]:
    """Process metric names a system-metrics started by someone else (with its defaults) emits."""
    if _system_metrics_ours:
        return set()
    try:
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    except ImportError:  # pragma: no cover
        return set()
    if not _system_metrics_running(SystemMetricsInstrumentor):
        return set()
    import fnmatch

    excluded = [p.strip() for p in os.environ.get("OTEL_PYTHON_SYSTEM_METRICS_EXCLUDED_METRICS", "").split(",")
                if p.strip()]
    return {name for name in _SYSTEM_METRICS_DEFAULT_PROCESS_NAMES
            if not any(fnmatch.fnmatch(name, pattern) for pattern in excluded)}


class ProcessMetrics:
    """Observable process gauges with current semantic-convention names.

    From ``SystemMetricsInstrumentor`` (v0.66b2): ``process.cpu.utilization``,
    ``process.memory.usage``, ``process.memory.virtual``, ``process.thread.count`` and
    ``cpython.gc.collections`` (with ``cpython.gc.generation``).
    Written here, under the ``ddex_otel`` scope, because system-metrics gets them wrong:
    ``process.cpu.time`` (it labels the mode ``type``; the convention is ``cpu.mode``) and
    ``process.unix.file_descriptor.count`` (it still emits the deprecated
    ``process.open_file_descriptor.count``).

    ``SystemMetricsInstrumentor`` is a process-wide singleton: when something else (e.g.
    ``opentelemetry-instrument``) already started it, its metrics are already flowing and only the
    two gauges above are added.
    """

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        import psutil  # only the gauges need it; the per-operation samples do not

        self._meter_provider = meter_provider
        self._proc = psutil.Process(os.getpid())
        self._lock = threading.Lock()
        self._started_system_metrics = False
        self._started = False

    def start(self) -> None:
        """Register the gauges (idempotent); never a second instrument for a name already emitted."""
        if self._started:
            return
        self._started = True
        self._started_system_metrics = start_system_metrics(self._meter_provider)
        taken = names_already_emitted()
        if taken & set(OWN_PROCESS_METRICS):
            _logger.info(
                "system-metrics already emits %s (started by someone else, e.g. opentelemetry-instrument); "
                "not emitting them twice", ", ".join(sorted(taken & set(OWN_PROCESS_METRICS))))
        meter = get_meter(A.SCOPE_NAME, __version__, self._meter_provider, schema_url=A.SCHEMA_URL)
        if "process.cpu.time" not in taken:
            meter.create_observable_counter(
                "process.cpu.time",
                callbacks=[self._observe_cpu_time],
                unit="s",
                description="Total CPU seconds broken down by different CPU modes.",
            )
        if "process.thread.count" not in taken:
            meter.create_observable_up_down_counter(
                "process.thread.count",
                callbacks=[self._observe_threads],
                unit="{thread}",
                description="Process threads count.",
            )
        if sys.platform != "win32" and not taken & {"process.unix.file_descriptor.count",
                                                     "process.open_file_descriptor.count"}:
            meter.create_observable_up_down_counter(
                "process.unix.file_descriptor.count",
                callbacks=[self._observe_fds],
                unit="{file_descriptor}",
                description="Number of unix file descriptors in use by the process.",
            )

    def after_fork(self) -> None:
        """In a forked child the gauges describe the child."""
        import psutil

        self._lock = threading.Lock()
        self._proc = psutil.Process(os.getpid())

    def _observe_threads(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(self._proc.num_threads())]

    def stop(self) -> None:
        """Stop system-metrics if this object started it (the observable gauges die with the provider)."""
        global _system_metrics_ours
        if self._started_system_metrics:
            from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

            SystemMetricsInstrumentor.__new__(SystemMetricsInstrumentor).uninstrument()  # no re-init
            self._started_system_metrics = False
            _system_metrics_ours = False

    def _observe_cpu_time(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            times = self._proc.cpu_times()
        return [
            Observation(times.user, {"cpu.mode": "user"}),
            Observation(times.system, {"cpu.mode": "system"}),
        ]

    def _observe_fds(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(self._proc.num_fds())]
