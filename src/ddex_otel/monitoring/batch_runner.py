"""Batch runner: many ERN files on a process pool, one ``ddex.batch`` trace across all processes.

    from ddex_otel.monitoring.batch_runner import BatchOptions, run_batch, find_inputs

    result = run_batch(find_inputs(["deliveries/2026-11-30"]), BatchOptions(workers=4))
    print(result.ok, result.failed, result.trace_id)

The calling process opens the ``ddex.batch`` span and hands its W3C trace context (the standard
``traceparent`` carrier of ``opentelemetry.propagate``) to each task. A worker process sets up its
own telemetry (same endpoint / protocol / service name) in the pool initializer and runs each file
inside a ``ddex.file`` span, child of the batch span, holding that file's ``ddex.parse`` /
``ddex.validate`` / ``ddex.build`` spans. Before a worker reports a file's result it flushes its
spans (workers leave through ``os._exit`` and a broken pool terminates them, so nothing waits for
an exit hook); its operation durations come back with the result, read from the spans as they end.
That flush is bounded by the telemetry shutdown budget (``DDEX_OTEL_SHUTDOWN_TIMEOUT``); the first
one that does not finish in time shows the endpoint is dead or silent, and that worker stops
flushing per file (``PerFileFlush``): a dead collector costs each worker one budget, not one per file.

A failing file is a failed result (one-line error, error span), never an exception: the batch goes
on. A crashed worker (``BrokenProcessPool``) fails the files that were in flight; the remaining
files run on a fresh pool. Ctrl-C (``interrupts``) stops the batch taking files; the files in flight
finish and keep their results, the others are reported as not processed, and the worker
processes end within a bound; a second Ctrl-C stops waiting for the files in flight.
"""

from __future__ import annotations

import glob
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from ddex_otel.monitoring import spanfeed
from ddex_otel.monitoring.interrupts import CtrlC, handling_ctrl_c, ignore_sigint_in_worker, sigint_blocked
from ddex_otel.outputs import leftover_temporaries, write_bytes
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.batch_spans import file_span
from ddex_otel.telemetry.summary import percentile

#: Pool restarts after worker crashes before the remaining files are given up as failed.
MAX_POOL_RESTARTS = 3
CRASH_ERROR_TYPE = "BrokenProcessPool"
INTERRUPTED_ERROR_TYPE = "Interrupted"
#: ``FileResult.status`` of a file Ctrl-C kept from running (neither ok nor failed).
NOT_PROCESSED = "not_processed"
#: After Ctrl-C: seconds the files in flight get to finish, and then the workers to exit (each on
#: top of the telemetry shutdown budget, which bounds a worker's flush and its exit).
INTERRUPT_GRACE_S = 5.0
EXIT_GRACE_S = 1.0
#: How often the main process looks at Ctrl-C while waiting for results.
_POLL_S = 0.1


class BatchUsageError(ValueError):
    """The batch cannot start (no inputs, bad option): the CLI's exit status 2."""


# ------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class WorkerTelemetry:
    """How each worker process sets up telemetry: the same settings as the calling process."""

    enabled: bool = True
    endpoint: str | None = None
    protocol: str | None = None
    service_name: str | None = None
    offline_dir: str | None = None


@dataclass(frozen=True)
class BatchOptions:
    """What to do with each file and on how many processes (0: in this process, for debugging)."""

    workers: int = max(1, os.cpu_count() or 1)
    to_version: str | None = None
    out_dir: str | None = None
    name: str = "batch"
    telemetry: WorkerTelemetry = field(default_factory=WorkerTelemetry)


@dataclass(frozen=True)
class FileTask:
    """One file for a worker, with the batch span's trace context (W3C ``traceparent``)."""

    path: str
    carrier: dict[str, str]
    to_version: str | None = None
    out_dir: str | None = None


@dataclass
class OperationTiming:
    """One ``ddex.*`` operation span of a file, as the worker's span processor saw it end."""

    name: str
    duration_s: float
    success: bool = True
    memory_delta: int | None = None
    error_type: str | None = None


