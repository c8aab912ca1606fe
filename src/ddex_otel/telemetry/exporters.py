"""Exporters that never hurt the host: failures are counted, logged once, never raised.

``GuardedSpanExporter`` / ``GuardedMetricExporter`` wrap any SDK exporter:
  * an exception from the inner exporter becomes a FAILURE result;
  * each failed export is counted in a shared ``ExportFailures`` (``handle.export_failures``);
  * the first failure is logged at WARNING with its cause, later ones only at DEBUG;
  * after a failure, exports within ``cooldown`` seconds are dropped (and counted) without
    trying, so a dead collector costs one exporter timeout per cooldown instead of one per
    batch, and ``shutdown()`` with a dead collector stays short.
``ExportLogFilter`` rate-limits the repeats the SDK and OTLP exporters log themselves (each retry
and each failed batch); records about dropped data always pass.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ddex_otel.telemetry.otelcompat import metric_exporter_preferences

_logger = logging.getLogger("ddex_otel.telemetry")

#: Loggers of the SDK and exporters whose export-failure messages are de-duplicated.
NOISY_LOGGER_PREFIXES: tuple[str, ...] = ("opentelemetry.exporter", "opentelemetry.sdk")
_FAILURE_HINTS: tuple[str, ...] = (
    "export", "transient error", "failed to write", "retry", "timed out", "connection", "unavailable",
)
#: Records that say telemetry was lost pass the filter whatever else they say.
_NEVER_FILTERED: tuple[str, ...] = ("queue full", "dropping", "dropped")


class ExportFailures:
    """Thread-safe failure counters shared by the guarded exporters of one configuration."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failed_exports = 0
        self.dropped_items = 0
        #: (signal, destination, error) of the first failure
        self.first: tuple[str, str, str] | None = None
        self.last_failure_at: float | None = None
        #: signal ("traces", "metrics", "logs", "" when unknown) -> the first cause its exporter
        #: logged (kept by ``ExportLogFilter``, which sees every record of the exporters)
        self.logged_causes: dict[str, str] = {}

    def record(self, signal: str, destination: str, items: int, error: str) -> None:
        with self._lock:
            self.failed_exports += 1
            self.dropped_items += items
            self.last_failure_at = time.monotonic()
            first = self.first is None
            if first:
                self.first = (signal, destination, error)
        if first:
            _logger.warning(
                "telemetry export failed (%s → %s: %s); the application is not affected. "
                "Further export failures are counted, not logged.",
                signal, destination, error,
            )
        else:
            _logger.debug("telemetry export failed again (%s → %s: %s)", signal, destination, error)

    def count_dropped(self, items: int) -> None:
        with self._lock:
            self.failed_exports += 1
            self.dropped_items += items

    @property
    def count(self) -> int:
        return self.failed_exports

    def note_logged_cause(self, signal: str, cause: str) -> None:
        with self._lock:
            self.logged_causes.setdefault(signal, cause)

    def cause(self) -> str:
        """The cause of the first failure as its signal's exporter logged it; else what the traces,
        then the metrics exporter logged (same endpoint, and the exporter's words say more than our
        guard's ``exporter returned FAILURE``); else our guard's reason; else any logged cause (an
        endpoint without a logs service answers UNIMPLEMENTED to logs alone: not the news)."""
        causes = dict(self.logged_causes)
        signal, _, own = self.first if self.first is not None else ("", "", "")
        return (causes.get(signal) or causes.get("traces") or causes.get("metrics") or causes.get("") or own
                or next(iter(causes.values()), ""))

    @property
    def first_error(self) -> str | None:
        """``signal → destination: error`` of the first failure, or None."""
        if self.first is None:
            return None
        signal, destination, error = self.first
        return f"{signal} → {destination}: {error}"


class _Guard:
    def __init__(self, failures: ExportFailures, signal: str, destination: str, cooldown: float) -> None:
        self.failures = failures
        self.signal = signal
        self.destination = destination
        self.cooldown = cooldown
        self._breaker_at: float | None = None

    def tripped(self) -> bool:
        at = self._breaker_at
        return at is not None and self.cooldown > 0 and time.monotonic() - at < self.cooldown

    def failed(self, items: int, error: str) -> None:
        self._breaker_at = time.monotonic()
        self.failures.record(self.signal, self.destination, items, error)


