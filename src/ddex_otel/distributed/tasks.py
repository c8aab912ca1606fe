"""The per-file task: parse → validate → (build → write) one delivery file on a worker.

It runs inside the task span of opentelemetry-instrumentation-celery (``run/ddex_otel.process_file``,
child of the submitter's ``ddex.file`` span through the message headers), so the engine's
``ddex.parse`` / ``ddex.validate`` / ``ddex.build`` spans are its children. A bad file is a
``failed`` result with an error span, never an exception: Celery would otherwise log a traceback
per bad delivery and the batch summary would lose the error's one line.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict
from typing import Any

from celery import Celery, Task
from opentelemetry import trace

from ddex_otel.distributed.celeryapp import TASK_NAME
from ddex_otel.distributed.results import FAILED, OK
from ddex_otel.outputs import write_bytes
from ddex_otel.telemetry import attributes as A

#: Span attribute and result field: this run is a redelivery (the first worker died mid-task).
REDELIVERED = "ddex.task.redelivered"
WORKER = "ddex.worker"

#: The worker's ``monitoring.batch_runner.OperationLog`` (set by ``worker.setup_telemetry``): each file's
#: ``ddex.*`` operation timings go back with its outcome, read from the spans as they end.
operation_log: Any = None


def worker_identity() -> dict[str, Any]:
    """host.name and service.instance.id from this process's telemetry resource (else the OS)."""
    resource = getattr(trace.get_tracer_provider(), "resource", None)
    attrs = dict(getattr(resource, "attributes", {}) or {})
    return {
        "host": str(attrs.get("host.name") or socket.gethostname()),
        "instance": str(attrs.get("service.instance.id") or ""),
        "pid": os.getpid(),
    }


def process_file(task: Task, path: str, to_version: str | None = None, out_dir: str | None = None) -> dict[str, Any]:
    """One file's outcome as a JSON-able dict (see ``results.FileOutcome``); never raises for bad input."""
    from ddex_otel import ern
    from ddex_otel.telemetry.spans import mark_error

    span = trace.get_current_span()  # the instrumentation's task span
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    outcome: dict[str, Any] = {
        "path": path, "status": OK,
        "worker": task.request.hostname, "redelivered": redelivered, **worker_identity(),
    }
    if span.is_recording():
        span.set_attributes({A.FILE_PATH: path, WORKER: str(task.request.hostname), REDELIVERED: redelivered})
        if redelivered:  # the worker that took it first died (or lost the broker) before acknowledging it
            span.add_event(REDELIVERED, {"message": "a previous worker took this task and never acknowledged it"})
    t0 = time.perf_counter()
    try:
        message = ern.parse(path)
        report = ern.validate(message)
        if not report.ok:
            raise ern.DDEXValidationError(report.findings)
        if to_version is not None and out_dir is not None:
            target = os.path.join(out_dir, f"{os.path.splitext(os.path.basename(path))[0]}.xml")
            write_bytes(target, ern.build(message, to_version))
            outcome["output"] = target
    except Exception as exc:  # noqa: BLE001 - a bad file is a result, the batch goes on
        mark_error(span, exc)
        outcome.update(status=FAILED, error_type=type(exc).__qualname__,
                       error=" ".join(f"{type(exc).__qualname__}: {exc}".split())[:300])
    outcome["seconds"] = time.perf_counter() - t0
    ctx = span.get_span_context()
    if ctx.is_valid:
        outcome["trace_id"], outcome["span_id"] = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
        if operation_log is not None:
            outcome["operations"] = [asdict(op) for op in operation_log.take(ctx.trace_id)]
    return outcome


def register(app: Celery) -> Task:
    """The ``ddex_otel.process_file`` task on ``app`` (the worker's and the submitter's)."""
    return app.task(name=TASK_NAME, bind=True)(process_file)
