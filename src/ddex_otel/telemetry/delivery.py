"""Span delivery you can count: a batching span processor that accounts for every span.

``DeliverySpanProcessor`` replaces the SDK's ``BatchSpanProcessor`` in ``configure()``:

* **Exact accounting.** Every sampled span that ends is either exported or dropped, and each drop
  has a reason: ``queue_full`` (the buffer was full when it ended), ``export_failed`` (retried
  for ``retry_seconds`` without success) or ``shutdown`` (still queued or in flight when the
  shutdown budget ran out, or ended after shutdown). After shutdown
  ``spans_ended == spans_exported + spans_dropped`` (``DeliveryStats``).
* **Outages are buffered, not lost.** A failed batch is retried with exponential backoff
  (0.25 s … 2 s) while new spans queue behind it, up to ``max_queue_size`` spans.
* **Bounded shutdown.** ``shutdown()`` exports what it can within ``shutdown_timeout`` seconds,
  then counts the rest as dropped and returns; the worker is a daemon thread, never joined past
  the budget, so a dead, black-holed or failing collector cannot hold the process at exit.
* **Fork-safe.** In a forked child the queue, counters, locks and worker thread start afresh
  (the parent exports its own spans); the exporter is kept: the OTLP exporters' gRPC channel and
  HTTP session serve a forked child (tests/integration/test_delivery_faults.py, forked workers
  with a parent that exported before and while they work). ``setup`` adds the flush at a
  child's exit.
* **Drops are said out loud:** one WARNING per ``log_interval`` at most (never filtered), and
  the totals are the ``ddex.telemetry.spans.dropped`` counter (``register_delivery_metrics``).

The hot path (``on_end``) is one sampled check, one length check and one ``deque.append``.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from ddex_otel.telemetry import sdkimport  # noqa: F401 - first: tolerate a bad span limit variable

# isort: split
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ddex_otel.telemetry.envvars import env_number

_logger = logging.getLogger("ddex_otel.telemetry")

DROP_REASONS: tuple[str, ...] = ("queue_full", "export_failed", "shutdown")

ENV_SHUTDOWN_TIMEOUT = "DDEX_OTEL_SHUTDOWN_TIMEOUT"
ENV_RETRY_SECONDS = "DDEX_OTEL_EXPORT_RETRY_SECONDS"

#: Defaults (docs/reliability.md explains the trade-offs).
DEFAULT_MAX_QUEUE_SIZE = 32_768
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
DEFAULT_SCHEDULE_DELAY = 1.0  # seconds
DEFAULT_RETRY_SECONDS = 30.0
DEFAULT_SHUTDOWN_TIMEOUT = 2.0
DEFAULT_LOG_INTERVAL = 10.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.25, 2.0


@dataclass(frozen=True)
class DeliverySettings:
    """Queue and timing knobs; ``from_env`` reads ``OTEL_BSP_*`` and ``DDEX_OTEL_*``."""

    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE
    schedule_delay: float = DEFAULT_SCHEDULE_DELAY
    retry_seconds: float = DEFAULT_RETRY_SECONDS
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    log_interval: float = DEFAULT_LOG_INTERVAL

    @classmethod
    def from_env(cls, shutdown_timeout: float | None = None) -> DeliverySettings:
        queue = int(env_number("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE, minimum=1))
        batch = int(env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_MAX_EXPORT_BATCH_SIZE, minimum=1))
        if batch > queue:
            _logger.warning("OTEL_BSP_MAX_EXPORT_BATCH_SIZE (%d) > OTEL_BSP_MAX_QUEUE_SIZE (%d); using %d",
                            batch, queue, queue)
            batch = queue
        delay = env_number("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY * 1000) / 1000
        retry = env_number(ENV_RETRY_SECONDS, DEFAULT_RETRY_SECONDS)
        if shutdown_timeout is None:
            shutdown_timeout = env_number(ENV_SHUTDOWN_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT)
        return cls(queue, batch, delay, retry, max(0.0, shutdown_timeout))


@dataclass(frozen=True)
class DeliveryStats:
    """What happened to the spans and metric exports of one configuration (a snapshot).

    With several span destinations each span counts once per destination.
    """

    spans_ended: int = 0
    spans_exported: int = 0
    spans_dropped: int = 0
    spans_pending: int = 0
    spans_dropped_queue_full: int = 0
    spans_dropped_export_failed: int = 0
    spans_dropped_shutdown: int = 0
    metric_exports: int = 0
    metric_exports_failed: int = 0
    metric_points_exported: int = 0
    metric_points_dropped: int = 0

    def __add__(self, other: DeliveryStats) -> DeliveryStats:
        return DeliveryStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        return {reason: getattr(self, f"spans_dropped_{reason}") for reason in DROP_REASONS}

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MetricDelivery:
    """Counters for metric exports (kept by ``GuardedMetricExporter``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}
        self._tokens = itertools.count()
        self.exports = 0
        self.exports_failed = 0
        self.points_exported = 0
        self.points_dropped = 0

    def begin(self, points: int) -> int:
        """Mark an export as in flight; pass the token to ``end``."""
        with self._lock:
            token = next(self._tokens)
            self._inflight[token] = points
        return token

    def end(self, token: int, ok: bool) -> None:
        with self._lock:
            points = self._inflight.pop(token, None)
        if points is not None:  # None: abandoned at shutdown, already counted as dropped
            self.record(ok, points)

    def abandon_inflight(self) -> None:
        """At the shutdown deadline: exports still running count as failed, whatever they return later."""
        with self._lock:
            stuck, self._inflight = list(self._inflight.values()), {}
        for points in stuck:
            self.record(False, points)

    def record(self, ok: bool, points: int) -> None:
        with self._lock:
            if ok:
                self.exports += 1
                self.points_exported += points
            else:
                self.exports_failed += 1
                self.points_dropped += points

    def stats(self) -> DeliveryStats:
        return DeliveryStats(metric_exports=self.exports, metric_exports_failed=self.exports_failed,
                             metric_points_exported=self.points_exported, metric_points_dropped=self.points_dropped)


