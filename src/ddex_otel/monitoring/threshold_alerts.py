"""Threshold alerts on the monitor's numbers, de-duplicated, delivered to handlers that cannot hurt the app.

``Alerting`` holds ``Threshold`` rules ("``parse.duration`` > 5 s") and handlers (any callable taking
an ``Alert``; the e-mail / Slack / webhook notifiers in ``notifiers.py`` are such callables).

* ``check(metrics)`` compares a ``{name: value}`` dict with every rule and returns the firing
  alerts for those values. Notifications go to the handlers: a new alert at once, a change of
  severity at once, the same alert again only after ``cooldown`` seconds, and a ``resolved``
  notice when the metric is back within its threshold. A missing or NaN metric means "no data":
  it neither fires nor resolves.
* ``watch(monitor)`` runs ``check(monitor.aggregates(start=now - window))`` every ``every``
  seconds on a daemon thread; ``stop()`` ends it.

Severity (``Threshold.severity``): a breach is ``"critical"`` when the value is a factor of two
past the threshold in the breach direction, ``"warning"`` otherwise — see ``Threshold.critical_level``.

Handlers run on one worker thread each (a bounded queue in front), so a failing handler never stops
the others and a hung one never stalls ``check()`` beyond ``handler_timeout`` seconds; failures and
overruns are logged once per ``log_interval`` per handler, never raised.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from ddex_otel.telemetry.attributes import DEFAULT_SERVICE_NAME

__all__ = ["Alert", "AlertHandler", "Alerting", "DEFAULT_THRESHOLDS", "Threshold"]

_logger = logging.getLogger(__name__)

Comparison = Literal["gt", "ge", "lt", "le", "eq"]
Severity = Literal["warning", "critical"]
State = Literal["firing", "resolved"]

COMPARISONS: dict[str, str] = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=="}
_ALIASES: dict[str, str] = {symbol: name for name, symbol in COMPARISONS.items()} | {"=": "eq"}

#: The defaults of the original toolkit: (metric, threshold, comparison, description).
DEFAULT_THRESHOLDS: tuple[tuple[str, float, str, str], ...] = (
    ("parse.duration", 5.0, "gt", "parse p95 above 5 s"),
    ("build.duration", 10.0, "gt", "build p95 above 10 s"),
    ("memory.usage", 1000.0, "gt", "process memory (RSS) above 1000 MB"),
    ("error.rate", 0.05, "gt", "more than 5% of operations failed"),
)


class AlertHandler(Protocol):
    """Anything called with one ``Alert`` (its return value is ignored)."""

    def __call__(self, alert: Alert, /) -> Any: ...


@dataclass(frozen=True)
class Alert:
    """One notification: a threshold breached (``firing``) or back within it (``resolved``).

    For a resolved notice ``value`` is the value now back within the threshold and ``severity``
    the severity the alert had while firing.
    """

    metric: str
    value: float
    threshold: float
    comparison: str
    severity: str
    description: str = ""
    state: str = "firing"
    timestamp: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def condition(self) -> str:
        """The rule as text, e.g. ``"> 5"``."""
        return f"{COMPARISONS.get(self.comparison, self.comparison)} {format_number(self.threshold)}"

    @property
    def summary(self) -> str:
        """One line for subjects and log messages, e.g. ``"CRITICAL parse.duration = 12 (threshold > 5)"``."""
        head = "RESOLVED" if self.state == "resolved" else self.severity.upper()
        return f"{head} {self.metric} = {format_number(self.value)} (threshold {self.condition})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (a NaN/inf value becomes ``None``)."""
        data = asdict(self)
        data["value"] = self.value if math.isfinite(self.value) else None
        data["labels"] = dict(self.labels)
        return data


