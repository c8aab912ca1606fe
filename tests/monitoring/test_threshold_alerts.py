"""Alerting rules, severities, cooldown/resolve state, handler isolation and the watch thread (no network)."""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from typing import Any

import pytest

from ddex_otel.monitoring import Alert, Alerting, Threshold
from ddex_otel.monitoring.threshold_alerts import DEFAULT_THRESHOLDS


class Recorder:
    """A handler that records alerts and lets a test wait (with a deadline) for a count."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._cond = threading.Condition()

    def __call__(self, alert: Alert) -> None:
        with self._cond:
            self.alerts.append(alert)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Alert]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.alerts) >= count, timeout), (
                f"expected {count} alerts within {timeout} s, got {len(self.alerts)}"
            )
            return list(self.alerts)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeMonitor:
    """Stands in for PerformanceMonitor: only ``aggregates(start=, end=)``."""

    def __init__(self, values: dict[str, float], fail_first: int = 0) -> None:
        self.values = values
        self.calls: list[tuple[float | None, float | None]] = []
        self.fail_first = fail_first
        self._cond = threading.Condition()

    def aggregates(self, start: float | None = None, end: float | None = None) -> dict[str, float]:
        with self._cond:
            self.calls.append((start, end))
            self._cond.notify_all()
            if len(self.calls) <= self.fail_first:
                raise RuntimeError("monitor not ready")
            return dict(self.values)

    def wait_calls(self, count: int, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, timeout), len(self.calls)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --------------------------------------------------------------------------- severity rules

SEVERITY_CASES = [
    # comparison, threshold, value, expected severity
    ("gt", 5, 5, None),
    ("gt", 5, 5.001, "warning"),
    ("gt", 5, 9.999, "warning"),
    ("gt", 5, 10, "critical"),  # critical boundary: value >= 2 x threshold
    ("gt", 5, 1e9, "critical"),
    ("gt", 5, -1, None),
    ("ge", 5, 4.999, None),
    ("ge", 5, 5, "warning"),
    ("ge", 5, 9.999, "warning"),
    ("ge", 5, 10, "critical"),
    ("lt", 10, 10, None),
    ("lt", 10, 9.99, "warning"),
    ("lt", 10, 5.001, "warning"),
    ("lt", 10, 5, "critical"),  # critical boundary: value <= threshold / 2
    ("lt", 10, -3, "critical"),
    ("le", 10, 10.001, None),
    ("le", 10, 10, "warning"),
    ("le", 10, 5.001, "warning"),
    ("le", 10, 5, "critical"),
    ("eq", 3, 3, "warning"),  # eq: always a warning
    ("eq", 3, 3.0001, None),
    ("eq", 0, 0, "warning"),
    # zero thresholds: no factor to scale -> warnings only
    ("gt", 0, 0, None),
    ("gt", 0, 1e12, "warning"),
    ("ge", 0, 0, "warning"),
    ("lt", 0, -1e12, "warning"),
    ("le", 0, 0, "warning"),
    # negative thresholds: the factor of two still points in the breach direction
    ("gt", -10, -10, None),
    ("gt", -10, -9, "warning"),
    ("gt", -10, -5, "critical"),  # -10 / 2
    ("gt", -10, 3, "critical"),
    ("ge", -10, -10, "warning"),
    ("lt", -10, -10, None),
    ("lt", -10, -19.9, "warning"),
    ("lt", -10, -20, "critical"),  # 2 x -10
    ("le", -10, -10, "warning"),
    ("le", -10, -20, "critical"),
]


@pytest.mark.parametrize(("comparison", "threshold", "value", "expected"), SEVERITY_CASES)
def test_severity_rule(comparison: str, threshold: float, value: float, expected: str | None) -> None:
    rule = Threshold("m", threshold, comparison)
    assert rule.severity(value) == expected
    assert rule.breached(value) is (expected is not None)


def test_critical_levels_documented_values() -> None:
    assert Threshold("m", 5, "gt").critical_level == 10
    assert Threshold("m", 10, "lt").critical_level == 5
    assert Threshold("m", -10, "ge").critical_level == -5
    assert Threshold("m", -10, "le").critical_level == -20
    assert Threshold("m", 0, "gt").critical_level is None
    assert Threshold("m", 3, "eq").critical_level is None


def test_nan_value_never_breaches() -> None:
    for comparison in ("gt", "ge", "lt", "le", "eq"):
        assert Threshold("m", 1, comparison).severity(math.nan) is None


def test_explicit_critical_level_overrides_factor_of_two() -> None:
    rule = Threshold("m", 5, "gt", critical=7)
    assert rule.severity(6.99) == "warning"
    assert rule.severity(7) == "critical"
    low = Threshold("m", 0, "lt", critical=-100)  # zero threshold gets a critical level this way
    assert low.severity(-99) == "warning"
    assert low.severity(-100) == "critical"


def test_symbols_are_accepted_and_normalised() -> None:
    assert Threshold("m", 1, ">=").comparison == "ge"
    assert Threshold("m", 1, "<").comparison == "lt"
    assert Threshold("m", 1, "==").comparison == "eq"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"comparison": "gte"}, ValueError, "unknown comparison 'gte'"),
        ({"threshold": math.nan}, ValueError, "finite"),
        ({"threshold": math.inf}, ValueError, "finite"),
        ({"threshold": "5"}, TypeError, "must be a number"),
        ({"threshold": True}, TypeError, "must be a number"),
        ({"metric": ""}, ValueError, "non-empty"),
        ({"critical": 4}, ValueError, "not past the threshold"),
        ({"comparison": "lt", "critical": 6}, ValueError, "not past the threshold"),
        ({"comparison": "eq", "critical": 6}, ValueError, "always a warning"),
    ],
)
def test_bad_thresholds_are_typed_errors(kwargs: dict[str, Any], error: type[Exception], text: str) -> None:
    args = {"metric": "parse.duration", "threshold": 5, "comparison": "gt"} | kwargs
    with pytest.raises(error, match=text):
        Threshold(**args)


# --------------------------------------------------------------------------- check()


def test_defaults_are_the_documented_four() -> None:
    rules = {(t.metric, t.comparison, t.threshold) for t in Alerting.with_defaults().thresholds}
    assert rules == {
        ("parse.duration", "gt", 5.0),
        ("build.duration", "gt", 10.0),
        ("memory.usage", "gt", 1000.0),
        ("error.rate", "gt", 0.05),
    }
    assert len(DEFAULT_THRESHOLDS) == 4
    al = Alerting()
    al.add_default_thresholds()
    al.add_default_thresholds()  # idempotent
    assert len(al.thresholds) == 4


def test_check_returns_the_alerts_for_the_given_values() -> None:
    al = Alerting.with_defaults(service="ingest", labels={"env": "test"})
    alerts = al.check({"parse.duration": 6.2, "build.duration": 3.0, "memory.usage": 2500, "error.rate": 0.01,
                       "unrelated": 1e9})
    by_metric = {a.metric: a for a in alerts}
    assert set(by_metric) == {"parse.duration", "memory.usage"}
    parse = by_metric["parse.duration"]
    assert (parse.value, parse.threshold, parse.comparison, parse.severity, parse.state) == (6.2, 5.0, "gt", "warning", "firing")
    assert parse.description == "parse p95 above 5 s"
    assert parse.labels == {"service": "ingest", "env": "test"}
    assert abs(parse.timestamp - time.time()) < 60
    assert by_metric["memory.usage"].severity == "critical"
    assert parse.summary == "WARNING parse.duration = 6.2 (threshold > 5)"
    assert parse.to_dict()["value"] == 6.2


def test_check_ignores_missing_and_nan_metrics_and_rejects_non_numbers() -> None:
    al = Alerting.with_defaults()
    assert al.check({}) == []
    assert al.check({"parse.duration": math.nan}) == []
    with pytest.raises(TypeError, match="'parse.duration' must be a number"):
        al.check({"parse.duration": "slow"})


def test_service_defaults_to_otel_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "nightly-ingest")
    assert Alerting().service == "nightly-ingest"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    assert Alerting().service == "ddex-otel"


def test_duplicate_threshold_is_an_error_but_two_rules_per_metric_are_fine() -> None:
    al = Alerting()
    al.add_threshold("error.rate", 0.05, "gt", "errors")
    al.add_threshold("error.rate", 0.5, "ge", "most operations fail")
    with pytest.raises(ValueError, match="already exists"):
        al.add_threshold("error.rate", 0.05, ">")
    assert [a.comparison for a in al.check({"error.rate": 0.6})] == ["gt", "ge"]


# --------------------------------------------------------------------------- cooldown and resolve


def _notified(al: Alerting, rec: Recorder, metrics: dict[str, float]) -> list[Alert]:
    before = len(rec.alerts)
    al.check(metrics)
    return rec.alerts[before:]


def test_cooldown_suppresses_repeats_but_check_still_returns_them(clock: FakeClock) -> None:
    al = Alerting(cooldown=300, clock=clock)
    al.add_threshold("parse.duration", 5, "gt")
    rec = Recorder()
    al.add_handler(rec)

    assert [a.severity for a in _notified(al, rec, {"parse.duration": 6})] == ["warning"]
    clock.now += 299
    assert _notified(al, rec, {"parse.duration": 7}) == []
    assert [a.value for a in al.check({"parse.duration": 7})] == [7]  # still firing, still returned
    clock.now += 1  # 300 s after the first notification
    again = _notified(al, rec, {"parse.duration": 8})
    assert [(a.severity, a.value, a.state) for a in again] == [("warning", 8, "firing")]
    assert _notified(al, rec, {"parse.duration": 8}) == []


def test_severity_change_notifies_at_once(clock: FakeClock) -> None:
    al = Alerting(cooldown=300, clock=clock)
    al.add_threshold("memory.usage", 1000, "gt")
    rec = Recorder()
    al.add_handler(rec)
    assert [a.severity for a in _notified(al, rec, {"memory.usage": 1500})] == ["warning"]
    clock.now += 1
    assert [a.severity for a in _notified(al, rec, {"memory.usage": 2000})] == ["critical"]
    clock.now += 1
    assert _notified(al, rec, {"memory.usage": 2500}) == []  # same severity, in cooldown
    assert [a.severity for a in _notified(al, rec, {"memory.usage": 1200})] == ["warning"]  # de-escalation too
    assert _notified(al, rec, {"memory.usage": 1300}) == []
    assert [(a.state, a.severity, a.value) for a in al.active()] == [("firing", "warning", 1300)]


def test_resolved_notice_when_back_within_threshold(clock: FakeClock) -> None:
    al = Alerting(cooldown=300, clock=clock, service="svc")
    al.add_threshold("error.rate", 0.05, "gt", "too many errors")
    rec = Recorder()
    al.add_handler(rec)
    _notified(al, rec, {"error.rate": 0.2})  # critical (>= 0.1)
    assert _notified(al, rec, {"error.rate": math.nan}) == []  # no data: neither resolves nor fires
    assert _notified(al, rec, {}) == []
    resolved = _notified(al, rec, {"error.rate": 0.01})
    assert len(resolved) == 1
    notice = resolved[0]
    assert (notice.state, notice.severity, notice.value, notice.metric) == ("resolved", "critical", 0.01, "error.rate")
    assert notice.summary.startswith("RESOLVED error.rate")
    assert notice.labels["service"] == "svc"
    assert al.active() == []
    assert _notified(al, rec, {"error.rate": 0.0}) == []  # resolved once only
    # a new breach after resolution notifies at once, even inside the old cooldown
    assert [a.state for a in _notified(al, rec, {"error.rate": 0.06})] == ["firing"]
    assert [a.state for a in al.history] == ["firing", "resolved", "firing"]


def test_concurrent_checks_reach_handlers_in_state_order() -> None:
    al = Alerting(cooldown=300)
    al.add_threshold("m", 5, "gt")
    rec = Recorder()
    al.add_handler(rec)

    def hammer(values: tuple[float, float]) -> None:
        for i in range(300):
            al.check({"m": values[i % 2]})

    threads = [threading.Thread(target=hammer, args=(v,)) for v in ((6, 1), (1, 6))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    expected = [a.state for a in al.history]
    states = [a.state for a in rec.wait_for(len(expected))]
    assert states == expected
    assert states[0] == "firing"
    assert all(a != b for a, b in itertools.pairwise(states))  # strictly firing, resolved, firing, ...
    al.close()


# --------------------------------------------------------------------------- handler isolation


def test_failing_handler_does_not_stop_others_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def broken(alert: Alert) -> None:
        calls.append(alert)
        raise ConnectionError("pager service down")

    al = Alerting(cooldown=0)
    al.add_threshold("parse.duration", 5, "gt")
    rec = Recorder()
    al.add_handler(broken)
    al.add_handler(rec)
    with caplog.at_level(logging.DEBUG, logger="ddex_otel.monitoring.threshold_alerts"):
        for value in (6, 7, 8):
            assert len(al.check({"parse.duration": value})) == 1
    assert [a.value for a in rec.wait_for(3)] == [6, 7, 8]
    assert len(calls) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "broken" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "ConnectionError: pager service down" in warnings[0].getMessage()
    stats = al.handler_stats()
    assert stats[broken.__qualname__] == {"delivered": 0, "failed": 3, "dropped": 0}


def test_hung_handler_cannot_stall_check(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def hung(alert: Alert) -> None:
        release.wait(30)

    al = Alerting(cooldown=0, handler_timeout=0.5, max_queue=1)
    al.add_threshold("parse.duration", 5, "gt")
    rec = Recorder()
    al.add_handler(hung)
    al.add_handler(rec)
    try:
        with caplog.at_level(logging.WARNING, logger="ddex_otel.monitoring.threshold_alerts"):
            started = time.monotonic()
            al.check({"parse.duration": 6})  # waits handler_timeout for the hung handler, once
            first = time.monotonic() - started
            started = time.monotonic()
            for value in (7, 8, 9):  # no more waiting for it; its queue (1) fills, then alerts are dropped
                al.check({"parse.duration": value})
            rest = time.monotonic() - started
        assert 0.4 < first < 2.0, first
        assert rest < 0.5, rest
        assert [a.value for a in rec.wait_for(4)] == [6, 7, 8, 9]  # the other handler got everything
        text = caplog.text
        assert text.count("did not finish within 0.5 s") == 1
        assert "is still busy" in text
        assert al.handler_stats()[hung.__qualname__]["dropped"] == 2
        release.set()  # the hung handler recovers: 6 and the queued 7 go out
        deadline = time.monotonic() + 5
        while al.handler_stats()[hung.__qualname__]["delivered"] < 2 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        assert al.handler_stats()[hung.__qualname__]["delivered"] == 2
        al.check({"parse.duration": 10})  # no longer late: check() waits for its delivery again
        assert al.handler_stats()[hung.__qualname__]["delivered"] == 3
    finally:
        release.set()
        al.close(timeout=5)


def test_idle_worker_threads_end_and_restart_on_demand() -> None:
    al = Alerting(cooldown=0, worker_idle=0.05)
    al.add_threshold("m", 1, "gt")
    rec = Recorder()
    al.add_handler(rec)
    [worker] = al._workers
    assert not worker.running  # nothing to deliver yet: no thread
    al.check({"m": 2})
    rec.wait_for(1)
    deadline = time.monotonic() + 5
    while worker.running and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert not worker.running, "idle worker thread did not end"
    al.check({"m": 3})
    assert [a.value for a in rec.wait_for(2)] == [2, 3]
    al.close()


def test_handlers_with_the_same_name_are_told_apart() -> None:
    al = Alerting()
    al.add_handler(lambda alert: None)
    al.add_handler(lambda alert: None)
    assert sorted(al.handler_stats()) == ["test_handlers_with_the_same_name_are_told_apart.<locals>.<lambda>",
                                          "test_handlers_with_the_same_name_are_told_apart.<locals>.<lambda>#2"]


def test_add_handler_rejects_non_callables() -> None:
    with pytest.raises(TypeError, match="callable"):
        Alerting().add_handler("not a handler")  # type: ignore[arg-type]


def test_remove_handler_stops_delivery() -> None:
    al = Alerting(cooldown=0)
    al.add_threshold("m", 1, "gt")
    rec, other = Recorder(), Recorder()
    al.add_handler(rec)
    al.add_handler(other)
    al.remove_handler(rec)
    al.check({"m": 2})
    other.wait_for(1)
    assert rec.alerts == []
    assert al.handlers == [other]


# --------------------------------------------------------------------------- watch()


def test_watch_checks_the_monitor_aggregates_periodically() -> None:
    monitor = FakeMonitor({"parse.duration": 12.0, "error.rate": 0.0})
    al = Alerting.with_defaults(cooldown=0)
    rec = Recorder()
    al.add_handler(rec)
    al.watch(monitor, every=0.05, window=120.0)
    try:
        alerts = rec.wait_for(2)
        assert al.watching
        assert alerts[0].metric == "parse.duration" and alerts[0].severity == "critical"
        monitor.wait_calls(2)
        start, end = monitor.calls[0]
        assert end is None
        assert start is not None and abs(start - (time.time() - 120.0)) < 30
        with pytest.raises(RuntimeError, match="already watching"):
            al.watch(monitor)
    finally:
        al.stop()
    assert not al.watching  # the thread has ended: no further evaluation


def test_watch_survives_monitor_errors(caplog: pytest.LogCaptureFixture) -> None:
    monitor = FakeMonitor({"memory.usage": 1500.0}, fail_first=2)
    al = Alerting.with_defaults()
    rec = Recorder()
    al.add_handler(rec)
    with caplog.at_level(logging.WARNING, logger="ddex_otel.monitoring.threshold_alerts"):
        al.watch(monitor, every=0.02, window=60)
        try:
            assert rec.wait_for(1)[0].metric == "memory.usage"
        finally:
            al.stop()
    failures = [r for r in caplog.records if "alert evaluation failed" in r.getMessage()]
    assert len(failures) == 1  # two failures, logged once
    assert "RuntimeError: monitor not ready" in failures[0].getMessage()


def test_watch_validates_arguments() -> None:
    al = Alerting()
    with pytest.raises(TypeError, match="aggregates"):
        al.watch(object())
    with pytest.raises(ValueError, match="every must be > 0"):
        al.watch(FakeMonitor({}), every=0)
    with pytest.raises(ValueError, match="window must be > 0"):
        al.watch(FakeMonitor({}), window=-1)


def test_watch_uses_configured_defaults() -> None:
    al = Alerting(every=0.05, window=42.0)
    monitor = FakeMonitor({})
    al.watch(monitor)
    try:
        monitor.wait_calls(2)
    finally:
        al.stop()
    start, _ = monitor.calls[0]
    assert start is not None and abs(start - (time.time() - 42.0)) < 30