class DeliverySpanProcessor(SpanProcessor):
    """Batching span processor with exact drop accounting, retries and a bounded shutdown."""

    def __init__(
        self,
        exporter: SpanExporter,
        settings: DeliverySettings | None = None,
        *,
        destination: str = "",
    ) -> None:
        self.settings = settings or DeliverySettings.from_env()
        self.destination = destination or type(exporter).__name__
        self._exporter = exporter
        self._max_queue = self.settings.max_queue_size
        self._batch_size = self.settings.max_export_batch_size
        self._init_state()
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            weak_reinit = weakref.WeakMethod(self._after_fork_in_child)

            def after_in_child() -> None:
                reinit = weak_reinit()
                if reinit is not None:
                    reinit()

            os.register_at_fork(after_in_child=after_in_child)

    # -- state -----------------------------------------------------------------------------
    def _init_state(self) -> None:
        self._queue: deque[ReadableSpan] = deque()
        self._drops_lock = threading.Lock()  # guards the two drop counts on the hot path (drops only)
        self._queue_full = 0
        self._after_close = 0
        self._lock = threading.Lock()  # guards the worker/shutdown accounting below
        self._taken = 0  # popped by the worker (exported, failed, in flight or abandoned)
        self._inflight = 0
        self._exported = 0
        self._failed = 0
        self._abandoned_inflight = 0
        self._cleared = 0  # still queued at the shutdown deadline
        self._closed = False
        self._stopping = False
        self._deadline = 0.0  # monotonic; set by shutdown
        self._abandoned = False
        self._wake = threading.Event()
        self._retry_wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._last_error = ""
        self._reported_drops = 0
        self._last_report = 0.0
        self._worker: threading.Thread | None = None

    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._run, name="ddex-otel-span-delivery", daemon=True)
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        """A forked child starts empty (the parent exports its own spans), with the same exporter."""
        closed = self._closed
        self._init_state()
        self._closed = self._stopping = closed
        if not closed:
            self._start_worker()

    # -- hot path --------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        if self._closed:
            with self._drops_lock:
                self._after_close += 1
            return
        queue = self._queue
        if len(queue) >= self._max_queue:
            with self._drops_lock:
                self._queue_full += 1
            return
        queue.append(span)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    # -- accounting ------------------------------------------------------------------------
    def stats(self) -> DeliveryStats:
        """A snapshot; exact (ended == exported + dropped) once shutdown has returned."""
        with self._lock:
            taken, inflight, cleared = self._taken, self._inflight, self._cleared
            exported, failed, abandoned = self._exported, self._failed, self._abandoned_inflight
            queued = len(self._queue)
        with self._drops_lock:
            full, late = self._queue_full, self._after_close
        worker = self._worker
        finished = self._stopping and (worker is None or not worker.is_alive() or self._abandoned)
        stranded = queued if finished else 0  # slipped in while shutting down: never exported
        shut = abandoned + cleared + late + stranded
        return DeliveryStats(
            spans_ended=taken + cleared + queued + full + late,
            spans_exported=exported,
            spans_dropped=full + failed + shut,
            spans_pending=queued - stranded + inflight,
            spans_dropped_queue_full=full,
            spans_dropped_export_failed=failed,
            spans_dropped_shutdown=shut,
        )

    # -- worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self.settings.schedule_delay
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            self._drain()
            self._report_drops()
            if self._stopping or self._abandoned:
                return

    def _take_batch(self) -> list[ReadableSpan] | None:
        with self._lock:
            if self._abandoned or not self._queue:
                return None
            self._idle.clear()
            queue = self._queue
            batch = [queue.popleft() for _ in range(min(self._batch_size, len(queue)))]
            self._taken += len(batch)
            self._inflight = len(batch)
            return batch

    def _drain(self) -> None:
        try:
            while (batch := self._take_batch()) is not None:
                self._export_with_retry(batch)
        finally:
            self._idle.set()

    def _export_with_retry(self, batch: list[ReadableSpan]) -> None:
        first_failure: float | None = None
        attempt = 0
        while True:
            ok = self._export_once(batch)
            now = time.monotonic()
            with self._lock:
                if self._abandoned:  # shutdown already counted this batch as dropped
                    return
                if ok:
                    self._exported += len(batch)
                    self._inflight = 0
                    return
                first_failure = first_failure or now
                backoff = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**attempt) * random.uniform(0.8, 1.2)
                out_of_time = self._stopping and now + backoff >= self._deadline
                if out_of_time or now - first_failure >= self.settings.retry_seconds:
                    self._failed += len(batch)
                    self._inflight = 0
                    return
            attempt += 1
            if self._retry_wake.wait(backoff):  # shutdown began: retry now, then until its deadline
                self._retry_wake.clear()

    def _export_once(self, batch: list[ReadableSpan]) -> bool:
        try:
            return self._exporter.export(batch) is SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the host
            self._last_error = f"{type(exc).__name__}: {exc}"
            return False

    def _report_drops(self, final: bool = False) -> None:
        """One WARNING per ``log_interval`` at most, naming the reasons; always one at shutdown."""
        stats = self.stats()
        new = stats.spans_dropped - self._reported_drops
        now = time.monotonic()
        if new <= 0 or (not final and now - self._last_report < self.settings.log_interval):
            return
        self._reported_drops, self._last_report = stats.spans_dropped, now
        reasons = ", ".join(f"{reason.replace('_', ' ')}: {n}" for reason, n in stats.dropped_by_reason.items() if n)
        _logger.warning(
            "telemetry: %d span(s) not delivered to %s (%d of %d ended so far; %s)%s",
            new, self.destination, stats.spans_dropped, stats.spans_ended, reasons,
            f"; last error: {self._last_error}" if self._last_error else "",
            extra={"reason": ",".join(r for r, n in stats.dropped_by_reason.items() if n), "count": new},
        )

    # -- flush / shutdown ------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is queued now; False if it did not finish within the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        while True:
            if self._abandoned or (not self._queue and self._idle.is_set()):
                return not self._queue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._wake.set()
            time.sleep(min(0.01, remaining))

    def shutdown(self, timeout_seconds: float | None = None) -> None:
        """Export what fits in ``timeout_seconds`` (default: the settings'), count the rest, return."""
        if self._stopping:
            return
        budget = self.settings.shutdown_timeout if timeout_seconds is None else timeout_seconds
        deadline = time.monotonic() + budget
        self._deadline = deadline
        self._closed = True
        self._stopping = True
        self._wake.set()
        self._retry_wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if worker is not None and worker.is_alive():
                self._abandoned = True
                self._abandoned_inflight += self._inflight
                self._inflight = 0
            queue = self._queue
            while queue:  # popleft, not clear(): a racing append is either counted here or stranded
                queue.popleft()
                self._cleared += 1
        self._report_drops(final=True)
        bounded(self._exporter.shutdown, 0.1, "span exporter shutdown")


