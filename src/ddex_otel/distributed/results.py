"""What a distributed batch returns: one outcome per submitted file, and the batch's totals.

A ``FileOutcome`` is the local batch's ``FileResult`` (path, status, timings, error, span ids,
``ddex.*`` operation timings) plus what only a Celery run knows: which worker ran the file, whether
it was redelivered, its task id and latency.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ddex_otel.monitoring.batch_runner import BatchResult, FileResult, OperationTiming
from ddex_otel.telemetry import attributes as A

OK = A.FILE_OUTCOME_OK
FAILED = A.FILE_OUTCOME_FAILED
#: The file's task did not finish before the batch's deadline: reported, never dropped.
LOST = "lost"


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that name a field of dataclass ``cls`` (a newer worker may send more)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _timing(op: Any) -> OperationTiming | None:
    """One operation timing sent by a worker; None for one that is not (a worker of another version):
    a file's timings are detail, never a reason to lose the batch's result."""
    try:
        return OperationTiming(**_known(OperationTiming, op))
    except (AttributeError, TypeError, ValueError):
        return None


@dataclass
class FileOutcome(FileResult):
    """One file: ``status`` ok / failed / lost, which worker ran it, and its spans' ids.

    ``span_id`` is the worker's task span; ``operations`` come from the worker's ``ddex.*`` spans.
    """

    worker: str | None = None       # Celery node name (w1@host)
    host: str | None = None         # host.name of the worker's telemetry resource
    instance: str | None = None     # service.instance.id
    redelivered: bool = False       # ran again after its first worker died mid-task
    task_id: str | None = None
    latency_s: float = 0.0          # submit → result seen by the submitter

    @classmethod
    def from_task(cls, data: dict[str, Any], **extra: Any) -> FileOutcome:
        """The outcome from the task's JSON-able dict (its operations arrive as ``asdict(OperationTiming)`` dicts)."""
        values = _known(cls, {**data, **extra})
        operations = values.get("operations") or ()
        values["operations"] = [timing for op in operations if (timing := _timing(op)) is not None]
        return cls(**values)

    def to_file_result(self) -> FileResult:
        """The local batch's result for this file: the shared fields, ``lost`` counted as ``failed``."""
        shared = {f.name: getattr(self, f.name) for f in fields(FileResult)}
        return FileResult(**{**shared, "status": OK if self.ok else FAILED})


@dataclass
class DistributedBatchResult:
    """Every file's outcome, in submission order, plus the batch trace and timing."""

    files: list[FileOutcome]
    seconds: float
    trace_id: str | None = None
    broker: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(1 for f in self.files if f.ok)

    @property
    def failed(self) -> int:
        return len(self.files) - self.ok

    @property
    def redelivered(self) -> int:
        return sum(1 for f in self.files if f.redelivered)

    @property
    def workers(self) -> list[str]:
        """The workers (host.name) that processed at least one file."""
        return sorted({f.host for f in self.files if f.host})

    @property
    def files_per_second(self) -> float:
        return len(self.files) / self.seconds if self.seconds > 0 else math.nan

    def to_batch_result(self) -> BatchResult:
        """The same outcome as the local ``ddex-otel batch`` result (its summary and JSON printing)."""
        return BatchResult(files=[f.to_file_result() for f in self.files], seconds=self.seconds,
                           workers=len(self.workers), trace_id=self.trace_id)

    def to_dict(self) -> dict[str, Any]:
        fps = self.files_per_second
        return {
            "files": [asdict(f) for f in self.files],
            "totals": {
                "files": len(self.files), "ok": self.ok, "failed": self.failed,
                "redelivered": self.redelivered, "seconds": self.seconds,
                "files_per_second": None if math.isnan(fps) else fps, "workers": self.workers,
            },
            "trace_id": self.trace_id,
            "broker": self.broker,
        }
