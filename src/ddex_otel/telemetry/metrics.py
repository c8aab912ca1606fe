"""The contract's instruments: one synchronous histogram, the rest observable.

Cost is what decides the form (contract, "Cost budget"): a synchronous SDK record does attribute
hashing, the exemplar filter and reservoir and takes the aggregation lock, work of the order of
the span itself (docs/benchmarks.md has the figures). So exactly one measurement per operation goes through the SDK:
``ddex.operation.duration``, a histogram with exemplars (the trace of a slow bucket). Everything
else is summed in process by ``OperationTotals`` (one lock-free count at the start, one lock and a
few dict updates at the end) and read by observable instruments when a metric reader collects:

==============================  =========================  ====  ================================
instrument                      kind                       unit  value
==============================  =========================  ====  ================================
ddex.operation.duration         histogram                  s     per operation (exemplars)
ddex.stage.duration             observable counter         s     seconds spent in each stage
ddex.stage.calls                observable counter         {call} stage runs (the count to the sum)
ddex.message.size               observable counter         By    bytes read (parse, stream) or written (build)
ddex.releases.processed         observable counter         {release} releases read or written
ddex.operations.active          observable up-down counter {operation} operations in progress
ddex.operation.cpu.time         observable counter         s     CPU seconds spent in operations (*)
ddex.operation.memory.delta     observable counter         By    peak-RSS growth during operations (*)
==============================  =========================  ====  ================================

(*) only while per-operation resource usage is on (``spans.request_resource_usage``): the counters
are always registered and report nothing until an operation was measured.

The duration histogram's boundaries go in as ``explicit_bucket_boundaries_advisory`` (seconds,
not the SDK's millisecond-sized defaults), so a View configured by the application still wins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from ddex_otel.ern.stages import StageReport
from ddex_otel.telemetry import attributes as A

#: Seconds: 0.5 ms … 2 min, roughly ×2–2.5 per step (an ERN parse is ~1 ms … minutes).
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)

#: Keys of the totals: an operation name, (operation, version or None), (operation, stage).
OpKey = str
VersionKey = tuple[str, "str | None"]
StageKey = tuple[str, str]


class OperationTotals:
    """Running totals behind the observable instruments, updated once per operation.

    An operation's start takes the lock once (``enter``), its end once (``finish``); ``active`` is
    started − ended. Collection copies the dicts under the same lock. Values only grow (except
    ``active``), so the observable counters report them as cumulative sums, which is what their
    synchronous forms would have exported too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: dict[OpKey, int] = {}
        self.ended: dict[OpKey, int] = {}
        self.releases: dict[VersionKey, int] = {}
        self.size: dict[VersionKey, int] = {}
        self.cpu: dict[OpKey, float] = {}
        self.memory: dict[OpKey, int] = {}
        #: operation → stage → [seconds, runs] (nested, one list per stage: no key tuple to build
        #: and one lookup per stage on the hot path)
        self.stages: dict[OpKey, dict[str, list]] = {}

    def enter(self, op: OpKey) -> None:
        """One operation started."""
        with self._lock:
            self.started[op] = self.started.get(op, 0) + 1

    @property
    def active(self) -> dict[OpKey, int]:
        """Operations in progress per name: started − ended."""
        with self._lock:
            return {op: started - self.ended.get(op, 0) for op, started in self.started.items()}

    def add_releases(self, key: VersionKey, count: int) -> None:
        with self._lock:
            self.releases[key] = self.releases.get(key, 0) + count

    def finish(
        self,
        op: OpKey,
        version_key: VersionKey,
        size: int | None,
        releases: int,
        cpu: float | None,
        memory: int | None,
        stages: list[StageReport] | None,
    ) -> None:
        """One operation ended: leave ``active`` and add its figures, under one lock."""
        with self._lock:
            self.ended[op] = self.ended.get(op, 0) + 1
            if size is not None:
                self.size[version_key] = self.size.get(version_key, 0) + size
            if releases:
                self.releases[version_key] = self.releases.get(version_key, 0) + releases
            if cpu is not None:
                self.cpu[op] = self.cpu.get(op, 0.0) + cpu
            if memory is not None:
                self.memory[op] = self.memory.get(op, 0) + memory
            if stages:
                table = self.stages.get(op)
                if table is None:
                    table = self.stages[op] = {}
                for stage, spent, _detail in stages:
                    acc = table.get(stage)
                    if acc is None:
                        table[stage] = [spent, 1]
                    else:
                        acc[0] += spent
                        acc[1] += 1

    # -- collection (called by the SDK's reader thread) -------------------------------------------
    def _snapshot(self, table: dict) -> list:
        with self._lock:
            return list(table.items())

    def observe_active(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {A.OPERATION_NAME: op}) for op, v in self.active.items()]

    def observe_releases(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, _version_attrs(k)) for k, v in self._snapshot(self.releases)]

    def observe_size(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, _version_attrs(k)) for k, v in self._snapshot(self.size)]

    def observe_cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {A.OPERATION_NAME: op}) for op, v in self._snapshot(self.cpu)]

    def observe_memory(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, {A.OPERATION_NAME: op}) for op, v in self._snapshot(self.memory)]

    def _stage_snapshot(self, index: int) -> list:
        """((operation, stage), seconds) for index 0, ((operation, stage), runs) for index 1."""
        with self._lock:
            return [((op, stage), acc[index]) for op, stages in self.stages.items() for stage, acc in stages.items()]

    def observe_stage_seconds(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, _stage_attrs(k)) for k, v in self._stage_snapshot(0)]

    def observe_stage_calls(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(v, _stage_attrs(k)) for k, v in self._stage_snapshot(1)]


