"""The contract's instruments, created once per meter with explicit bucket boundaries.

The SDK's default histogram buckets (0, 5, 10, … 10000) are sized for milliseconds; ours are in
seconds and bytes, so the boundaries go in as ``explicit_bucket_boundaries_advisory``: a view
configured by the application still wins over them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from ddex_otel.telemetry import attributes as A

#: Seconds: 0.5 ms … 2 min, roughly ×2–2.5 per step (an ERN parse is ~1 ms … minutes).
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)
#: Stage durations are shorter: start lower.
STAGE_BUCKETS: tuple[float, ...] = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)
#: CPU seconds of one operation.
CPU_BUCKETS: tuple[float, ...] = DURATION_BUCKETS
#: Bytes: 1 KiB … 1 GiB in ×4 steps (messages from a few KB to multi-GB streams).
SIZE_BUCKETS: tuple[float, ...] = tuple(float(1024 * 4**i) for i in range(11))
#: Memory growth: 0 is the common case, then 64 KiB … 1 GiB.
MEMORY_BUCKETS: tuple[float, ...] = (0.0,) + tuple(float(65536 * 4**i) for i in range(8))


class _ObservedTotals:
    """Per-attribute-set running totals behind an observable instrument.

    ``ddex.operations.active`` (up-down counter) and ``ddex.releases.processed`` (counter) are
    observable: the hot path only updates a dict under a lock (~0.5 µs), the SDK reads the totals
    when a reader collects. A synchronous ``add`` costs ~10 µs per call with the SDK (attribute
    cleaning, hashing, exemplar reservoir) and these two would take three calls per operation.
    The price: no exemplars on these two (the histograms carry them).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[tuple[str, str], ...], int] = {}
        self._attrs: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    def add(self, attrs: dict[str, str], amount: int) -> None:
        key = tuple(attrs.items())
        with self._lock:
            total = self._totals.get(key)
            if total is None:
                self._attrs[key] = dict(attrs)
                total = 0
            self._totals[key] = total + amount

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._totals.items())
        return [Observation(value, self._attrs[key]) for key, value in items]


class ActiveOperations(_ObservedTotals):
    """Operations in progress per ``ddex.operation.name`` (``ddex.operations.active``)."""

    def enter(self, attrs: dict[str, str]) -> None:
        self.add(attrs, 1)

    def leave(self, attrs: dict[str, str]) -> None:
        self.add(attrs, -1)


class ReleaseTotals(_ObservedTotals):
    """Releases read or written per operation and version (``ddex.releases.processed``)."""


@dataclass
class Instruments:
    """The synchronous instruments plus the active-operations state behind the observable one."""

    operation_duration: Histogram
    stage_duration: Histogram
    message_size: Histogram
    cpu_time: Histogram
    memory_delta: Histogram
    active: ActiveOperations
    releases: ReleaseTotals

    @classmethod
    def create(cls, meter: Meter) -> "Instruments":
        active = ActiveOperations()
        meter.create_observable_up_down_counter(
            A.METRIC_OPERATIONS_ACTIVE,
            callbacks=[active.observe],
            unit="{operation}",
            description="DDEX operations in progress.",
        )
        releases = ReleaseTotals()
        meter.create_observable_counter(
            A.METRIC_RELEASES_PROCESSED,
            callbacks=[releases.observe],
            unit="{release}",
            description="Releases read or written.",
        )
        return cls(
            operation_duration=meter.create_histogram(
                A.METRIC_OPERATION_DURATION,
                unit="s",
                description="Duration of DDEX operations (parse, stream, build, validate).",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            stage_duration=meter.create_histogram(
                A.METRIC_STAGE_DURATION,
                unit="s",
                description="Duration of one stage of a DDEX operation (read, xml, extract, …).",
                explicit_bucket_boundaries_advisory=STAGE_BUCKETS,
            ),
            message_size=meter.create_histogram(
                A.METRIC_MESSAGE_SIZE,
                unit="By",
                description="Size of DDEX messages read (parse, stream) or written (build).",
                explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
            ),
            cpu_time=meter.create_histogram(
                A.METRIC_OPERATION_CPU_TIME,
                unit="s",
                description="CPU time of the calling thread spent in one DDEX operation.",
                explicit_bucket_boundaries_advisory=CPU_BUCKETS,
            ),
            memory_delta=meter.create_histogram(
                A.METRIC_OPERATION_MEMORY_DELTA,
                unit="By",
                description="Growth of the process's peak resident memory during one DDEX operation.",
                explicit_bucket_boundaries_advisory=MEMORY_BUCKETS,
            ),
            active=active,
            releases=releases,
        )
