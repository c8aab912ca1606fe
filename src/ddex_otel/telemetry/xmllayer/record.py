"""Turning one recognised XML-library call into one operation of ``ddex_otel.telemetry.spans``.

The wrappers (one module per library) decide *whether* a call is a DDEX document's (``detect``);
this module records it through the same ``Telemetry``/``Operation`` path as our engine's own
operations, so the span, the ``ddex.operation.duration`` histogram, the observable totals and the
toolkit's span feed see XML-layer operations exactly like the engine's.

Silence rules, checked in this order by every wrapper:

* input that is not DDEX: the original function is called, nothing else happens (a parse is
  checked by its result's root tag, a failed one by the head of its input);
* a call made inside one of our operations (``CURRENT_OPERATION`` is set: the engine parsing or
  building with lxml, or an XML-layer operation whose library calls itself, such as ``tostring``
  calling ``ElementTree.write``): no second span;
* no SDK installed (``Telemetry.live()``) or instrumentation suppressed in the context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from opentelemetry.context import Context
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import spans
from ddex_otel.telemetry.metrics import Instruments
from ddex_otel.telemetry.spans import CURRENT_OPERATION, Operation, Telemetry, enabled_context, run_operation
from ddex_otel.telemetry.version import __version__
from ddex_otel.telemetry.xmllayer.detect import EventCounter, Facts, InputFacts, Root

_logger = logging.getLogger(__name__)

#: Events the event counter needs from an iterparse (added to the application's, then filtered out).
COUNTED_EVENTS = ("start", "end")


def inside_operation() -> bool:
    """True inside one of our operations (engine or XML layer): the XML layer stays silent there."""
    return CURRENT_OPERATION.get() is not None


class Layer:
    """The Telemetry XML-layer operations record into.

    The engine instrumentor's (``spans.active()``) when it is instrumented and no provider was
    given explicitly, so both share one set of instruments; otherwise one of our own, made at the
    first DDEX call (by then ``opentelemetry-instrument`` has instrumented everything it will,
    whatever the order).
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._own: Telemetry | None = None

    def telemetry(self) -> Telemetry | None:
        """The Telemetry to record into, or None when nothing would be recorded (no SDK installed)."""
        tel = spans.active() if self._tracer_provider is None and self._meter_provider is None else None
        if tel is None:
            tel = self._own
            if tel is None:
                tracer = get_tracer(A.SCOPE_NAME, __version__, self._tracer_provider, schema_url=A.SCHEMA_URL)
                meter = get_meter(A.SCOPE_NAME, __version__, self._meter_provider, schema_url=A.SCHEMA_URL)
                tel = self._own = Telemetry(tracer, Instruments.create(meter), spans.Settings(),
                                            tracer_provider=self._tracer_provider,
                                            meter_provider=self._meter_provider)
        return tel if tel.live() else None

    def target(self) -> tuple[Telemetry, Context] | None:
        """(Telemetry, parent context) for an operation starting here, or None when nothing is to be
        recorded: no SDK installed, or instrumentation suppressed in the current context."""
        tel = self.telemetry()
        if tel is None:
            return None
        parent = enabled_context()
        return None if parent is None else (tel, parent)


class Call(NamedTuple):
    """One recognised call: which library and function, the DDEX root it declared, its input."""

    library: str
    function: str
    root: Root
    input: InputFacts | None = None


def describe(op: Operation, call: Call) -> None:
    """What is known before the call: input size and path, version, message type, library."""
    if call.input is not None:
        op.note_input(call.input)
    op.note_version(call.root.version, call.root.message_type)
    if op.recording:
        attrs = op.attrs
        attrs[A.XML_LIBRARY] = call.library
        attrs[A.CODE_FUNCTION] = call.function
        attrs[A.STANDARD] = call.root.standard


def note_facts(op: Operation, root: Root | None, facts: Facts | None) -> None:
    """What the call produced (or was given, when writing): the root it really has, counts, ids."""
    if root is not None:
        op.note_version(root.version, root.message_type)
    if facts is None:
        return
    if facts.releases is not None:
        op.releases = facts.releases
    if op.recording:
        attrs = op.attrs
        if facts.message_id is not None:
            attrs[A.MESSAGE_ID] = facts.message_id
        if facts.sender_id is not None:
            attrs[A.SENDER_ID] = facts.sender_id
        if facts.releases is not None:
            attrs[A.RELEASE_COUNT] = facts.releases
        if facts.resources is not None:
            attrs[A.RESOURCE_COUNT] = facts.resources
        if facts.deals is not None:
            attrs[A.DEAL_COUNT] = facts.deals


