"""``submit_batch``: send one task per file to the Celery workers and wait for every outcome.

The trace of a batch: ``ddex.batch`` (here) → ``ddex.file`` per file (here, from submit to
outcome) → ``apply_async/ddex_otel.process_file`` (the Celery instrumentation's producer span,
which puts the context into the message headers) → ``run/ddex_otel.process_file`` on a worker →
``ddex.parse`` / ``ddex.validate`` / ``ddex.build``. Propagation is opentelemetry-instrumentation-
celery's, not ours.

Every file comes back in the result: ``ok``, ``failed`` (with its one-line error, an ERROR
``ddex.file`` span and a ``ddex.batch.failure`` event) or ``lost`` (no outcome before
``timeout``; still queued or running): never silently dropped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from ddex_otel.distributed import tasks
from ddex_otel.distributed.celeryapp import make_app
from ddex_otel.distributed.results import FAILED, LOST, DistributedBatchResult, FileOutcome
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.batch_spans import Batch, batch
from ddex_otel.telemetry.version import __version__

SPAN_FILE = "ddex.file"  # the same name as the local `ddex-otel batch` uses
FILE_OUTCOME = "ddex.file.outcome"
INPUT_COUNT = "ddex.batch.input.count"
#: The key of a file that was never sent (the broker failed on it or an earlier file), by its index.
_NOT_SUBMITTED = "not-submitted-"
#: Files in flight by task id (or ``_NOT_SUBMITTED`` key): (index in the batch, ``ddex.file`` span, submit time).
_Pending: TypeAlias = dict[str, tuple[int, trace.Span, float]]

_instrument_lock = threading.Lock()


def _instrument_producer(tracer_provider: TracerProvider | None) -> None:
    """opentelemetry-instrumentation-celery on this (publishing) process, once."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    with _instrument_lock:
        instrumentor = CeleryInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=tracer_provider)


def _remote_error(error_type: str, message: str) -> Exception:
    """An exception named like the worker's (its class is not importable here): for the batch event."""
    cls = type(error_type or "TaskError", (Exception,), {"__module__": __name__})
    return cls(message)


def _outcome_from_meta(path: str, meta: dict[str, Any]) -> FileOutcome:
    status, value = meta.get("status"), meta.get("result")
    if status == "SUCCESS" and isinstance(value, dict):
        return FileOutcome.from_task(value, path=path)
    # The task itself raised (a worker bug, a revoked task): the file failed, with Celery's error.
    if isinstance(value, BaseException):
        error_type, message = type(value).__qualname__, str(value)
    elif isinstance(value, dict):
        error_type, message = str(value.get("exc_type") or status), str(value.get("exc_message") or "")
    else:
        error_type, message = str(status), str(value)
    return FileOutcome(path=path, status=FAILED, error_type=error_type,
                       error=" ".join(f"{error_type}: {message}".split())[:300])


def submit_batch(
    paths: Sequence[str | os.PathLike[str]],
    broker_url: str | None = None,
    *,
    backend_url: str | None = None,
    name: str = "batch",
    to_version: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
    tracer_provider: TracerProvider | None = None,
    on_result: Callable[[FileOutcome], None] | None = None,
) -> DistributedBatchResult:
    """Process ``paths`` on the Celery workers behind ``broker_url``; one trace, every outcome.

    Paths are sent as absolute paths: workers must see the same files (shared storage).
    ``out_dir`` is created here when missing, as ``run_batch`` does (the workers write into it).
    ``timeout`` bounds the whole wait; files without an outcome by then are ``lost``.
    """
    if not paths:
        raise ValueError("no input files given")
    if (to_version is None) != (out_dir is None):
        raise ValueError("to_version and out_dir go together")
    app = make_app(broker_url, backend_url)
    task = tasks.register(app)
    _instrument_producer(tracer_provider)
    tracer = trace.get_tracer(A.SCOPE_NAME, __version__, tracer_provider, schema_url=A.SCHEMA_URL)
    files = [str(Path(p).resolve()) for p in paths]
    out = str(Path(out_dir).resolve()) if out_dir is not None else None
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    outcomes: list[FileOutcome | None] = [None] * len(files)
    t0 = time.perf_counter()
    with batch(name, attributes={INPUT_COUNT: len(files), "messaging.system": "celery"},
               tracer_provider=tracer_provider) as b:
        pending, results, submit_error = _submit_files(task, tracer, b, files, to_version, out)

        def finish(task_id: str, outcome: FileOutcome) -> None:
            index, span, submitted = pending.pop(task_id)
            outcome.task_id, outcome.latency_s = task_id, time.perf_counter() - submitted
            outcomes[index] = outcome
            _end_file_span(span, outcome)
            if outcome.ok:
                b.succeeded()
            else:
                b.failed(_remote_error(outcome.error_type or outcome.status, outcome.error or ""), outcome.path)
            if on_result is not None:
                on_result(outcome)

        for key in [k for k in pending if k.startswith(_NOT_SUBMITTED)]:
            finish(key, FileOutcome(path=files[pending[key][0]], status=FAILED, error_type="SubmitError",
                                    error=submit_error))
        reason = _await_outcomes(app, results, pending, files, timeout, finish)
        for task_id in list(pending):
            path = files[pending[task_id][0]]
            finish(task_id, FileOutcome(path=path, status=LOST, error_type="TaskLost",
                                        error=" ".join(f"TaskLost: {reason}".split())[:300]))
        trace_id = format(b.span.get_span_context().trace_id, "032x") if b.span.get_span_context().is_valid else None
    broker = _masked(app.conf.broker_url)
    app.close()  # its broker and backend connections: one app per batch
    return DistributedBatchResult([o for o in outcomes if o is not None], time.perf_counter() - t0, trace_id,
                                  broker=broker)