@dataclass
class FileResult:
    """What happened to one file (``status``: ``ok``, ``failed`` or ``not_processed``; ``error`` is one line)."""

    path: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    operations: list[OperationTiming] = field(default_factory=list)
    trace_id: str | None = None
    span_id: str | None = None
    pid: int | None = None
    output: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == A.FILE_OUTCOME_OK

    def durations(self) -> dict[str, float]:
        """Seconds per operation name (summed if an operation ran twice)."""
        out: dict[str, float] = {}
        for op in self.operations:
            out[op.name] = out.get(op.name, 0.0) + op.duration_s
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["durations"] = self.durations()
        return data


def timing_stats(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(values),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "max": max(values) if values else math.nan,
    }


@dataclass
class BatchResult:
    """Every file's result plus the batch trace; ``operations()`` aggregates the durations."""

    files: list[FileResult]
    seconds: float
    workers: int
    trace_id: str | None = None
    pool_restarts: int = 0
    #: Ctrl-C stopped the batch: files without a result are ``not_processed`` (error type "Interrupted").
    interrupted: bool = False

    @property
    def ok(self) -> int:
        return sum(1 for f in self.files if f.ok)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.files if f.status == A.FILE_OUTCOME_FAILED)

    @property
    def not_processed(self) -> int:
        return sum(1 for f in self.files if f.status == NOT_PROCESSED)

    def operations(self) -> dict[str, dict[str, float]]:
        """count / p50 / p95 / max (seconds) per operation, plus ``file`` (a whole file's time)."""
        by_name: dict[str, list[float]] = {}
        for f in self.files:
            for op in f.operations:
                by_name.setdefault(op.name, []).append(op.duration_s)
        stats = {name: timing_stats(values) for name, values in by_name.items()}
        stats["file"] = timing_stats([f.seconds for f in self.files if f.seconds > 0])
        return stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "totals": {
                "files": len(self.files),
                "ok": self.ok,
                "failed": self.failed,
                "not_processed": self.not_processed,
                "seconds": self.seconds,
                "files_per_second": len(self.files) / self.seconds if self.seconds > 0 else None,
                "workers": self.workers,
                "pool_restarts": self.pool_restarts,
                "interrupted": self.interrupted,
            },
            "operations": {k: {s: (None if isinstance(v, float) and math.isnan(v) else v) for s, v in d.items()}
                           for k, d in self.operations().items()},
            "trace_id": self.trace_id,
        }


# ---------------------------------------------------------------------------------- inputs


def find_inputs(patterns: Iterable[str]) -> list[Path]:
    """Files named by each argument: a directory (its ``*.xml``), a file, or a glob pattern.

    Every argument must name at least one file (a typo is an error, not an empty batch);
    duplicates are dropped, the order is kept. Raises BatchUsageError.
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.glob("*.xml") if p.is_file())
            if not matches:
                raise BatchUsageError(f"no *.xml files in directory {pattern}")
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not matches:
                raise BatchUsageError(f"no files match {pattern}")
        else:
            raise BatchUsageError(f"no such file or directory: {pattern}")
        for match in matches:
            found.setdefault(match, None)
    if not found:
        raise BatchUsageError("no input files given")
    return list(found)


def output_path(out_dir: str | os.PathLike[str], source: str | os.PathLike[str]) -> Path:
    """``OUT/<name>.xml`` for one input."""
    return Path(out_dir) / f"{Path(source).stem}.xml"


def check_options(paths: Sequence[Path], options: BatchOptions) -> None:
    """Usage errors found before any work starts (BatchUsageError)."""
    if options.workers < 0:
        raise BatchUsageError("--workers must be 0 (in this process) or more")
    if (options.to_version is None) != (options.out_dir is None):
        raise BatchUsageError("--to-version and --out go together")
    if options.to_version is not None:
        from ddex_otel.ern.builder import normalize_version
        from ddex_otel.ern.errors import UnsupportedVersionError

        try:
            normalize_version(options.to_version)
        except UnsupportedVersionError as exc:
            raise BatchUsageError(str(exc)) from None
    if options.out_dir is not None:
        seen: dict[Path, Path] = {}
        for p in paths:
            target = output_path(options.out_dir, p)
            if target in seen:
                raise BatchUsageError(f"{seen[target]} and {p} would both be written to {target}")
            seen[target] = p


# ------------------------------------------------------------------------------ worker side


class OperationLog:
    """The ``ddex.*`` operation spans that end in this process, until ``take()``.

    Subscribed to the monitoring span feed (``spanfeed``): the PerformanceMonitor's and the
    Profiler's measurement path, so a worker's numbers are read exactly as theirs are.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended: list[ReadableSpan] = []

    def __call__(self, span: ReadableSpan) -> None:
        with self._lock:
            self._ended.append(span)

    def take(self, trace_id: int) -> list[OperationTiming]:
        """Timings of the operation spans of ``trace_id`` ended since the last call (others are kept)."""
        with self._lock:
            mine = [s for s in self._ended if s.context is not None and s.context.trace_id == trace_id]
            self._ended = [s for s in self._ended if s not in mine]
        timings = []
        for span in mine:
            attrs = span.attributes or {}
            memory = attrs.get(A.RESOURCE_MEMORY_DELTA)
            error_type = attrs.get(A.ERROR_TYPE)
            timings.append(OperationTiming(
                name=spanfeed.operation_name(span),
                duration_s=spanfeed.duration_s(span),
                success=not spanfeed.failed(span),
                memory_delta=memory if isinstance(memory, int) else None,
                error_type=str(error_type) if error_type is not None else None,
            ))
        return timings


