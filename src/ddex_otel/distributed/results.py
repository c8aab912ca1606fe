"""What a distributed batch returns: one outcome per submitted file, and the batch's totals."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
FAILED = "failed"
#: The file's task did not finish before the batch's deadline: reported, never dropped.
LOST = "lost"


@dataclass
class FileOutcome:
    """One file: ``status`` ok / failed / lost, which worker ran it, and its spans' ids."""

    path: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    worker: str | None = None       # Celery node name (w1@host)
    host: str | None = None         # host.name of the worker's telemetry resource
    instance: str | None = None     # service.instance.id
    pid: int | None = None
    redelivered: bool = False       # ran again after its first worker died mid-task
    output: str | None = None
    task_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None      # the worker's task span
    latency_s: float = 0.0          # submit → result seen by the submitter
    operations: list[dict[str, Any]] = field(default_factory=list)  # the worker's ddex.* spans' timings

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def from_task(cls, data: dict[str, Any], **extra: Any) -> FileOutcome:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in {**data, **extra}.items() if k in known})


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

    def to_batch_result(self) -> Any:
        """The same outcome as the local ``ddex-otel batch`` result (its summary and JSON printing)."""
        from ddex_otel.monitoring.batch_runner import BatchResult, FileResult, OperationTiming

        files = [FileResult(path=f.path, status=OK if f.ok else FAILED, seconds=f.seconds, error=f.error,
                            error_type=f.error_type, operations=[OperationTiming(**op) for op in f.operations],
                            trace_id=f.trace_id, span_id=f.span_id, pid=f.pid, output=f.output)
                 for f in self.files]
        return BatchResult(files=files, seconds=self.seconds, workers=len(self.workers), trace_id=self.trace_id)

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