@dataclass(frozen=True)
class Threshold:
    """A rule ``metric <comparison> threshold``; ``critical`` overrides the factor-of-two critical level.

    Comparisons: ``gt`` (>), ``ge`` (>=), ``lt`` (<), ``le`` (<=), ``eq`` (==, exact; meant for counts
    and flags). Symbols (``">"``, ``">="``...) are accepted and stored as names.
    """

    metric: str
    threshold: float
    comparison: str = "gt"
    description: str = ""
    critical: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise ValueError("threshold metric must be a non-empty string")
        comparison = _ALIASES.get(self.comparison, self.comparison)
        if comparison not in COMPARISONS:
            raise ValueError(
                f"unknown comparison {self.comparison!r} for {self.metric}: use one of {', '.join(COMPARISONS)}"
            )
        object.__setattr__(self, "comparison", comparison)
        object.__setattr__(self, "threshold", _finite(self.threshold, f"{self.metric} threshold"))
        object.__setattr__(self, "labels", dict(self.labels))
        if self.critical is not None:
            critical = _finite(self.critical, f"{self.metric} critical level")
            if comparison == "eq":
                raise ValueError(f"{self.metric}: an 'eq' threshold has no critical level (it is always a warning)")
            if (comparison in ("gt", "ge") and critical < self.threshold) or (
                comparison in ("lt", "le") and critical > self.threshold
            ):
                raise ValueError(
                    f"{self.metric}: critical level {format_number(critical)} is not past the threshold "
                    f"{COMPARISONS[comparison]} {format_number(self.threshold)}"
                )
            object.__setattr__(self, "critical", critical)

    @property
    def key(self) -> tuple[str, str, float]:
        """Identity of the rule: (metric, comparison, threshold)."""
        return (self.metric, self.comparison, self.threshold)

    @property
    def critical_level(self) -> float | None:
        """The value from which a breach is critical (inclusive), or ``None`` (warning only).

        Without an explicit ``critical``: the threshold moved by a factor of two in the breach
        direction. For ``gt``/``ge`` that is ``2 × threshold`` when the threshold is positive and
        ``threshold / 2`` when it is negative (both are further up); for ``lt``/``le`` it is
        ``threshold / 2`` when positive and ``2 × threshold`` when negative (further down).
        A zero threshold has no factor to scale, and ``eq`` has no direction: warnings only.
        """
        if self.critical is not None:
            return self.critical
        t = self.threshold
        if self.comparison == "eq" or t == 0:
            return None
        upward = self.comparison in ("gt", "ge")
        return (2 * t if t > 0 else t / 2) if upward else (t / 2 if t > 0 else 2 * t)

    def breached(self, value: float) -> bool:
        """Whether ``value`` is past the threshold (always ``False`` for NaN)."""
        t, c = self.threshold, self.comparison
        if c == "gt":
            return value > t
        if c == "ge":
            return value >= t
        if c == "lt":
            return value < t
        if c == "le":
            return value <= t
        return value == t

    def severity(self, value: float) -> str | None:
        """``"critical"``, ``"warning"`` or ``None`` when ``value`` does not breach the rule."""
        if not self.breached(value):
            return None
        level = self.critical_level
        if level is None:
            return "warning"
        critical = value >= level if self.comparison in ("gt", "ge") else value <= level
        return "critical" if critical else "warning"


@dataclass
class _Firing:
    severity: str
    notified_at: float  # clock() of the last notification
    last: Alert  # the latest firing alert (updated on every check)