class PerFileFlush:
    """A worker's flush before each result, bounded by the telemetry shutdown budget.

    The first flush that does not finish in time means the endpoint is dead or silent: later
    files skip the flush (their spans still go out in the background, counted if dropped) and
    the worker's exit gets ``EXIT_BUDGET_S`` instead of the whole budget again.
    """

    EXIT_BUDGET_S = 0.25

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.budget_s = float(handle.settings.shutdown_timeout)
        self.unresponsive = False

    def __call__(self) -> None:
        if self.unresponsive:
            return
        if not self.handle.tracer_provider.force_flush(int(self.budget_s * 1000)):
            self.unresponsive = True

    def shutdown(self) -> None:
        """The handle's shutdown at the worker's exit (short once the endpoint proved unresponsive),
        then one warning line if this worker's telemetry was not all delivered."""
        from ddex_otel.telemetry.clisetup import report_undelivered

        self.handle.shutdown(min(self.budget_s, self.EXIT_BUDGET_S) if self.unresponsive else None)
        report_undelivered(self.handle, who=f"batch worker {os.getpid()}")


@dataclass
class _WorkerState:
    tracer_provider: Any
    log: OperationLog
    subscription: Any
    #: The flush before each result (None: no telemetry of this process's own to flush).
    flush: PerFileFlush | None = None


_state: _WorkerState | None = None
_state_lock = threading.Lock()


def _subscribe(tracer_provider: Any, handle: Any = None) -> _WorkerState:
    """Operation spans of ``tracer_provider`` (None: the global SDK provider, installed without
    exporters when there is none, the engine instrumented if nobody did) into a fresh log;
    ``handle``: this process's enabled telemetry, flushed per file."""
    log = OperationLog()
    subscription = spanfeed.subscribe(log, tracer_provider)
    return _WorkerState(subscription.provider, log, subscription, PerFileFlush(handle) if handle is not None else None)


def init_worker(settings: WorkerTelemetry) -> None:
    """Pool initializer: this process's telemetry, its operation log, and a flush at exit."""
    global _state
    if multiprocessing.parent_process() is not None:
        # Ctrl-C reaches the whole process group: the parent stops the batch, workers finish
        # their file and exit normally (flushing) instead of dying with a traceback each.
        ignore_sigint_in_worker()
    with _state_lock:
        if _state is not None:
            return
        handle = None
        if settings.enabled and not isinstance(trace.get_tracer_provider(), TracerProvider):
            from ddex_otel.telemetry.clisetup import show_telemetry_warnings
            from ddex_otel.telemetry.setup import configure

            show_telemetry_warnings()  # export failures: one line at the worker's exit
            try:
                handle = configure(endpoint=settings.endpoint, protocol=settings.protocol,
                                   service_name=settings.service_name, offline_dir=settings.offline_dir)
            except (ValueError, OSError):
                handle = None  # the parent already warned about the same settings
        if handle is not None and not handle.enabled:
            handle = None  # OTEL_SDK_DISABLED
        # Without telemetry (OTEL_SDK_DISABLED, bad settings) the feed still times the operations.
        _state = _subscribe(handle.tracer_provider if handle is not None else None, handle)
        if _state.flush is not None:
            # Pool workers leave through os._exit: atexit never runs, multiprocessing's finalizers do.
            multiprocessing.util.Finalize(None, _state.flush.shutdown, exitpriority=10)


