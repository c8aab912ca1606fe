"""``ddex.batch``: one span over many messages, each message's span its child.

    from ddex_otel.telemetry import batch

    with batch("nightly-ingest") as b:
        for path in paths:
            try:
                ern.parse(path)
                b.succeeded()
            except DDEXError as exc:
                b.failed(exc, path)          # counted, shown as an event; the batch goes on

Worker threads do not inherit the current span: wrap the task with ``b.bind(fn)`` so its
operations become children of the batch span (see examples/batch_threads.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import INVALID_SPAN, SpanKind, TracerProvider

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import records, spans
from ddex_otel.telemetry.version import __version__

T = TypeVar("T")


class Batch:
    """Counts and failure events of one ``ddex.batch`` span; thread-safe."""

    def __init__(self, span: trace.Span, name: str | None = None) -> None:
        self.span = span
        self.name = name
        self.context = trace.set_span_in_context(span)
        self.messages = 0
        self.failures = 0
        self._lock = threading.Lock()

    def succeeded(self, count: int = 1) -> None:
        with self._lock:
            self.messages += count

    def failed(self, exc: BaseException, item: Any = None) -> None:
        """Count a failed message and add a ``ddex.batch.failure`` event naming it."""
        self.record_failure(type(exc).__qualname__, str(exc), item)

    def record_failure_count(self) -> None:
        """Count a failed message without an event (when an event per message would be noise)."""
        with self._lock:
            self.messages += 1
            self.failures += 1

    def record_failure(self, error_type: str, message: str, item: Any = None) -> None:
        """``failed`` for an error known by name only (e.g. reported by a worker process); one ERROR
        log record (``records.batch_file_failed``) in the batch's context."""
        self.record_failure_count()
        with records.within(self.context):
            records.batch_file_failed(self.name, error_type, message, item)
        if self.span.is_recording():
            attrs: dict[str, Any] = {A.ERROR_TYPE: error_type, "exception.message": message[:512]}
            if isinstance(item, (str, os.PathLike)):
                attrs[A.FILE_PATH] = os.fspath(item)
            elif item is not None:
                attrs["ddex.batch.item"] = str(item)[:256]
            self.span.add_event(A.EVENT_BATCH_FAILURE, attrs)

    def bind(self, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn`` made to run inside this batch's context (for thread pools)."""
        ctx = self.context

        def bound(*args: Any, **kwargs: Any) -> T:
            token = otel_context.attach(ctx)
            try:
                return fn(*args, **kwargs)
            finally:
                otel_context.detach(token)

        return bound


def _tracer(tracer_provider: TracerProvider | None = None) -> trace.Tracer:
    """The instrumentor's tracer, else one from ``tracer_provider`` (or the global provider)."""
    tel = spans.active()
    if tel is not None and tracer_provider is None:
        return tel.tracer
    return trace.get_tracer(A.SCOPE_NAME, __version__, tracer_provider, schema_url=A.SCHEMA_URL)


@contextmanager
def file_span(
    path: str | os.PathLike[str] | None,
    *,
    label: str | None = None,
    context: otel_context.Context | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Iterator[trace.Span]:
    """A current ``ddex.file`` span around one message's parse / validate / build spans.

    ``file.path`` and ``file.name`` come from ``path``; an in-memory message gets ``label`` as its
    ``file.name``. ``context`` is the parent (e.g. extracted from a worker's carrier); errors are
    the caller's to record (``spans.mark_error``), so a batch decides what a failed file means.
    """
    attrs: dict[str, Any] = {}
    if path is not None:
        attrs[A.FILE_PATH] = os.fspath(path)
        attrs[A.FILE_NAME] = os.path.basename(os.fspath(path))
    elif label:
        attrs[A.FILE_NAME] = label
    with _tracer(tracer_provider).start_as_current_span(
        A.SPAN_FILE, context=context, kind=SpanKind.INTERNAL, attributes=attrs,
        record_exception=False, set_status_on_exception=False,
    ) as span:
        yield span


@contextmanager
def batch(
    name: str | None = None,
    *,
    attributes: dict[str, Any] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Iterator[Batch]:
    """A current ``ddex.batch`` span for the duration of the block (see the module docstring)."""
    if not is_instrumentation_enabled():
        yield Batch(INVALID_SPAN, name)
        return
    tracer = _tracer(tracer_provider)
    start_attrs: dict[str, Any] = dict(attributes or {})
    if name:
        start_attrs[A.BATCH_NAME] = name
    with tracer.start_as_current_span(
        A.SPAN_BATCH, kind=SpanKind.INTERNAL, attributes=start_attrs, record_exception=False,
        set_status_on_exception=False,
    ) as span:
        b = Batch(span, name)
        try:
            yield b
        except BaseException as exc:
            spans.mark_error(span, exc)
            raise
        finally:
            if span.is_recording():
                span.set_attributes({A.BATCH_MESSAGE_COUNT: b.messages, A.BATCH_FAILURE_COUNT: b.failures})
