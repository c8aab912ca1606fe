"""The one measurement path: a span processor that hands each ended ``ddex.*`` operation span to
subscribers (the performance monitor, the profiler, …).

One ``OperationSpanFeed`` is registered per SDK ``TracerProvider``, the first time something
subscribes to it, and stays registered (the SDK has no public way to remove a processor); with no
subscriber left its ``on_end`` is one tuple check. Subscribers see exactly the spans that go to
Jaeger: sampled, recorded operation spans (``ddex.parse``, ``ddex.stream``, ``ddex.build``,
``ddex.validate``). Callbacks run on the thread that ends the span; an exception in one is logged
at DEBUG and never reaches the engine.

``subscribe()`` also makes sure there is something to feed on: with no SDK ``TracerProvider``
installed globally it installs a minimal one (no exporters, always-on sampling) and instruments
the engine with ``DDEXInstrumentor``; ``Subscription.close()`` undoes the instrumentation it did
(the global provider stays: OpenTelemetry allows setting it only once per process).

A subscriber consumes stage durations (``ddex.stage.<stage>.duration``) and per-operation resource
usage (``ddex.resource.cpu_time`` / ``ddex.resource.memory.delta``), which are off by default: a
subscription turns them on for the whole process while it is open
(``spans.request_operation_details``) and ``close()`` gives them back.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import StatusCode

from ddex_otel.telemetry import attributes as A

_logger = logging.getLogger(__name__)

OPERATION_SPAN_NAMES = frozenset(A.SPAN_NAMES.values())
_STAGE_PREFIX = "ddex.stage."
_STAGE_SUFFIX = ".duration"

SpanCallback = Callable[[ReadableSpan], None]


class OperationSpanFeed(SpanProcessor):
    """Calls every subscriber with each ended operation span (copy-on-write subscriber tuple)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[SpanCallback, ...] = ()

    def add(self, callback: SpanCallback) -> None:
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

    def remove(self, callback: SpanCallback) -> None:
        with self._lock:
            subs = list(self._subscribers)
            if callback in subs:
                subs.remove(callback)
            self._subscribers = tuple(subs)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        subscribers = self._subscribers
        if not subscribers or span.name not in OPERATION_SPAN_NAMES:
            return
        for callback in subscribers:
            try:
                callback(span)
            except Exception:  # never into the engine
                _logger.debug("ddex_otel.monitoring: span subscriber failed", exc_info=True)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_feeds: weakref.WeakKeyDictionary[TracerProvider, OperationSpanFeed] = weakref.WeakKeyDictionary()
_feeds_lock = threading.RLock()


def feed_for(provider: TracerProvider) -> OperationSpanFeed:
    """The provider's feed, registered on first use."""
    with _feeds_lock:
        feed = _feeds.get(provider)
        if feed is None:
            feed = _feeds[provider] = OperationSpanFeed()
            provider.add_span_processor(feed)
        return feed


def resolve_provider(tracer_provider: Any = None) -> tuple[TracerProvider, bool]:
    """(SDK provider to feed on, True if we just installed it as the global provider).

    ``tracer_provider`` given: it must be an SDK ``TracerProvider``. Not given: the global one;
    when none is set yet, a minimal one (no exporters) is installed globally.
    """
    if tracer_provider is not None:
        if not isinstance(tracer_provider, TracerProvider):
            raise TypeError(
                f"monitoring needs an OpenTelemetry SDK TracerProvider, got {type(tracer_provider).__name__}"
            )
        return tracer_provider, False
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current, False
    if isinstance(current, trace.ProxyTracerProvider):
        provider = TracerProvider(shutdown_on_exit=False)
        trace.set_tracer_provider(provider)
        installed = trace.get_tracer_provider()
        if installed is provider:
            return provider, True
        if isinstance(installed, TracerProvider):  # another thread won the race
            return installed, False
        current = installed
    raise TypeError(
        f"the global tracer provider is a {type(current).__name__}, not an OpenTelemetry SDK "
        "TracerProvider: pass tracer_provider= explicitly"
    )


@dataclass
class Subscription:
    """A callback subscribed to a provider's feed; ``close()`` unsubscribes (idempotent)."""

    provider: TracerProvider
    callback: SpanCallback
    installed_provider: bool = False
    instrumented: bool = False
    _closed: bool = field(default=False, repr=False)
    #: Gives back the subscription's request for stage attributes and resource usage (None: it made none).
    _release_details: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        feed_for(self.provider).remove(self.callback)
        if self._release_details is not None:
            self._release_details()
        if self.instrumented:
            _release_instrumentation()


_instrumentation_users = 0  # subscriptions relying on the instrumentation subscribe() did