@contextmanager
def _in_process(provider: Any) -> Iterator[None]:
    """``workers=0``: tasks run here, on ``provider`` (the caller's), with their own log."""
    global _state
    saved = _state
    _state = _subscribe(provider if isinstance(provider, TracerProvider) else None)
    try:
        yield
    finally:
        _state.subscription.close()
        _state = saved


def process_file(task: FileTask) -> FileResult:
    """parse → validate → (build → write) one file inside its ``ddex.file`` span; never raises."""
    if _state is None:
        init_worker(WorkerTelemetry(enabled=False))
    assert _state is not None
    from ddex_otel import ern
    from ddex_otel.telemetry.spans import mark_error

    parent = propagate.extract(task.carrier)
    result = FileResult(path=task.path, status=A.FILE_OUTCOME_OK, pid=os.getpid())
    t0 = time.perf_counter()
    with file_span(task.path, context=parent, tracer_provider=_state.tracer_provider) as span:
        try:
            message = ern.parse(task.path)
            report = ern.validate(message)
            if not report.ok:
                raise ern.DDEXValidationError(report.findings)
            if task.to_version is not None and task.out_dir is not None:
                built = ern.build(message, task.to_version)
                target = output_path(task.out_dir, task.path)
                write_bytes(target, built)
                result.output = str(target)
        except Exception as exc:  # noqa: BLE001 - a batch records any failure and goes on
            mark_error(span, exc)
            result.status = A.FILE_OUTCOME_FAILED
            result.error_type = type(exc).__qualname__
            result.error = one_line(f"{type(exc).__qualname__}: {exc}")
        span.set_attribute(A.FILE_OUTCOME, result.status)
        ctx = span.get_span_context()
    result.seconds = time.perf_counter() - t0
    if ctx.is_valid:
        result.trace_id = format(ctx.trace_id, "032x")
        result.span_id = format(ctx.span_id, "016x")
    result.operations = _state.log.take(ctx.trace_id)
    if _state.flush is not None:
        # Spans first, then the result: once the parent has the result, the spans are exported.
        _state.flush()
    return result


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ------------------------------------------------------------------------------ main side


def pool_context() -> multiprocessing.context.BaseContext:
    """'forkserver' where available, else 'spawn': gRPC channels and threads do not survive fork."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class _InlineExecutor(Executor):
    """``workers=0``: run each task in this process (debugging, tests)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001
            future.set_exception(exc)
        return future


def _crashed(path: str, exc: BaseException) -> FileResult:
    return FileResult(
        path=path, status=A.FILE_OUTCOME_FAILED, error_type=CRASH_ERROR_TYPE,
        error=one_line(f"{CRASH_ERROR_TYPE}: a worker process died while this file was in flight ({exc})"),
    )