class GuardedSpanExporter(SpanExporter):
    """A SpanExporter that counts and swallows failures of ``inner`` (see the module docstring)."""

    def __init__(
        self, inner: SpanExporter, failures: ExportFailures, destination: str, cooldown: float = 5.0
    ) -> None:
        self.inner = inner
        self._guard = _Guard(failures, "traces", destination, cooldown)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._guard.tripped():
            self._guard.failures.count_dropped(len(spans))
            return SpanExportResult.FAILURE
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # noqa: BLE001 - telemetry must never raise into the host
            self._guard.failed(len(spans), f"{type(exc).__name__}: {exc}")
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._guard.failed(len(spans), "exporter returned FAILURE")
        return result

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            _logger.debug("span exporter shutdown failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis))
        except Exception:  # noqa: BLE001
            return False


class GuardedMetricExporter(MetricExporter):
    """A MetricExporter that counts and swallows failures of ``inner``; same temporality.

    ``delivery`` (a ``MetricDelivery``) counts exports and data points exported or dropped;
    ``factory`` re-creates ``inner`` in a forked child (a gRPC channel does not survive fork).
    """

    def __init__(
        self,
        inner: MetricExporter,
        failures: ExportFailures,
        destination: str,
        cooldown: float = 5.0,
        *,
        delivery: Any = None,
        factory: Callable[[], MetricExporter] | None = None,
    ) -> None:
        temporality, aggregation = metric_exporter_preferences(inner)  # the inner exporter's, as the reader asks us
        super().__init__(preferred_temporality=temporality, preferred_aggregation=aggregation)
        self.inner = inner
        self.delivery = delivery
        self._factory = factory
        self._guard = _Guard(failures, "metrics", destination, cooldown)
        if factory is not None and hasattr(os, "register_at_fork"):
            weak = weakref.WeakMethod(self._after_fork_in_child)

            def after_in_child() -> None:
                reinit = weak()
                if reinit is not None:
                    reinit()

            os.register_at_fork(after_in_child=after_in_child)

    def _after_fork_in_child(self) -> None:
        self._guard._breaker_at = None
        try:
            self.inner = self._factory()  # type: ignore[misc]
        except Exception:
            _logger.debug("could not re-create the metric exporter after fork", exc_info=True)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        points = _count_points(metrics_data)
        token = self.delivery.begin(points) if self.delivery is not None else None
        result = self._export(metrics_data, points, timeout_millis, **kwargs)
        if token is not None:
            self.delivery.end(token, result is MetricExportResult.SUCCESS)
        return result

    def _export(self, metrics_data: MetricsData, points: int, timeout_millis: float, **kwargs: Any) -> MetricExportResult:
        if self._guard.tripped():
            self._guard.failures.count_dropped(points)
            return MetricExportResult.FAILURE
        try:
            result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self._guard.failed(points, f"{type(exc).__name__}: {exc}")
            return MetricExportResult.FAILURE
        if result is not MetricExportResult.SUCCESS:
            self._guard.failed(points, "exporter returned FAILURE")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis=timeout_millis))
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        try:
            self.inner.shutdown(timeout_millis=timeout_millis)
        except Exception:
            _logger.debug("metric exporter shutdown failed", exc_info=True)


def _count_points(metrics_data: MetricsData) -> int:
    try:
        return sum(
            len(metric.data.data_points)
            for rm in metrics_data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        )
    except Exception:  # noqa: BLE001
        return 0


class ExportLogFilter(logging.Filter):
    """Rate-limit the export-failure records of the SDK/exporters: one per ``interval`` seconds.

    Only the exporters' retry/failure chatter is limited; a record that says data was dropped
    (``queue full``, ``dropping``) always passes, and ours (``ddex_otel.telemetry``, which
    reports every drop with counts) are never filtered. A passed record after a quiet period
    says how many were suppressed in between.

    Given ``failures``, the first cause each signal's exporter logs is noted there
    (``ExportFailures.logged_causes``), suppressed or not: the signals fail in no fixed order, and
    the one-line warning of a command tells the cause of the failure it names.
    """

    def __init__(self, interval: float = 30.0, failures: ExportFailures | None = None) -> None:
        super().__init__("")
        self._lock = threading.Lock()
        self.interval = interval
        self.failures = failures
        self._last_passed: float | None = None
        self.passed = False
        self.suppressed = 0
        self._suppressed_since = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        text = str(record.msg).lower()
        if any(hint in text for hint in _NEVER_FILTERED) or not any(hint in text for hint in _FAILURE_HINTS):
            return True
        if self.failures is not None:
            signal = _signal_of(record)
            if signal not in self.failures.logged_causes:  # a retry's repeat: its cause is already kept
                cause = _short_cause(record.getMessage())
                if cause:
                    self.failures.note_logged_cause(signal, cause)
        now = time.monotonic()
        with self._lock:
            if self._last_passed is None or now - self._last_passed >= self.interval:
                self._last_passed = now
                self.passed = True
                if self._suppressed_since:
                    record.msg = f"{record.msg} ({self._suppressed_since} similar message(s) suppressed)"
                    self._suppressed_since = 0
                return True
            self.suppressed += 1
            self._suppressed_since += 1
        return False

    def install(self) -> list[logging.Logger]:
        """Attach to every existing SDK/exporter logger (records are filtered where they are logged).

        This filter goes first in each logger's list: the SDK puts a ``DuplicateFilter`` on its
        exporter loggers, which drops a record whose text template equals the previous one's, so a
        traces failure logged right after a logs failure of the same wording would never be seen."""
        loggers = []
        for name in list(logging.Logger.manager.loggerDict):
            if name.startswith(NOISY_LOGGER_PREFIXES):
                logger = logging.getLogger(name)
                if self not in logger.filters:
                    logger.filters.insert(0, self)
                loggers.append(logger)
        return loggers

    def uninstall(self, loggers: list[logging.Logger]) -> None:
        for logger in loggers:
            logger.removeFilter(self)