def _acquire_instrumentation(provider: TracerProvider) -> bool:
    """Instrument the engine with ``provider`` unless something else did; True if it is ours."""
    global _instrumentation_users
    from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

    with _feeds_lock:
        instrumentor = DDEXInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            if _instrumentation_users > 0:
                _instrumentation_users += 1
                return True
            return False
        instrumentor.instrument(tracer_provider=provider)
        if instrumentor.is_instrumented_by_opentelemetry:
            _instrumentation_users = 1
            return True
        return False


def _release_instrumentation() -> None:
    global _instrumentation_users
    from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

    with _feeds_lock:
        if _instrumentation_users <= 0:
            return
        _instrumentation_users -= 1
        if _instrumentation_users == 0:
            instrumentor = DDEXInstrumentor()
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()


def subscribe(callback: SpanCallback, tracer_provider: Any = None, *, resource_usage: bool = True) -> Subscription:
    """Feed ``callback`` every ended operation span of ``tracer_provider`` (see the module doc).

    While this subscription is open the operations' spans carry their stage durations and, with
    ``resource_usage`` (False: only if something else asks for it), CPU time and memory growth.

    The engine is instrumented (with this provider) when nothing instrumented it yet; that
    instrumentation is shared by reference count between subscriptions and undone when the last
    of them closes. Instrumentation someone else did is left alone. Note: the engine reports to
    the provider it was instrumented with; subscribing to another provider sees nothing.
    """
    from ddex_otel.telemetry.spans import request_operation_details

    provider, installed = resolve_provider(tracer_provider)
    feed_for(provider).add(callback)
    subscription = Subscription(provider, callback, installed, _acquire_instrumentation(provider),
                                _release_details=request_operation_details(resource_usage=resource_usage))
    if not reports_to(provider):
        _logger.warning(
            "ddex_otel.monitoring: the engine is instrumented with another tracer provider; "
            "this subscription will see no operations (pass that provider as tracer_provider=)"
        )
    return subscription


def reports_to(provider: TracerProvider) -> bool:
    """False when the engine is instrumented with a tracer provider other than ``provider``."""
    from ddex_otel.telemetry import spans
    from ddex_otel.telemetry.apitypes import is_api_placeholder

    tel = spans.active()
    if tel is None:
        return True
    # Instrumented without a provider: its tracer follows the global one (still a proxy: unknown).
    target = tel.tracer_provider if tel.tracer_provider is not None else trace.get_tracer_provider()
    return target is provider or is_api_placeholder(target)


# ------------------------------------------------------------------------------ reading a span


def attributes_of(span: ReadableSpan) -> Mapping[str, Any]:
    """The ended span's attributes, read-only (the public ``span.attributes``; empty when None)."""
    return span.attributes or {}


def operation_name(span: ReadableSpan) -> str:
    """``parse`` / ``build`` … from ``ddex.operation.name`` (the span name without ``ddex.`` else)."""
    name = attributes_of(span).get(A.OPERATION_NAME)
    return str(name) if name is not None else span.name.removeprefix("ddex.")


def duration_s(span: ReadableSpan) -> float:
    start, end = span.start_time, span.end_time
    if start is None or end is None:
        return 0.0
    return (end - start) / 1e9


def failed(span: ReadableSpan) -> bool:
    return span.status.status_code is StatusCode.ERROR


def stage_durations(span: ReadableSpan) -> dict[str, float]:
    """``{stage: seconds}`` from the ``ddex.stage.<stage>.duration`` attributes."""
    out: dict[str, float] = {}
    for key, value in attributes_of(span).items():
        if key.startswith(_STAGE_PREFIX) and key.endswith(_STAGE_SUFFIX) and isinstance(value, (int, float)):
            out[key[len(_STAGE_PREFIX):-len(_STAGE_SUFFIX)]] = float(value)
    return out


def describe_operation(span: ReadableSpan) -> dict[str, Any]:
    """A plain dict of one operation span (what the profiler keeps per operation)."""
    attrs = attributes_of(span)
    ctx = span.context
    return {
        "name": operation_name(span),
        "duration_s": duration_s(span),
        "success": not failed(span),
        "stages": stage_durations(span),
        "trace_id": trace.format_trace_id(ctx.trace_id) if ctx is not None else None,
        "span_id": trace.format_span_id(ctx.span_id) if ctx is not None else None,
        "file_path": attrs.get(A.FILE_PATH),
        "error_type": attrs.get(A.ERROR_TYPE),
        "cpu_time_s": attrs.get(A.RESOURCE_CPU_TIME),
        "memory_delta": attrs.get(A.RESOURCE_MEMORY_DELTA),
    }