def record_after(layer: Layer, operation: str, call: Call, started_at: float,
                 facts: tuple[Root | None, Facts | None] | None = None, error: BaseException | None = None) -> None:
    """Record a call that has already run as one operation that began at ``started_at``.

    A parse is known to be a DDEX document's only once its root is seen (or, when it fails, once
    the head of its input is read): the non-DDEX call pays for nothing but that check.
    """
    try:
        target = layer.target()
        if target is None:
            return
        tel, parent = target
        # A call that succeeded is recorded in one step: its span starts with every attribute.
        op = tel.start(operation, parent, started_at, deferred=error is None)
        describe(op, call)
        if error is not None:
            op.fail(error)
        elif facts is not None:
            note_facts(op, *facts)
        op.finish()
    except Exception:  # pragma: no cover - telemetry must never break the host
        _logger.debug("ddex_otel: could not record an XML-layer %s", operation, exc_info=True)


def record_serialize(
    layer: Layer,
    call: Call,
    facts: Facts | None,
    wrapped: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    size_of_result: Callable[[Any], int | None],
) -> Any:
    """Run a recognised write of a DDEX root as one ``ddex.serialize`` operation."""
    target = layer.target()
    if target is None:
        return wrapped(*args, **kwargs)
    tel, parent = target

    def before(op: Operation, _args: tuple, _kwargs: dict) -> None:
        describe(op, call)
        note_facts(op, None, facts)

    def after(op: Operation, result: Any) -> None:
        size = size_of_result(result)
        if size is not None:
            op.output_size = size

    return run_operation(tel, A.OP_SERIALIZE, wrapped, args, kwargs, before, after, parent)


def with_events(args: tuple, kwargs: dict, events: tuple[str, ...]) -> tuple[tuple, dict]:
    """``args``/``kwargs`` of an ``iterparse(source, events, …)`` call (source not included) with
    ``events`` replaced: the second parameter in lxml, ``xml.etree`` and defusedxml alike."""
    if args:
        return (events, *args[1:]), kwargs
    return args, {**kwargs, "events": events}


def counted_events(requested: Iterable[str] | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """(events the application asked for, events to ask the parser for)."""
    wanted = frozenset(requested) if requested is not None else frozenset(("end",))
    return wanted, tuple(wanted | frozenset(COUNTED_EVENTS))


class TracedIterparse:
    """An iterparse iterator with one ``ddex.stream`` operation from its first event to its end.

    The operation ends on exhaustion (``ddex.stream.complete=true``), on a parse error (an error
    span), on ``close()`` and when the iterator is garbage collected unfinished
    (``ddex.stream.complete=false``). With a ``counter``, the parser was asked for ``start`` and
    ``end`` events too; events the application did not ask for are counted and dropped here.
    Other attributes (``root``, ``error_log``, …) are the wrapped iterator's.
    """

    def __init__(self, inner: Any, layer: Layer, call: Call, wanted: frozenset[str] | None,
                 counter: EventCounter | None) -> None:
        self._inner = inner
        self._layer = layer
        self._call = call
        self._wanted = wanted
        self._counter = counter
        self._op: Operation | None = None
        self._state = 0  # 0 not started, 1 running, 2 ended

    def __iter__(self) -> TracedIterparse:
        return self

    def __next__(self) -> Any:
        if self._state == 0:
            self._begin()
        inner, counter = self._inner, self._counter
        try:
            if counter is None:
                return next(inner)
            wanted = self._wanted
            while True:
                item = next(inner)
                event = item[0]
                if event == "start":
                    counter.start(item[1])
                elif event == "end":
                    counter.end(item[1])
                if event in wanted:  # type: ignore[operator]
                    return item
        except StopIteration:
            self._end(complete=True)
            raise
        except Exception as exc:
            op = self._op
            if op is not None and not op.finished:
                op.fail(exc)
            self._end(complete=False)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._end(complete=False)

    def __del__(self) -> None:
        try:
            self._end(complete=False)
        except Exception:  # noqa: BLE001 - never raise from a finaliser  # pragma: no cover
            pass

    def _begin(self) -> None:
        self._state = 1
        try:
            target = self._layer.target()
            if target is not None:
                tel, parent = target
                op = self._op = tel.start(A.OP_STREAM, parent)
                describe(op, self._call)
        except Exception:  # pragma: no cover - telemetry must never break the iteration
            _logger.debug("ddex_otel: could not start an iterparse operation", exc_info=True)

    def _end(self, complete: bool) -> None:
        if self._state == 2:
            return
        self._state = 2
        op = self._op
        if op is None or op.finished:
            return
        try:
            if self._counter is not None:
                note_facts(op, None, self._counter.facts)
            if op.recording:
                op.attrs[A.STREAM_COMPLETE] = complete
        except Exception:  # pragma: no cover
            _logger.debug("ddex_otel: iterparse bookkeeping failed", exc_info=True)
        op.finish()