#: Our own records about undelivered telemetry (``ExportFailures.record``, ``DeliverySpanProcessor``).
_OWN_UNDELIVERED_PREFIXES: tuple[str, ...] = ("telemetry export failed", "telemetry: %d span(s) not delivered")


def is_export_failure(record: logging.LogRecord) -> bool:
    """True for a record that says telemetry could not be exported (the SDK's, the exporters' or ours)."""
    if record.levelno < logging.WARNING:
        return False
    text = str(record.msg)
    if record.name.startswith(NOISY_LOGGER_PREFIXES):
        return any(hint in text.lower() for hint in _FAILURE_HINTS)
    return text.startswith(_OWN_UNDELIVERED_PREFIXES)


class ExportWarningCollector(logging.Filter):
    """A handler filter for command-line runs: export-failure records are held back so the run can
    say it all in ONE line at its end (``one_line``) instead of the SDK's retry messages plus a line
    per signal. Every other record passes. The line's cause is ``ExportFailures.cause()``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_export_failure(record)

    def one_line(self, handle: Any) -> str | None:
        """``telemetry not delivered: …`` for ``handle`` (after its shutdown), or None if all went out."""
        stats = handle.delivery
        failures = handle.failures
        if not (stats.spans_dropped or stats.metric_exports_failed or failures.count):
            return None
        parts = []
        if stats.spans_dropped:
            parts.append(f"{stats.spans_dropped} of {stats.spans_ended} span(s)")
        if stats.metric_exports_failed:
            parts.append(f"{stats.metric_exports_failed} metric export(s)")
        first = failures.first
        where = f"{first[0]} → {first[1]}" if first is not None else ", ".join(handle.destinations)
        cause = failures.cause()
        return (f"telemetry not delivered: {' and '.join(parts) or 'exports failed'} "
                f"({where}{': ' + cause if cause else ''}); the command itself is unaffected")


def _signal_of(record: logging.LogRecord) -> str:
    """``traces`` / ``metrics`` / ``logs`` for an exporter's record (by its text or logger), else ""."""
    text = f"{record.name} {record.getMessage()}".lower()
    for signal, words in (("traces", ("trace", "span")), ("metrics", ("metric",)), ("logs", ("log",))):
        if any(word in text for word in words):
            return signal
    return ""


#: The exporters' records that tell no cause of a failure, only that shutdown ended its retries.
_NO_CAUSE_PREFIXES: tuple[str, ...] = ("Shutdown in progress", "Exporter already shutdown")


def _short_cause(message: str) -> str:
    """``UNAVAILABLE (Connection refused)`` from a gRPC exporter's retry message; else its first words;
    "" for a record that says only that shutdown cut a retry short (it names no cause)."""
    if message.startswith(_NO_CAUSE_PREFIXES):
        return ""
    status = re.search(r"StatusCode\.(\w+)", message)
    if status is not None:
        detail = " ".join(message.split("Error details", 1)[1].lstrip(":= ").split()) if "Error details" in message else ""
        if len(detail) > 300:
            detail = detail[:299] + "…"
        return status.group(1) + (f" ({detail})" if detail else "")
    line = " ".join(re.split(r",? retrying in", message, maxsplit=1)[0].split())
    # the SDK's "Failed to export … reason: <why>": the why is ours (the session's own words, with
    # what to check), so it is kept whole
    line = re.sub(r"^Failed to export [\w ]+?(?:batch )?code: \S+, reason: ", "", line)
    return line if len(line) <= 400 else line[:399] + "…"