def run_batch(
    paths: Sequence[str | os.PathLike[str]],
    options: BatchOptions = BatchOptions(),
    *,
    on_result: Callable[[FileResult], None] | None = None,
    worker: Callable[[FileTask], FileResult] = process_file,
    tracer_provider: Any = None,
) -> BatchResult:
    """Run ``worker`` over every path inside one ``ddex.batch`` span; see the module docstring.

    ``on_result`` is called in this process as each file finishes (progress bars, monitors).
    ``worker`` must be a module-level function (it is pickled to the workers).
    ``tracer_provider`` (default: the global one) gets the batch span, and with ``workers=0``
    the files' spans too; worker processes always set up their own from ``options.telemetry``.
    In the main thread Ctrl-C is handled as the module docstring says (``interrupts.CtrlC``);
    elsewhere, or under an application's own SIGINT handler, ``KeyboardInterrupt`` stops the batch.
    """
    from ddex_otel.telemetry.batch_spans import batch

    files = [os.fspath(p) for p in paths]
    check_options([Path(p) for p in files], options)
    if options.out_dir is not None:
        Path(options.out_dir).mkdir(parents=True, exist_ok=True)
    results: dict[str, FileResult] = {}
    t0 = time.perf_counter()
    started_wall = time.time()  # outputs written from now on are this batch's (see _discard_unreported)
    with ExitStack() as stack:
        ctrl_c = stack.enter_context(handling_ctrl_c()) or CtrlC()
        # In this process (workers=0) the first press interrupts the file being processed.
        ctrl_c.raise_on_stop = options.workers == 0
        b = stack.enter_context(batch(options.name, attributes={A.BATCH_INPUT_COUNT: len(files)},
                                      tracer_provider=tracer_provider))
        if options.workers == 0:
            stack.enter_context(_in_process(tracer_provider or trace.get_tracer_provider()))
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the batch span is current: its traceparent goes to every task

        def finish(result: FileResult) -> None:
            results[result.path] = result
            if result.ok:
                b.succeeded()
            else:
                b.record_failure(result.error_type or "Error", result.error or "", result.path)
            if on_result is not None:
                on_result(result)

        restarts = _run_pools(files, carrier, options, worker, finish, ctrl_c)
        interrupted = ctrl_c.stop.is_set()
        if interrupted:
            # The files done so far (and those in flight that finished) keep their results; the
            # others did not run: not processed, which is not a failure.
            b.span.add_event(A.EVENT_BATCH_INTERRUPTED, {A.BATCH_MESSAGE_COUNT: len(results)})
            unreported = _mark_not_processed(files, results)
            if options.out_dir is not None:
                _discard_unreported(unreported, options.out_dir, started_wall)
        span_context = b.span.get_span_context()
    return BatchResult(
        files=[results[p] for p in files],
        seconds=time.perf_counter() - t0,
        workers=options.workers,
        trace_id=format(span_context.trace_id, "032x") if span_context.is_valid else None,
        pool_restarts=restarts,
        interrupted=interrupted,
    )


def _run_pools(
    files: list[str],
    carrier: dict[str, str],
    options: BatchOptions,
    worker: Callable[[FileTask], FileResult],
    finish: Callable[[FileResult], None],
    ctrl_c: CtrlC,
) -> int:
    """Run the files, on a fresh pool after a crash (past ``MAX_POOL_RESTARTS`` the rest fail); the restarts."""
    restarts = 0
    pending = list(files)
    while pending and not ctrl_c.stop.is_set():
        pool = _Pool(options)
        try:
            pending = _drain(pool, pending, carrier, options, worker, finish, ctrl_c)
        except KeyboardInterrupt:  # workers=0, or no CtrlC (not the main thread, the app's own handler)
            ctrl_c.stop.set()
        if ctrl_c.stop.is_set():
            pool.wind_down(finish, ctrl_c.hurry)
            break
        pool.executor.shutdown(wait=True, cancel_futures=True)
        if pending:
            restarts += 1
            if restarts > MAX_POOL_RESTARTS:
                for path in pending:
                    finish(_crashed(path, RuntimeError("too many worker crashes; gave up")))
                pending = []
    return restarts


def _mark_not_processed(files: list[str], results: dict[str, FileResult]) -> list[str]:
    """Give each file without a result one saying Ctrl-C kept it from running; return those files."""
    marked = [path for path in files if path not in results]
    for path in marked:
        results[path] = FileResult(
            path=path, status=NOT_PROCESSED, error_type=INTERRUPTED_ERROR_TYPE,
            error=f"{INTERRUPTED_ERROR_TYPE}: the batch was interrupted before this file finished")
    return marked


def _discard_unreported(paths: list[str], out_dir: str | os.PathLike[str], since: float) -> None:
    """Remove what this batch wrote for files reported not processed.

    A worker ended by the interrupt may have written a file's output (or left its temporary file)
    without its result reaching this process. Such an output goes, so that every output on disk
    belongs to a file reported ok; one older than the batch (an earlier run's) is left alone.
    """
    for path in paths:
        target = output_path(out_dir, path)
        leftovers = leftover_temporaries(target)
        with suppress(OSError):
            if target.stat().st_mtime >= since:
                leftovers.append(target)
        for leftover in leftovers:
            with suppress(OSError):
                leftover.unlink()


