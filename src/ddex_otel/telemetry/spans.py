"""One operation = one span + its metrics; stages are child spans or span attributes.

An ``Operation`` lives in a context variable while its engine call runs, so the stage wrappers
(module-level functions of the engine, wrapped from outside) know which operation they belong to
and do nothing otherwise. Attribute dictionaries for metrics are cached: an operation's metric
attributes come from a handful of (operation, version, error type) combinations.

Bookkeeping (everything but the wrapped call itself) is guarded: a bug in telemetry is logged at
DEBUG and never reaches the caller.

Only the public API of ``opentelemetry-api`` (and of ``opentelemetry-instrumentation``) is used
here: the contract's "API hygiene" — an SDK release must not be able to break the host through us.

Per-operation resource usage (CPU time, peak-RSS growth) costs system calls on every operation, so
it is measured only when asked for: ``Settings.resource_usage`` (``resource_usage=True`` /
``OTEL_PYTHON_DDEX_RESOURCE_USAGE``) or while a consumer holds a ``request_resource_usage()``
(the performance monitor and the profiler do, through ``monitoring.spanfeed``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from threading import get_ident
from time import perf_counter, time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics as metrics_api
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from ddex_otel.ern import model
from ddex_otel.ern.lazy import is_pending
from ddex_otel.ern.stages import OBSERVER as STAGE_OBSERVER
from ddex_otel.ern.stages import StageReport
from ddex_otel.ern.versions import READABLE_VERSIONS
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import records
from ddex_otel.telemetry.apitypes import is_api_placeholder
from ddex_otel.telemetry.metrics import Instruments
from ddex_otel.telemetry.otelcompat import global_providers_unset
from ddex_otel.telemetry.resource_usage import MAXRSS_UNIT, RUSAGE_PEAK, getrusage, thread_time

_logger = logging.getLogger(__name__)

#: The operation whose engine call is running in this context (None outside any).
CURRENT_OPERATION: ContextVar[Operation | None] = ContextVar("ddex_otel_operation", default=None)

_INTERNAL = SpanKind.INTERNAL

#: (ru_maxrss, perf_counter time) of the latest peak-RSS reading by any operation. The peak only
#: grows, so a reading taken less than PEAK_REUSE_SECONDS before an operation starts is a start
#: value at most that stale: back-to-back operations read the peak once each, at their end.
_last_peak: tuple[int, float] = (0, float("-inf"))
PEAK_REUSE_SECONDS = 100e-6
_NO_STAGES: frozenset[str] = frozenset()
_set_span_in_context = trace.set_span_in_context
#: The span of a deferred operation until ``finish()`` starts it (its own object: a no-op tracer's
#: spans are ``INVALID_SPAN``, which must not read as "not started").
_NOT_STARTED = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
get_current_context = otel_context.get_current


def enabled_context() -> otel_context.Context | None:
    """The current context, or None when instrumentation is suppressed there.

    ``is_instrumentation_enabled()`` plus the context the span will start in: the operation passes
    it on as ``start_span(context=…)`` and ``set_span_in_context``, which is what both would read.
    """
    if not is_instrumentation_enabled():
        return None
    return get_current_context()


# -- per-operation details on request -----------------------------------------------------------


class _Requests:
    """How many consumers currently ask for each per-operation detail (process-wide counts, read
    once per operation)."""

    __slots__ = ("resource_usage", "stage_attributes")

    def __init__(self) -> None:
        self.resource_usage = 0
        self.stage_attributes = 0


_requests = _Requests()
_requests_lock = threading.Lock()


def _request(detail: str) -> Callable[[], None]:
    """Count one request for ``detail``; the returned function gives it back (once, idempotent)."""
    with _requests_lock:
        setattr(_requests, detail, getattr(_requests, detail) + 1)
    released = False

    def release() -> None:
        nonlocal released
        with _requests_lock:
            if not released:
                released = True
                setattr(_requests, detail, getattr(_requests, detail) - 1)

    return release


def request_resource_usage() -> Callable[[], None]:
    """Turn per-operation CPU time and memory growth on, process-wide, until the returned function
    is called (each request is released once; requests are counted, so the last release turns the
    readings off again unless ``resource_usage`` is on in the settings)."""
    return _request("resource_usage")


def resource_usage_requested() -> bool:
    """True while at least one consumer holds a ``request_resource_usage()``."""
    return _requests.resource_usage > 0


def request_stage_attributes() -> Callable[[], None]:
    """Put the ``ddex.stage.<stage>.duration`` attributes on operation spans, process-wide, until
    the returned function is called (counted like ``request_resource_usage``). The consumers of
    ended spans that show stages (performance monitor, profiler, the CLI summary) ask for them."""
    return _request("stage_attributes")


def stage_attributes_requested() -> bool:
    """True while at least one consumer holds a ``request_stage_attributes()``."""
    return _requests.stage_attributes > 0


def request_operation_details(*, resource_usage: bool = True) -> Callable[[], None]:
    """What a consumer of ended operation spans asks for: the stage attributes and (unless
    ``resource_usage`` is False) per-operation resource usage; one function gives both back."""
    releases = [request_stage_attributes()]
    if resource_usage:
        releases.append(request_resource_usage())

    def release() -> None:
        for give_back in releases:
            give_back()

    return release


def is_listed_release(release: Any) -> bool:
    """True for a streamed ReleaseList element (``stream`` yields a purge's PurgedRelease as a Release too).

    An unread (lazy) item is never a PurgedRelease, and asking its ``kind`` would read all of it."""
    return is_pending(release) or getattr(release, "kind", "") != "PurgedRelease"


@dataclass(frozen=True)
class Settings:
    """Instrumentation options (see ``DDEXInstrumentor._instrument``)."""

    stage_spans: bool = False
    stage_attributes: bool = False
    stage_metrics: bool = True
    resource_usage: bool = False
    stream_progress_every: int = 100
    max_finding_events: int = 20


class Telemetry:
    """What the wrappers close over: tracer, instruments, options and attribute caches."""

    def __init__(
        self,
        tracer: Tracer,
        instruments: Instruments,
        settings: Settings,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        """``tracer_provider`` / ``meter_provider``: what the tracer and meter came from (None: the
        global providers)."""
        self.tracer = tracer
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.instruments = instruments
        self.settings = settings
        self.totals = instruments.totals
        #: ``ddex.operation.duration``'s record method (looked up once: it runs per operation).
        self.record_duration = instruments.operation_duration.record
        self.resource_usage = settings.resource_usage
        self.stage_metrics = settings.stage_metrics
        self.stage_spans = settings.stage_spans
        self.stage_attributes = settings.stage_attributes
        self._op_attrs: dict[str, dict[str, str]] = {}
        self._version_attrs: dict[tuple[str, str | None, str | None], dict[str, str]] = {}
        self._stage_sets = {op: frozenset(stages) for op, stages in A.STAGES.items()}
        self._known_versions = frozenset(READABLE_VERSIONS)
        self._live: bool | None = None
        #: Both signals wait for the application's global providers (none were given).
        self._global_providers = isinstance(tracer, trace.ProxyTracer) and meter_provider is None

    def live(self) -> bool:
        """False while neither spans nor metrics go anywhere (no SDK installed): wrappers then
        call straight through, so an app without an OpenTelemetry SDK pays a dictionary lookup or
        two per call rather than the no-op API machinery of a span and a record.

        Decided once the providers are real; re-checked (cheaply) while they are still proxies,
        since an application may install the SDK after instrumenting.
        """
        if self._live is not None:
            return self._live
        if self._global_providers and global_providers_unset():  # the cheap answer while none is set
            return False
        traces, traces_final = _tracer_live(self.tracer)
        metrics, metrics_final = _meter_live(self.meter_provider)
        live = traces or metrics
        if (traces_final and metrics_final) or live and (traces_final or metrics_final):
            self._live = live
        return live

    # -- cached attribute dicts (never mutated after creation) ---------------------------------
    def op_attrs(self, operation: str) -> dict[str, str]:
        attrs = self._op_attrs.get(operation)
        if attrs is None:
            attrs = self._op_attrs[operation] = {A.OPERATION_NAME: operation}
        return attrs

    def known_version(self, version: str | None) -> str | None:
        """``version`` if the engine knows it, else None: a caller's arbitrary string must not become
        a metric label."""
        return version if version in self._known_versions else None

    def version_attrs(self, operation: str, version: str | None, error_type: str | None = None) -> dict[str, str]:
        version = self.known_version(version)
        key = (operation, version, error_type)
        attrs = self._version_attrs.get(key)
        if attrs is None:
            attrs = {A.OPERATION_NAME: operation}
            if version is not None:
                attrs[A.ERN_VERSION] = version
            if error_type is not None:
                attrs[A.ERROR_TYPE] = error_type
            if len(self._version_attrs) < 1000:
                self._version_attrs[key] = attrs
        return attrs

    def stages_of(self, operation: str) -> frozenset[str]:
        return self._stage_sets.get(operation, _NO_STAGES)

    # -- operations ------------------------------------------------------------------------------
    def start(self, operation: str, parent: otel_context.Context | None = None,
              started_at: float | None = None, *, deferred: bool = False) -> Operation:
        """Start an operation's span (child of ``parent`` or of the current span).

        ``started_at``: the ``perf_counter()`` reading when the operation really began, for a caller
        that learns only afterwards that a call was one (the XML layer: a parse is a DDEX document's
        once its root is seen). Span and duration start then; per-operation CPU and memory, not
        measured from that start, are left out.

        ``deferred``: the span is started by ``finish()`` (or by ``fail()``), back-dated to the
        operation's start, with every attribute at once: one pass of the SDK's attribute checks
        instead of two, a sampler that sees them all, and no context to attach during the call. For
        a caller that needs no span current while the call runs: nothing inside it starts a child
        span or writes a log record (a parse with stage spans off; a call that has already run).
        The facts are noted in between as usual.
        """
        return Operation(self, operation, parent, started_at, deferred)


def _tracer_live(tracer: Any) -> tuple[bool, bool]:
    """(records anything, answer is final)."""
    if isinstance(tracer, trace.NoOpTracer):
        return False, True
    if isinstance(tracer, trace.ProxyTracer):  # delegates to the global provider once one is set
        if is_api_placeholder(trace.get_tracer_provider()):
            return False, False
        return True, True
    return True, True


def _meter_live(meter_provider: Any) -> tuple[bool, bool]:
    """(records anything, answer is final) for the instruments of ``meter_provider`` (None: global)."""
    if meter_provider is not None:
        return not is_api_placeholder(meter_provider), True
    if is_api_placeholder(metrics_api.get_meter_provider()):  # none set yet (or a no-op one)
        return False, False
    return True, True


class Operation:
    """State of one parse/stream/build/validate call from its start to its span's end."""

    __slots__ = (
        "tel", "name", "span", "recording", "ctx", "t0", "cpu0", "rss0", "thread", "version",
        "input_size", "output_size", "releases", "releases_reported", "stages", "attrs",
        "error_type", "finished", "stage_set", "stage_spans", "stage_attributes", "stream_input",
        "_counted", "message", "input_path", "message_type", "parent",
    )
    span: trace.Span
    # Facts set to None in __init__ and filled in as the call goes on.
    version: str | None
    input_size: int | None
    output_size: int | None
    error_type: str | None
    stream_input: Any
    message: Any
    input_path: str | None
    message_type: str | None

    def __init__(self, tel: Telemetry, name: str, parent: otel_context.Context | None = None,
                 started_at: float | None = None, deferred: bool = False) -> None:
        """Start the operation's span, as a child of ``parent`` (the current context when None);
        ``started_at`` and ``deferred``: see ``Telemetry.start``."""
        self.tel = tel
        self.name = name
        self.parent = parent
        if deferred:
            self.span = _NOT_STARTED  # started at the end, with the attributes gathered until then
            self.recording = recording = True
            self.ctx = otel_context.get_current() if parent is None else parent
        else:
            # ddex.operation.name at the start, where a sampler can read it; the rest at the end.
            self.span = span = tel.tracer.start_span(
                A.SPAN_NAMES[name], context=parent, kind=_INTERNAL, attributes=tel.op_attrs(name),
                start_time=None if started_at is None else time_ns() - int((perf_counter() - started_at) * 1e9),
            )
            self.recording = recording = span.is_recording()
            self.ctx = _set_span_in_context(span, parent)
        self.version = self.input_size = self.output_size = self.error_type = self.stream_input = None
        #: Facts kept as they come and turned into span attributes once, at the end (recording only):
        #: the parse result, the read stage's path, the detect stage's message type.
        self.message = self.input_path = self.message_type = None
        self.releases = self.releases_reported = 0
        #: The engine's stage reports, (stage, seconds, detail), appended by the engine itself (its
        #: stage observer is this list's ``append``) and read when the operation ends.
        self.stages: list[StageReport] = []
        #: Span attributes gathered during the call, set in one call at the end (recording only).
        self.attrs: dict[str, Any] = {}
        self.finished = self._counted = False  # _counted: added to the totals (and left ``active``)
        self.stage_set = tel._stage_sets.get(name, _NO_STAGES)  # hot path: the private table, not a method call
        #: Stage child spans for this operation (option on and the span sampled).
        self.stage_spans = recording and tel.stage_spans
        #: ``ddex.stage.<stage>.duration`` span attributes (option on or asked for, and the span sampled).
        self.stage_attributes = recording and (tel.stage_attributes or _requests.stage_attributes)
        tel.totals.enter(name)
        if started_at is not None:  # began before it was known to be one: no start readings
            self.thread = None  # (none at the end either)
            self.t0 = started_at
        elif tel.resource_usage or _requests.resource_usage:  # inlined resource_usage.sample()
            self.thread = get_ident()
            self.cpu0 = thread_time()
            t0 = perf_counter()
            peak, read_at = _last_peak
            if t0 - read_at > PEAK_REUSE_SECONDS:
                peak = getrusage(RUSAGE_PEAK).ru_maxrss
                _remember_peak(peak, t0)
            self.rss0 = peak
            self.t0 = t0
        else:
            self.thread = None  # no start readings: none at the end either
            self.t0 = perf_counter()

    # -- facts about the message -----------------------------------------------------------------
    def note_input(self, data: Any) -> None:
        """From the read stage's InputData (or the stream's StreamInput): size and path."""
        size = getattr(data, "size", None)
        if size is None:
            size = getattr(data, "bytes_read", None)
        if isinstance(size, int):
            self.input_size = size
        path = getattr(data, "path", None)
        if path and self.recording:
            self.attrs[A.FILE_PATH] = str(path)

    def note_version(self, version: Any, message_type: Any = None) -> None:
        if isinstance(version, str):
            self.version = version
            if self.recording:
                self.attrs[A.ERN_VERSION] = version
        if isinstance(message_type, str) and self.recording:
            self.attrs[A.MESSAGE_TYPE] = message_type

    def note_header(self, header: model.MessageHeader | None) -> None:
        if header is None or not self.recording:
            return
        attrs = self.attrs
        if header.message_id:
            attrs[A.MESSAGE_ID] = header.message_id
        sender = header.sender
        if sender is not None and sender.party_ids:
            attrs[A.SENDER_ID] = _pick_dpid(sender.party_ids)

    def note_message(self, message: Any, *, with_version: bool = True) -> None:
        """Version, type, ids and counts of a Message (parse result, build/validate input)."""
        if not isinstance(message, model.Message):
            return
        self.releases = len(message.releases)  # ReleaseList elements; a purge's are in purged_releases
        version = message.ern_version if with_version else None
        if isinstance(version, str):
            self.version = version
        if not self.recording:
            return
        attrs = self.attrs
        if isinstance(version, str):
            attrs[A.ERN_VERSION] = version
        attrs[A.MESSAGE_TYPE] = message.message_type
        attrs[A.RELEASE_COUNT] = self.releases
        attrs[A.RESOURCE_COUNT] = len(message.resources)
        attrs[A.DEAL_COUNT] = len(message.deals)
        self.note_header(message.header)

    def note_findings(self, findings: Sequence[Any]) -> None:
        """Validation findings → one log record and span event each (capped) and two count attributes."""
        if findings:
            with records.within(self.ctx):
                records.findings(self.name, findings, limit=self.tel.settings.max_finding_events, **self.log_facts())
        if not self.recording:
            return
        errors = warnings = 0
        limit = self.tel.settings.max_finding_events
        for finding in findings:
            severity = getattr(finding, "severity", "")
            if severity == "error":
                errors += 1
                name = A.EVENT_VALIDATION_ERROR
            else:
                warnings += 1
                name = A.EVENT_VALIDATION_WARNING
            if errors + warnings <= limit:
                self.span.add_event(
                    name,
                    {
                        A.FINDING_CODE: str(getattr(finding, "code", "")),
                        A.FINDING_MESSAGE: str(getattr(finding, "message", "")),
                        A.FINDING_PATH: str(getattr(finding, "path", "")),
                    },
                )
        self.attrs[A.VALIDATION_ERROR_COUNT] = errors
        self.attrs[A.VALIDATION_WARNING_COUNT] = warnings

    # -- stages ----------------------------------------------------------------------------------
    def note_stages(self) -> None:
        """What the engine's stage reports say about the message: the read stage's input (size,
        path; the read stage comes first) and the detect stage's version and message type (needed
        only without a parse result, which says both). Read once, when the operation ends or fails."""
        stages = self.stages
        stage, _seconds, detail = stages[0]
        if stage == "read" and detail is not None:  # parser.InputData
            self.input_size = len(detail.data)
            self.input_path = detail.path
        if self.message is None:
            for stage, _seconds, detail in stages:
                if stage == "detect" and detail is not None:  # (ern_version, message_type)
                    self.version, self.message_type = detail

    def run_stage_span(self, stage: str, wrapped: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        """Run one stage with its ``ddex.<operation>.<stage>`` child span current."""
        span = self.tel.tracer.start_span(A.stage_span_name(self.name, stage), context=self.ctx, kind=_INTERNAL)
        token = otel_context.attach(trace.set_span_in_context(span, self.ctx))
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            mark_error(span, exc)
            raise
        finally:
            otel_context.detach(token)
            span.end()

    # -- end -------------------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """Record a failure: ERROR status, the exception as an event, ``error.type``."""
        try:
            self.error_type = type(exc).__qualname__
            if self.stages:
                self.note_stages()
            if self.span is _NOT_STARTED:  # deferred: the error's event and log need the span now
                self._start_deferred({}, perf_counter() - self.t0)
            findings = getattr(exc, "findings", None)
            if findings:
                self.note_findings(findings)
            if self.recording:
                mark_error(self.span, exc)
            with records.within(self.ctx):
                records.operation_failed(self.name, exc, **self.log_facts())
        except Exception:  # pragma: no cover - telemetry must not mask the real error
            _logger.debug("ddex_otel: failed to record an error", exc_info=True)

    def log_facts(self) -> dict[str, Any]:
        """The message id and file path known so far, for the log records (``records``)."""
        return {"message_id": self.attrs.get(A.MESSAGE_ID),
                "path": self.attrs.get(A.FILE_PATH) or self.input_path or getattr(self.stream_input, "path", None)}

    def finish(self) -> None:
        """Record the duration (with this span as exemplar context), add the totals, end the span."""
        if self.finished:
            return
        self.finished = True
        try:
            self._record()
        except Exception:  # pragma: no cover
            _logger.debug("ddex_otel: failed to record an operation", exc_info=True)
        finally:
            if not self._counted:  # never leave an operation "active" forever
                self._counted = True
                self.tel.totals.finish(self.name, (self.name, None), None, 0, None, None, None)
            self.span.end()

    def report_releases(self) -> None:
        """Add the releases not yet counted to ``ddex.releases.processed`` (streams report as they go)."""
        new = self.releases - self.releases_reported
        if new > 0 and self.name != A.OP_VALIDATE:  # validation neither reads nor writes them
            self.tel.totals.add_releases((self.name, self.tel.known_version(self.version)), new)
            self.releases_reported = self.releases

    def _record(self) -> None:
        end = perf_counter()
        duration = end - self.t0
        if self.stages:
            self.note_stages()
        message = self.message
        if message is not None:  # the parse result, noted now rather than during the call
            self.message = None
            self.note_message(message)
        tel = self.tel
        name = self.name
        version = self.version
        if version not in tel._known_versions:  # inlined known_version (hot path)
            version = None
        attrs_key = (name, version, self.error_type)
        metric_attrs = tel._version_attrs.get(attrs_key)
        if metric_attrs is None:
            metric_attrs = tel.version_attrs(name, version, self.error_type)
        recording = self.recording
        attrs = self.attrs
        cpu = memory = None
        if self.thread is not None:  # resource usage was on when the operation started
            cpu1 = thread_time()
            rss1 = getrusage(RUSAGE_PEAK).ru_maxrss
            global _last_peak  # inlined _remember_peak() (hot path)
            _last_peak = (rss1, end)
            # Thread CPU means nothing if the operation ended on another thread (a stream handed
            # over, or closed by the garbage collector): leave it out rather than lie.
            if self.thread == get_ident():
                cpu = cpu1 - self.cpu0
                if cpu < 0.0:
                    cpu = 0.0
                if recording:
                    attrs[A.RESOURCE_CPU_TIME] = cpu
            memory = (rss1 - self.rss0) * MAXRSS_UNIT
            if memory < 0:
                memory = 0
            if recording:
                attrs[A.RESOURCE_MEMORY_DELTA] = memory
        releases = 0
        if name != A.OP_VALIDATE:
            releases = self.releases - self.releases_reported
            self.releases_reported = self.releases
        size = self.output_size if name == A.OP_BUILD else self.input_size
        self._counted = True
        tel.totals.finish(
            name, (name, version), size, releases, cpu, memory, self.stages if tel.stage_metrics else None
        )
        if recording:
            self._finish_attributes(attrs)
        if self.span is _NOT_STARTED:  # deferred: the span starts now, back-dated, with every attribute
            self._start_deferred(attrs, duration)
        elif recording:
            self.span.set_attributes(attrs)
        # After the span exists: the record's exemplar names it.
        tel.record_duration(duration, metric_attrs, context=self.ctx)

    def _finish_attributes(self, attrs: dict[str, Any]) -> None:
        """The facts kept during the call, as span attributes (the dict is handed over to the span)."""
        name = self.name
        if self.message_type is not None:  # the detect stage's (the message's own, if any, wins)
            attrs.setdefault(A.ERN_VERSION, self.version)
            attrs.setdefault(A.MESSAGE_TYPE, self.message_type)
        if self.input_path:
            attrs.setdefault(A.FILE_PATH, self.input_path)
        if self.stage_attributes:
            for stage, seconds, _detail in self.stages:
                attrs[_STAGE_ATTRS.get(stage) or A.stage_duration_attribute(stage)] = seconds
        if self.input_size is not None and name != A.OP_BUILD:
            attrs[A.INPUT_SIZE] = self.input_size
        if self.output_size is not None:
            attrs[A.OUTPUT_SIZE] = self.output_size
        self.attrs = {}  # handed over to the span (a late write must not reach it)

    def _start_deferred(self, attrs: dict[str, Any], duration: float) -> None:
        """Start a deferred operation's span ``duration`` seconds in the past, with ``attrs``."""
        tel = self.tel
        attrs[A.OPERATION_NAME] = self.name
        self.span = span = tel.tracer.start_span(
            A.SPAN_NAMES[self.name], context=self.parent, kind=_INTERNAL, attributes=attrs,
            start_time=time_ns() - int(duration * 1e9),
        )
        self.recording = span.is_recording()
        self.ctx = _set_span_in_context(span, self.parent)


#: ``ddex.stage.<stage>.duration`` per stage name of the engine (others: computed when met).
_STAGE_ATTRS: dict[str, str] = {
    stage: A.stage_duration_attribute(stage) for stages in A.STAGES.values() for stage in stages
}


def _remember_peak(peak: int, at: float) -> None:
    """Keep the latest peak-RSS reading (one tuple: readers see a value and its time together)."""
    global _last_peak  # process-wide, like the peak itself
    _last_peak = (peak, at)


def _pick_dpid(party_ids: Sequence[str]) -> str:
    """The sender's DPID: the first PADPIDA… id, else the first id."""
    for pid in party_ids:
        if pid.startswith("PADPIDA"):
            return pid
    return party_ids[0]


def mark_error(span: trace.Span, exc: BaseException) -> None:
    """ERROR status with the message, the exception as an event, ``error.type`` = class name."""
    if not span.is_recording():
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"[:1024]))
    span.set_attribute(A.ERROR_TYPE, type(exc).__qualname__)


def run_operation(
    tel: Telemetry,
    operation: str,
    wrapped: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    before: Callable[[Operation, tuple, dict], None] | None = None,
    after: Callable[[Operation, Any], None] | None = None,
    parent: otel_context.Context | None = None,
) -> Any:
    """Run ``wrapped`` as one operation: span current during the call, metrics at the end.

    ``parent``: the current context if the caller already has it (``enabled_context()``).
    """
    op = Operation(tel, operation, parent)
    ctx_token = otel_context.attach(op.ctx)
    op_token = CURRENT_OPERATION.set(op)
    observer_token = STAGE_OBSERVER.set(op.stages.append) if op.stage_set else None
    try:
        if before is not None:
            try:
                before(op, args, kwargs)
            except Exception:  # pragma: no cover - bookkeeping must never break the call
                _logger.debug("ddex_otel: bookkeeping failed before %s", operation, exc_info=True)
        try:
            result = wrapped(*args, **kwargs)
        except Exception as exc:
            op.fail(exc)
            raise
        if after is not None:
            try:
                after(op, result)
            except Exception:  # pragma: no cover
                _logger.debug("ddex_otel: bookkeeping failed after %s", operation, exc_info=True)
        return result
    finally:
        if observer_token is not None:
            STAGE_OBSERVER.reset(observer_token)
        CURRENT_OPERATION.reset(op_token)
        otel_context.detach(ctx_token)
        op.finish()


def call_guarded(func: Callable[..., None], *args: Any) -> None:
    try:
        func(*args)
    except Exception:  # pragma: no cover - telemetry bookkeeping must never break the call
        _logger.debug("ddex_otel: bookkeeping failed in %s", getattr(func, "__name__", func), exc_info=True)


_ACTIVE: Telemetry | None = None


def set_active(tel: Telemetry | None) -> None:
    """Remember the instrumentor's Telemetry (``batch()`` uses its tracer)."""
    global _ACTIVE  # one instrumentor per process (BaseInstrumentor is a singleton)
    _ACTIVE = tel


def active() -> Telemetry | None:
    return _ACTIVE