class _RateLimitedLog:
    """Logs a problem at WARNING the first time and then at most once per ``interval`` per key."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                show, suppressed = False, 0
            else:
                self._last[key] = now
                show, suppressed = True, self._suppressed.pop(key, 0)
        if show:
            more = f" ({suppressed} similar since last logged)" if suppressed else ""
            _logger.warning(message + "%s", *args, more)
        else:
            _logger.debug(message + "%s", *args, "")


class _HandlerWorker:
    """Delivers alerts to one handler, in order, from a bounded queue, on its own daemon thread.

    The thread starts with the first alert and ends after ``idle`` seconds without work (or when
    the handler raised a ``BaseException`` that killed it); the next alert starts a new one.
    """

    def __init__(
        self, handler: AlertHandler, name: str, max_queue: int, log: _RateLimitedLog, idle: float = 30.0
    ) -> None:
        self.handler = handler
        self.name = name
        self.idle = idle
        self._log = log
        self._queue: queue.Queue[tuple[Alert, threading.Event] | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        #: set when check() gave up waiting for this handler, cleared when it completes a delivery:
        #: while set, check() does not wait for it again.
        self.late = False

    def submit(self, alert: Alert) -> threading.Event | None:
        done = threading.Event()
        with self._lock:
            try:
                self._queue.put_nowait((alert, done))
            except queue.Full:
                self.dropped += 1
                queued = False
            else:
                queued = True
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name=f"ddex-otel-alert-handler[{self.name}]", daemon=True
                    )
                    self._thread.start()
        if not queued:
            self._log.warning(
                f"drop:{self.name}",
                "alert handler %s is still busy (queue of %d full); dropped %s",
                self.name, self._queue.maxsize, alert.summary,
            )
            return None
        return done

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if item is None:
                return
            alert, done = item
            try:
                self.handler(alert)
                self.delivered += 1
            except Exception as exc:  # noqa: BLE001 - a handler must never break alerting or the app
                self.failed += 1
                self._log.warning(
                    f"fail:{self.name}",
                    "alert handler %s failed (%s: %s); other handlers are not affected",
                    self.name, type(exc).__name__, exc,
                )
            finally:
                with self._lock:
                    self.late = False
                    done.set()

    def mark_late(self, done: threading.Event) -> bool:
        """After a timed-out wait: flag the handler late unless the delivery finished meanwhile."""
        with self._lock:
            if not done.is_set():
                self.late = True
            return self.late

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def close(self, timeout: float) -> None:
        """Let the queued alerts go out (up to ``timeout`` s), then end the thread."""
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return
        thread.join(max(timeout, 0.0))


def _handler_name(handler: Any) -> str:
    """A log-safe name: a function's qualified name, a notifier's (masked) repr, else the type name."""
    name = getattr(handler, "__qualname__", None)
    if isinstance(name, str):
        return name
    if getattr(handler, "safe_repr", False):
        return repr(handler)
    return type(handler).__qualname__


class Alerting:
    """Thresholds + handlers + per-rule state (firing severity, last notification).

    ``cooldown``: seconds before the same firing alert (same rule, same severity) is sent again.
    ``handler_timeout``: how long ``check()`` waits for the handlers in total (they run in
    parallel); a handler still running after that goes on in the background and is logged.
    ``service`` / ``labels``: put on every alert (``service`` defaults to ``OTEL_SERVICE_NAME`` or
    ``"ddex-otel"``). ``every`` / ``window``: defaults for ``watch()``. ``max_queue``: alerts
    waiting per handler before new ones are dropped; ``log_interval``: seconds between two WARNING
    logs of the same handler problem; ``worker_idle``: seconds before an idle handler thread ends;
    ``history``: notifications kept in ``self.history``. ``clock`` is the monotonic clock used for
    cooldowns (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        cooldown: float = 300.0,
        handler_timeout: float = 10.0,
        every: float = 60.0,
        window: float = 300.0,
        service: str | None = None,
        labels: Mapping[str, str] | None = None,
        max_queue: int = 100,
        log_interval: float = 300.0,
        worker_idle: float = 30.0,
        history: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown = _non_negative(cooldown, "cooldown")
        self.handler_timeout = _non_negative(handler_timeout, "handler_timeout")
        self.every = _positive(every, "every")
        self.window = _positive(window, "window")
        self.service = service or os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
        self.labels: dict[str, str] = {"service": self.service, **dict(labels or {})}
        self._max_queue = max_queue
        self._worker_idle = worker_idle
        self._clock = clock
        self._log = _RateLimitedLog(log_interval)
        self._lock = threading.RLock()
        self._thresholds: dict[tuple[str, str, float], Threshold] = {}
        self._firing: dict[tuple[str, str, float], _Firing] = {}
        self._workers: list[_HandlerWorker] = []
        #: The most recent notifications sent to the handlers (firing and resolved), oldest first.
        self.history: deque[Alert] = deque(maxlen=history)
        self._watch_thread: threading.Thread | None = None
        self._watch_stop = threading.Event()

    # ------------------------------------------------------------------ rules and handlers

    @classmethod
    def with_defaults(cls, **kwargs: Any) -> Alerting:
        """An ``Alerting`` with the default thresholds (see ``add_default_thresholds``)."""
        alerting = cls(**kwargs)
        alerting.add_default_thresholds()
        return alerting

    def add_default_thresholds(self) -> None:
        """parse.duration > 5 s, build.duration > 10 s, memory.usage > 1000 MB, error.rate > 0.05."""
        for metric, threshold, comparison, description in DEFAULT_THRESHOLDS:
            if (metric, comparison, threshold) not in self._thresholds:
                self.add_threshold(metric, threshold, comparison, description)

    def add_threshold(
        self,
        metric: str,
        threshold: float,
        comparison: str = "gt",
        description: str = "",
        *,
        critical: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Threshold:
        """Add the rule ``metric <comparison> threshold``; a second identical rule is a ``ValueError``."""
        rule = Threshold(metric, threshold, comparison, description, critical, labels or {})
        with self._lock:
            if rule.key in self._thresholds:
                raise ValueError(
                    f"threshold {metric} {COMPARISONS[rule.comparison]} {format_number(rule.threshold)} already exists"
                )
            self._thresholds[rule.key] = rule
        return rule

    def remove_threshold(self, rule: Threshold) -> None:
        with self._lock:
            self._thresholds.pop(rule.key, None)
            self._firing.pop(rule.key, None)

    @property
    def thresholds(self) -> list[Threshold]:
        with self._lock:
            return list(self._thresholds.values())

    def add_handler(self, handler: AlertHandler) -> AlertHandler:
        """Deliver notifications to ``handler`` (any callable taking an ``Alert``); returns it."""
        if not callable(handler):
            raise TypeError(f"alert handler must be callable, got {type(handler).__name__}")
        with self._lock:
            name, taken = _handler_name(handler), {w.name for w in self._workers}
            unique, n = name, 1
            while unique in taken:
                n += 1
                unique = f"{name}#{n}"
            self._workers.append(_HandlerWorker(handler, unique, self._max_queue, self._log, self._worker_idle))
        return handler

    def remove_handler(self, handler: AlertHandler) -> None:
        with self._lock:
            workers = [w for w in self._workers if w.handler is handler]
            self._workers = [w for w in self._workers if w.handler is not handler]
        for worker in workers:
            worker.close(0.0)

    @property
    def handlers(self) -> list[AlertHandler]:
        with self._lock:
            return [w.handler for w in self._workers]

    def handler_stats(self) -> dict[str, dict[str, int]]:
        """Per handler name: ``delivered``, ``failed``, ``dropped`` (queue full) counts."""
        with self._lock:
            workers = list(self._workers)
        return {w.name: {"delivered": w.delivered, "failed": w.failed, "dropped": w.dropped} for w in workers}

    # ------------------------------------------------------------------ evaluation

    def check(self, metrics: Mapping[str, float]) -> list[Alert]:
        """Compare ``metrics`` with every rule; return the firing alerts and notify the handlers.

        Returns every breached rule's alert for these values, whether or not it was notified
        (cooldown). Values must be numbers (``TypeError`` otherwise); a metric that is absent or
        NaN is "no data" for its rules. Returns after the handlers finished or ``handler_timeout``
        seconds, whichever comes first.
        """
        values = {name: _as_float(name, value) for name, value in metrics.items()}
        now_wall, now = time.time(), self._clock()
        firing: list[Alert] = []
        notify: list[Alert] = []
        with self._lock:
            for key, rule in self._thresholds.items():
                value = values.get(rule.metric)
                if value is None or math.isnan(value):
                    continue
                severity = rule.severity(value)
                state = self._firing.get(key)
                if severity is None:
                    if state is not None:
                        del self._firing[key]
                        notify.append(self._alert(rule, value, state.severity, "resolved", now_wall))
                    continue
                alert = self._alert(rule, value, severity, "firing", now_wall)
                firing.append(alert)
                if state is None or state.severity != severity or now - state.notified_at >= self.cooldown:
                    self._firing[key] = _Firing(severity, now, alert)
                    notify.append(alert)
                else:
                    state.last = alert
            self.history.extend(notify)
            # queued under the lock, so concurrent check() calls reach each handler in state order
            waits = self._submit(notify) if notify else []
        if waits:
            self._wait(waits)
        return firing

    def active(self) -> list[Alert]:
        """The alerts currently firing, each as of the latest ``check()`` that saw it."""
        with self._lock:
            return [state.last for state in self._firing.values()]

    def _alert(self, rule: Threshold, value: float, severity: str, state: str, timestamp: float) -> Alert:
        return Alert(
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            severity=severity,
            description=rule.description,
            state=state,
            timestamp=timestamp,
            labels={**self.labels, **rule.labels},
        )

    def _submit(self, alerts: Iterable[Alert]) -> list[tuple[_HandlerWorker, threading.Event]]:
        waits: list[tuple[_HandlerWorker, threading.Event]] = []
        for alert in alerts:
            for worker in self._workers:
                done = worker.submit(alert)
                if done is not None:
                    waits.append((worker, done))
        return waits

    def _wait(self, waits: list[tuple[_HandlerWorker, threading.Event]]) -> None:
        deadline = time.monotonic() + self.handler_timeout
        for worker, done in waits:
            if worker.late:  # still stuck since an earlier check(): do not wait for it again
                continue
            if not done.wait(max(0.0, deadline - time.monotonic())) and worker.mark_late(done):
                self._log.warning(
                    f"slow:{worker.name}",
                    "alert handler %s did not finish within %.3g s; it goes on in the background",
                    worker.name, self.handler_timeout,
                )

    # ------------------------------------------------------------------ periodic evaluation

    def watch(self, monitor: Any, every: float | None = None, window: float | None = None) -> Alerting:
        """Every ``every`` s (first run at once), ``check(monitor.aggregates(start=now - window))``.

        ``monitor`` is anything with ``aggregates(start=..., end=...) -> dict[str, float]`` (a
        ``PerformanceMonitor``). Runs on a daemon thread; errors are logged, never raised. Returns self.
        """
        every = self.every if every is None else _positive(every, "every")
        window = self.window if window is None else _positive(window, "window")
        if not callable(getattr(monitor, "aggregates", None)):
            raise TypeError("watch() needs an object with aggregates(start=..., end=...)")
        with self._lock:
            if self._watch_thread is not None and self._watch_thread.is_alive():
                raise RuntimeError("this Alerting is already watching; call stop() first")
            self._watch_stop = threading.Event()
            stop = self._watch_stop
            self._watch_thread = threading.Thread(
                target=self._watch_loop, args=(monitor, every, window, stop), name="ddex-otel-alerting", daemon=True
            )
            self._watch_thread.start()
        return self

    def _watch_loop(self, monitor: Any, every: float, window: float, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check(monitor.aggregates(start=time.time() - window))
            except Exception as exc:  # noqa: BLE001 - never let the watcher die or raise into the app
                self._log.warning("watch", "alert evaluation failed (%s: %s); retrying in %.3g s",
                                  type(exc).__name__, exc, every)
            stop.wait(every)

    @property
    def watching(self) -> bool:
        return self._watch_thread is not None and self._watch_thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ``watch()`` (waits up to ``timeout`` s for a running evaluation). Handlers stay."""
        self._watch_stop.set()
        thread = self._watch_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._watch_thread = None

    def close(self, timeout: float = 5.0) -> None:
        """``stop()``, then let each handler finish its queue (up to ``timeout`` s in total) and end it."""
        self.stop(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close(deadline - time.monotonic())

    def __enter__(self) -> Alerting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Alerting(thresholds={len(self._thresholds)}, handlers={len(self._workers)}, "
            f"cooldown={self.cooldown:g}, service={self.service!r})"
        )


# ---------------------------------------------------------------------- helpers


def format_number(value: float) -> str:
    """Compact number text: 5 not 5.0, 0.05, 1.23e+06."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite")
    return float(value)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")
    return float(value)


def _positive(value: float, what: str) -> float:
    value = _finite(value, what)
    if value <= 0:
        raise ValueError(f"{what} must be > 0")
    return value


def _non_negative(value: float, what: str) -> float:
    value = _finite(value, what)
    if value < 0:
        raise ValueError(f"{what} must be >= 0")
    return value