def _version_attrs(key: VersionKey) -> dict[str, str]:
    op, version = key
    if version is None:
        return {A.OPERATION_NAME: op}
    return {A.OPERATION_NAME: op, A.ERN_VERSION: version}


def _stage_attrs(key: StageKey) -> dict[str, str]:
    return {A.OPERATION_NAME: key[0], A.STAGE_NAME: key[1]}


@dataclass
class Instruments:
    """The one synchronous instrument and the totals the observable ones read."""

    operation_duration: Histogram
    totals: OperationTotals

    @classmethod
    def create(cls, meter: Meter, *, stage_metrics: bool = True) -> Instruments:
        totals = OperationTotals()
        meter.create_observable_up_down_counter(
            A.METRIC_OPERATIONS_ACTIVE, callbacks=[totals.observe_active], unit="{operation}",
            description="DDEX operations in progress.",
        )
        # Observable counters over the in-process totals: (name, callback, unit, description).
        counters = [
            (A.METRIC_RELEASES_PROCESSED, totals.observe_releases, "{release}", "Releases read or written."),
            (A.METRIC_MESSAGE_SIZE, totals.observe_size, "By",
             "Bytes of DDEX messages read (parse, stream) or written (build)."),
        ]
        if stage_metrics:
            counters += [
                (A.METRIC_STAGE_DURATION, totals.observe_stage_seconds, "s",
                 "Seconds spent in each stage of DDEX operations (read, xml, extract, …)."),
                (A.METRIC_STAGE_CALLS, totals.observe_stage_calls, "{call}",
                 "Stage runs of DDEX operations (divide ddex.stage.duration by it for a mean)."),
            ]
        counters += [  # empty until per-operation resource usage is on (see the module docstring)
            (A.METRIC_OPERATION_CPU_TIME, totals.observe_cpu, "s",
             "CPU seconds the calling threads spent in DDEX operations (while resource usage is on)."),
            (A.METRIC_OPERATION_MEMORY_DELTA, totals.observe_memory, "By",
             "Growth of the process's peak resident memory during DDEX operations (while resource usage is on)."),
        ]
        for name, callback, unit, description in counters:
            meter.create_observable_counter(name, callbacks=[callback], unit=unit, description=description)
        return cls(
            operation_duration=meter.create_histogram(
                A.METRIC_OPERATION_DURATION,
                unit="s",
                description="Duration of DDEX operations (parse, stream, build, validate).",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            totals=totals,
        )