def _submit_files(task: Any, tracer: trace.Tracer, b: Batch, files: list[str], to_version: str | None,
                  out: str | None) -> tuple[_Pending, list[Any], str | None]:
    """Send one task per file under its ``ddex.file`` span; after a broker error the rest are not sent."""
    pending: _Pending = {}
    results = []
    submit_error: str | None = None
    for index, path in enumerate(files):
        span = tracer.start_span(SPAN_FILE, context=b.context, kind=SpanKind.INTERNAL,
                                 attributes={A.FILE_PATH: path, "file.name": os.path.basename(path)})
        key = f"{_NOT_SUBMITTED}{index}"
        if submit_error is None:
            try:
                with trace.use_span(span, end_on_exit=False):
                    result = task.apply_async(args=(path, to_version, out))
                key = result.id
                results.append(result)
            except Exception as exc:  # noqa: BLE001 - broker unreachable: this file and the rest fail
                submit_error = " ".join(f"SubmitError: {type(exc).__qualname__}: {exc}".split())[:300]
        pending[key] = (index, span, time.perf_counter())
    return pending, results, submit_error


def _end_file_span(span: trace.Span, outcome: FileOutcome) -> None:
    """End a file's span with its outcome: the worker that ran it, a redelivery, the error."""
    if span.is_recording():
        attrs: dict[str, str | bool] = {FILE_OUTCOME: outcome.status, "ddex.worker": outcome.worker or "",
                 "ddex.worker.host": outcome.host or "", tasks.REDELIVERED: outcome.redelivered}
        span.set_attributes(attrs)
        if outcome.redelivered:
            span.add_event(tasks.REDELIVERED, {"ddex.worker.host": outcome.host or ""})
        if not outcome.ok:
            span.set_attribute(A.ERROR_TYPE, outcome.error_type or outcome.status)
            span.set_status(Status(StatusCode.ERROR, outcome.error or outcome.status))
    span.end()


def _await_outcomes(app: Any, results: list[Any], pending: _Pending, files: list[str], timeout: float,
                    finish: Callable[[str, FileOutcome], None]) -> str:
    """Finish files as their outcomes arrive, until none is pending or ``timeout``; why the rest have none."""
    from celery.result import ResultSet

    deadline = time.monotonic() + timeout
    try:
        for task_id, meta in (ResultSet(results, app=app).iter_native(timeout=timeout, interval=0.2)
                              if results else ()):
            if task_id in pending:
                finish(task_id, _outcome_from_meta(files[pending[task_id][0]], meta))
            if not pending or time.monotonic() > deadline:
                break
    except Exception as exc:  # noqa: BLE001 - timeout or broker gone: what is left is reported lost
        return f"{type(exc).__qualname__}: {exc}"
    return "no outcome before the batch deadline"


def _masked(url: str) -> str:
    """The broker URL without its password (results and logs never show it)."""
    from kombu.utils.url import sanitize_url

    try:
        return sanitize_url(url) if url else ""
    except Exception:  # noqa: BLE001
        return "<broker>"