def bounded(fn: Callable[[], Any], seconds: float, what: str) -> bool:
    """Run ``fn`` in a daemon thread; wait at most ``seconds``. False if it did not finish (or raised)."""
    outcome: list[bool] = []

    def call() -> None:
        try:
            fn()
            outcome.append(True)
        except Exception:
            _logger.debug("%s failed", what, exc_info=True)
            outcome.append(False)

    thread = threading.Thread(target=call, name=f"ddex-otel-{what.replace(' ', '-')}", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        _logger.debug("%s did not finish within %.1f s; not waiting for it", what, seconds)
        return False
    return bool(outcome and outcome[0])


def register_delivery_metrics(meter_provider: Any, stats: Callable[[], DeliveryStats]) -> None:
    """``ddex.telemetry.spans.dropped`` (by ``reason``) and ``ddex.telemetry.spans.exported``."""
    from opentelemetry.metrics import CallbackOptions, Observation, get_meter

    from ddex_otel.telemetry import attributes as A
    from ddex_otel.telemetry.version import __version__

    meter = get_meter(A.SCOPE_NAME, __version__, meter_provider, schema_url=A.SCHEMA_URL)

    def dropped(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"reason": reason}) for reason, n in stats().dropped_by_reason.items()]

    def exported(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(stats().spans_exported)]

    meter.create_observable_counter(
        "ddex.telemetry.spans.dropped", callbacks=[dropped], unit="{span}",
        description="Spans ended in this process but not delivered, by reason (queue_full, export_failed, shutdown).",
    )
    meter.create_observable_counter(
        "ddex.telemetry.spans.exported", callbacks=[exported], unit="{span}",
        description="Spans exported successfully by this process.",
    )


def total_stats(processors: Iterable[DeliverySpanProcessor],
                metric_delivery: Iterable[MetricDelivery] = ()) -> DeliveryStats:
    """The sum over span destinations and metric exporters."""
    total = DeliveryStats()
    for processor in processors:
        total = total + processor.stats()
    for counters in metric_delivery:
        total = total + counters.stats()
    return total
