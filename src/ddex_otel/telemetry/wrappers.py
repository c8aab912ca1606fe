"""Wrappers (wrapt's ``wrapper(wrapped, instance, args, kwargs)`` signature) for the engine's
public functions and its stage functions.

The public functions' wrappers are installed as plain functions (``DDEXInstrumentor._wrap_plain``:
cheaper per call than a wrapt proxy); the stage-span and helper wrappers through wrapt.

Factories close over the ``Telemetry`` object (tracer, instruments, options), in the style of the
contrib instrumentations. Public-function wrappers check ``is_instrumentation_enabled()`` first
(``enabled_context()``: the same check, returning the context the span then starts in).
Stage timings need no wrapper: the operation observes the engine's stages (``ern.stages``).
Stage-span wrappers (only with ``stage_spans=True``) act only inside one of our operations
(``CURRENT_OPERATION``), so calling a stage function directly costs one context-variable read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter
from typing import Any

import wrapt
from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ddex_otel.ern import model
from ddex_otel.ern.builder import normalize_version
from ddex_otel.ern.errors import UnsupportedVersionError
from ddex_otel.ern.stages import OBSERVER as STAGE_OBSERVER
from ddex_otel.ern.validation import BUILD_VERSIONS
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.otelcompat import global_providers_unset
from ddex_otel.telemetry.spans import (
    CURRENT_OPERATION,
    Operation,
    Telemetry,
    call_guarded,
    enabled_context,
    is_listed_release,
    mark_error,
    run_operation,
)

_logger = logging.getLogger(__name__)

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _inside(operation: str) -> bool:
    """True inside an operation of this kind already (re-entry: the engine calling itself)."""
    op = CURRENT_OPERATION.get()
    return op is not None and op.name == operation and not op.finished


# ------------------------------------------------------------------------------ parse / build / validate


def parse_wrapper(tel: Telemetry) -> Wrapper:
    """``ddex.parse``: ``run_operation`` written out for parse, the call made per message (the
    checks, the before/after steps and the operation's bracketing in one frame)."""
    set_operation, reset_operation = CURRENT_OPERATION.set, CURRENT_OPERATION.reset
    set_observer, reset_observer = STAGE_OBSERVER.set, STAGE_OBSERVER.reset

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        # tel.live(), is_instrumentation_enabled() and _inside() inlined.
        live = tel._live
        if not live and (live is not None or tel._global_providers and global_providers_unset() or not tel.live()):
            return wrapped(*args, **kwargs)
        parent = enabled_context()
        current = CURRENT_OPERATION.get()
        if parent is None or current is not None and current.name == A.OP_PARSE and not current.finished:
            return wrapped(*args, **kwargs)
        # Nothing inside a parse starts a span or logs unless stage spans are on: without them the
        # span is started at the end, with all its attributes (``Operation``'s deferred start).
        deferred = not tel.stage_spans
        op = Operation(tel, A.OP_PARSE, parent, deferred=deferred)
        ctx_token = None if deferred else attach(op.ctx)
        op_token = set_operation(op)
        observer_token = set_observer(op.stages.append)
        try:
            source = args[0] if args else kwargs.get("source")
            if isinstance(source, (bytes, bytearray)):  # known now; the read stage confirms it
                op.input_size = len(source)
            try:
                result = wrapped(*args, **kwargs)
            except Exception as exc:
                op.fail(exc)
                raise
            op.message = result  # noted at the end (``Operation.note_message``)
            return result
        finally:
            reset_observer(observer_token)
            reset_operation(op_token)
            if ctx_token is not None:
                detach(ctx_token)
            op.finish()

    return wrapper


def _before_build(op: Operation, args: tuple, kwargs: dict) -> None:
    op.note_message(_arg(args, kwargs, 0, "message"), with_version=False)
    version = _arg(args, kwargs, 1, "version", None)
    if version is not None:
        try:
            version = normalize_version(version)  # "43" → "4.3", as the builder will
        except UnsupportedVersionError:  # the builder raises it again, as the operation's error
            version = str(version)
        op.note_version(version)


def _after_build(op: Operation, result: Any) -> None:
    op.output_size = len(result)
    findings = getattr(result, "findings", None)
    if findings:
        op.note_findings(findings)


def build_wrapper(tel: Telemetry, default_version: str) -> Wrapper:
    def before(op: Operation, args: tuple, kwargs: dict) -> None:
        _before_build(op, args, kwargs)
        if op.version is None:  # build(message) without a version writes the default
            op.note_version(default_version)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if not tel.live() or _inside(A.OP_BUILD):
            return wrapped(*args, **kwargs)
        parent = enabled_context()
        if parent is None:
            return wrapped(*args, **kwargs)
        return run_operation(tel, A.OP_BUILD, wrapped, args, kwargs, before, _after_build, parent)

    return wrapper


def _before_validate(op: Operation, args: tuple, kwargs: dict) -> None:
    op.note_message(_arg(args, kwargs, 0, "message"))
    level = _arg(args, kwargs, 1, "level", None)
    if level is not None and op.recording:
        op.attrs[A.VALIDATION_LEVEL] = str(level)


def _after_validate(op: Operation, report: Any) -> None:
    op.note_findings(getattr(report, "findings", ()) or ())


def validate_wrapper(tel: Telemetry) -> Wrapper:
    """``ddex.validate`` only for validation called on its own: inside parse/build it is a stage."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if not tel.live() or CURRENT_OPERATION.get() is not None:
            return wrapped(*args, **kwargs)
        parent = enabled_context()
        if parent is None:
            return wrapped(*args, **kwargs)
        return run_operation(tel, A.OP_VALIDATE, wrapped, args, kwargs, _before_validate, _after_validate, parent)

    return wrapper


# ------------------------------------------------------------------------------------------- stages
# Stage timings come from the engine's stage reports (``ern.stages``, see ``Operation.note_stages``).
# Stage *spans* (opt-in) must be current while their stage runs, so for them the stage functions
# are wrapped too.


def stage_span_wrapper(stage: str) -> Wrapper:
    """Make ``ddex.<operation>.<stage>`` current while ``stage`` runs inside an operation that has it."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        op = CURRENT_OPERATION.get()
        if op is None or op.finished or not op.stage_spans or stage not in op.stage_set:
            return wrapped(*args, **kwargs)
        return op.run_stage_span(stage, wrapped, args, kwargs)

    return wrapper


STAGE_SPAN_WRAPPERS: dict[str, dict[str, Wrapper]] = {
    # parse's stages, each in the module that owns its step (see the stage contract of ``ern.parser``)
    "ddex_otel.ern.parser": {
        "read_input": stage_span_wrapper("read"),
    },
    "ddex_otel.ern.safexml": {
        "parse_xml": stage_span_wrapper("xml"),
    },
    "ddex_otel.ern.extract": {
        "detect_version": stage_span_wrapper("detect"),
    },
    "ddex_otel.ern.lazy": {
        "extract_message": stage_span_wrapper("extract"),
    },
    "ddex_otel.ern.validation": {
        "check": stage_span_wrapper("validate"),
    },
    "ddex_otel.ern.builder": {
        "assemble": stage_span_wrapper("assemble"),
        "serialize": stage_span_wrapper("serialize"),
    },
}


# ------------------------------------------------------------------------------------------- stream


def open_input_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """Hand the stream's input object (``bytes_read``, ``path``) to the current stream operation."""
    result = wrapped(*args, **kwargs)
    op = CURRENT_OPERATION.get()
    if op is not None and op.name == A.OP_STREAM and op.stream_input is None:
        op.stream_input = result
    return result


def stream_wrapper(tel: Telemetry) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if not tel.live():
            return wrapped(*args, **kwargs)
        parent = enabled_context()
        if parent is None:
            return wrapped(*args, **kwargs)
        op = tel.start(A.OP_STREAM, parent)
        token = CURRENT_OPERATION.set(op)  # in case the engine opens its input eagerly
        try:
            inner = wrapped(*args, **kwargs)
        except Exception as exc:
            op.fail(exc)
            op.finish()
            raise
        finally:
            CURRENT_OPERATION.reset(token)
        return TracedStream(inner, op)

    return wrapper


_RELEASE, _RESOURCE, _DEAL, _START, _HEADER = range(5)
_ITEM_KINDS: dict[type, int] = {
    model.Release: _RELEASE,
    model.Resource: _RESOURCE,
    model.Deal: _DEAL,
    model.StreamStart: _START,
    model.MessageHeader: _HEADER,
}


class TracedStream(wrapt.ObjectProxy):
    """The engine's stream iterator with its ``ddex.stream`` span kept open while it is consumed.

    The span ends on exhaustion, on an exception from the engine, on ``close()`` and when the
    iterator is garbage collected unfinished (``ddex.stream.closed_early``). It is not current
    between items: the consumer's own work is not part of the stream (but is part of its
    duration, since the span is open). ``ddex.stream.engine_time`` is the engine's own share.
    """

    def __init__(self, wrapped: Any, op: Operation) -> None:
        super().__init__(wrapped)
        self._self_op = op
        every = op.tel.settings.stream_progress_every
        self._self_every = every if every and every > 0 else 0
        self._self_next_progress = self._self_every
        self._self_items = 0
        self._self_resources = 0
        self._self_deals = 0
        self._self_busy = 0.0

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        op = self._self_op
        if op.finished:
            return next(self.__wrapped__)
        token = CURRENT_OPERATION.set(op) if op.stream_input is None else None
        t0 = perf_counter()
        try:
            item = next(self.__wrapped__)
        except StopIteration:
            self._self_busy += perf_counter() - t0
            self._self_end()
            raise
        except Exception as exc:
            self._self_busy += perf_counter() - t0
            op.fail(exc)
            self._self_end()
            raise
        finally:
            if token is not None:
                CURRENT_OPERATION.reset(token)
        self._self_busy += perf_counter() - t0
        self._self_items += 1
        kind = _ITEM_KINDS.get(type(item))
        if kind == _RELEASE and is_listed_release(item):
            op.releases += 1
            if op.releases == self._self_next_progress:
                self._self_next_progress += self._self_every
                call_guarded(self._self_progress)
        elif kind == _RESOURCE:
            self._self_resources += 1
        elif kind == _DEAL:
            self._self_deals += 1
        elif kind == _START:
            op.note_version(item.ern_version, item.message_type)
        elif kind == _HEADER:
            op.note_header(item)
        return item

    def send(self, value: Any) -> Any:
        if value is not None:
            return self.__wrapped__.send(value)
        return self.__next__()

    def throw(self, *args: Any) -> Any:
        try:
            return self.__wrapped__.throw(*args)
        except StopIteration:
            self._self_end()
            raise
        except Exception as exc:
            if not self._self_op.finished:
                self._self_op.fail(exc)
                self._self_end()
            raise

    def close(self) -> None:
        try:
            close = getattr(self.__wrapped__, "close", None)
            if close is not None:
                close()
        finally:
            self._self_end(closed_early=True)

    def __del__(self) -> None:
        try:
            self._self_end(closed_early=True)
        except Exception:  # noqa: BLE001 - never raise from a finaliser  # pragma: no cover
            pass

    def _self_progress(self) -> None:
        op = self._self_op
        op.report_releases()
        if op.recording:
            attrs: dict[str, Any] = {A.RELEASE_COUNT: op.releases, A.STREAM_ITEM_COUNT: self._self_items}
            bytes_read = getattr(op.stream_input, "bytes_read", None)
            if isinstance(bytes_read, int):
                attrs[A.INPUT_SIZE] = bytes_read
            op.span.add_event(A.EVENT_STREAM_PROGRESS, attrs)

    def _self_end(self, closed_early: bool = False) -> None:
        op = self._self_op
        if op.finished:
            return
        try:
            if op.stream_input is not None:
                op.note_input(op.stream_input)
            if op.recording:
                attrs = op.attrs
                attrs[A.RELEASE_COUNT] = op.releases
                attrs[A.RESOURCE_COUNT] = self._self_resources
                attrs[A.DEAL_COUNT] = self._self_deals
                attrs[A.STREAM_ITEM_COUNT] = self._self_items
                attrs[A.STREAM_ENGINE_TIME] = self._self_busy
                if closed_early:
                    attrs[A.STREAM_CLOSED_EARLY] = True
        except Exception:  # pragma: no cover
            _logger.debug("ddex_otel: stream bookkeeping failed", exc_info=True)
        op.finish()


def generate_wrapper(tel: Telemetry) -> Wrapper:
    """``ddex.generate`` around ``generator.write_message``: a span (no metrics: not a message processed)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled() or not tel.live():
            return wrapped(*args, **kwargs)
        version = kwargs.get("version", "4.3")
        attributes: dict[str, Any] = {A.OPERATION_NAME: A.OP_GENERATE}
        if isinstance(version, str) and version in BUILD_VERSIONS:
            attributes[A.ERN_VERSION] = version
        target = _arg(args, kwargs, 0, "path")
        if isinstance(target, str):
            attributes[A.FILE_PATH] = target
        with tel.tracer.start_as_current_span(A.SPAN_GENERATE, attributes=attributes,
                                              record_exception=False, set_status_on_exception=False) as span:
            try:
                size = wrapped(*args, **kwargs)
            except Exception as exc:
                mark_error(span, exc)
                raise
            if span.is_recording() and isinstance(size, int):
                span.set_attribute(A.OUTPUT_SIZE, size)
            return size

    return wrapper