def _telemetry_budget_s() -> float:
    from ddex_otel.telemetry.delivery import DeliverySettings

    return DeliverySettings.from_env().shutdown_timeout


class _Pool:
    """One executor, the files in flight on it, and (for a process pool) its worker processes."""

    def __init__(self, options: BatchOptions) -> None:
        self.in_flight: dict[Future, str] = {}
        if options.workers == 0:
            self.executor: Executor = _InlineExecutor()
            self._others: set[int] | None = None
            return
        self._others = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
        self.executor = ProcessPoolExecutor(
            max_workers=options.workers, mp_context=pool_context(),
            initializer=init_worker, initargs=(options.telemetry,),
        )

    def submit(self, worker: Callable[[FileTask], FileResult], task: FileTask) -> Future:
        with sigint_blocked():  # a worker started here is born with SIGINT blocked (see interrupts)
            future = self.executor.submit(worker, task)
        self.in_flight[future] = task.path
        return future

    def processes(self) -> list[multiprocessing.process.BaseProcess]:
        """This pool's live worker processes (children started since it was made)."""
        if self._others is None:
            return []
        return [p for p in multiprocessing.active_children() if p.pid not in self._others]

    def wind_down(self, finish: Callable[[FileResult], None], hurry: threading.Event) -> None:
        """After Ctrl-C: keep the results of files in flight that finish within the grace (unless
        ``hurry``), then let the workers exit within theirs, then end those still running."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        budget = _telemetry_budget_s()
        deadline = time.monotonic() + budget + INTERRUPT_GRACE_S
        while self.in_flight and not hurry.is_set() and (left := deadline - time.monotonic()) > 0:
            done, _ = wait(self.in_flight, timeout=min(_POLL_S, left), return_when=FIRST_COMPLETED)
            for future in done:
                _collect(future, self.in_flight.pop(future), finish)
        for future in [f for f in self.in_flight if f.done() and not f.cancelled()]:
            _collect(future, self.in_flight.pop(future), finish)
        deadline = time.monotonic() + budget + EXIT_GRACE_S
        while (alive := self.processes()) and not hurry.is_set() and (left := deadline - time.monotonic()) > 0:
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout=min(_POLL_S, left))
        for process in self.processes():
            process.terminate()
        for process in self.processes():
            process.join(EXIT_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join(EXIT_GRACE_S)
        self.executor.shutdown(wait=True, cancel_futures=True)


def _collect(future: Future, path: str, finish: Callable[[FileResult], None]) -> bool:
    """Record a finished future's result; True when it shows the pool is broken."""
    try:
        finish(future.result())
    except BrokenProcessPool as exc:
        finish(_crashed(path, exc))
        return True
    except Exception as exc:  # noqa: BLE001 - the worker itself failed (unpicklable result…)
        finish(FileResult(path=path, status=A.FILE_OUTCOME_FAILED, error_type=type(exc).__qualname__,
                          error=one_line(f"{type(exc).__qualname__}: {exc}")))
    return False


def _drain(
    pool: _Pool,
    pending: list[str],
    carrier: dict[str, str],
    options: BatchOptions,
    worker: Callable[[FileTask], FileResult],
    finish: Callable[[FileResult], None],
    ctrl_c: CtrlC,
) -> list[str]:
    """Run pending files (at most 2 per worker in flight) until done, the pool breaks or Ctrl-C;
    return those not started (the files in flight stay in ``pool.in_flight`` on Ctrl-C)."""
    queue = list(reversed(pending))
    in_flight = pool.in_flight
    limit = max(1, options.workers) * 2
    broken = False
    while ((queue and not broken) or in_flight) and not ctrl_c.stop.is_set():
        while queue and not broken and len(in_flight) < limit and not ctrl_c.stop.is_set():
            path = queue.pop()
            try:
                pool.submit(worker, FileTask(path, dict(carrier), options.to_version, options.out_dir))
            except BrokenProcessPool:
                queue.append(path)
                broken = True
                break
        if not in_flight:
            break
        done, _ = wait(in_flight, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        for future in done:
            broken = _collect(future, in_flight.pop(future), finish) or broken
    return list(reversed(queue))
