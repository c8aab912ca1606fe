"""``DDEXInstrumentor``: OpenTelemetry instrumentation of the ``ddex_otel.ern`` engine.

Usage (what ``ddex_otel.configure()`` and ``opentelemetry-instrument`` do for you)::

    from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

    DDEXInstrumentor().instrument(tracer_provider=tp, meter_provider=mp, stage_spans=True)
    ...
    DDEXInstrumentor().uninstrument()

The engine never imports telemetry: ``parse``, ``stream``, ``build`` and ``validate`` are wrapped
from outside (replaced by plain functions whose ``__wrapped__`` is the original), both where they
are defined (``ddex_otel.ern.parser.parse`` …) and where ``ddex_otel.ern`` re-exports them, plus
(wrapt) the stage functions of the engine's stage contract.
Code that bound a function before ``instrument()`` ran (``from ddex_otel.ern.parser import parse``
at import time) keeps the original; instrument first, or call through the module.

Options (keyword arguments of ``instrument``; each also has an environment variable so
auto-instrumentation can set it):

``stage_spans`` (``OTEL_PYTHON_DDEX_STAGE_SPANS``, default false)
    emit ``ddex.parse.read`` … child spans.
``stage_attributes`` (``OTEL_PYTHON_DDEX_STAGE_ATTRIBUTES``, default false)
    ``ddex.stage.<stage>.duration`` attributes on every operation span. Off, they are still there
    while a consumer of them is attached in the process (the performance monitor, the profiler, the
    CLI summary: ``spans.request_stage_attributes``); stage timings always go to the counters below.
``stage_metrics`` (``OTEL_PYTHON_DDEX_STAGE_METRICS``, default true)
    the ``ddex.stage.duration`` / ``ddex.stage.calls`` observable counters (false: stage timings
    only where ``stage_attributes`` puts them).
``resource_usage`` (``OTEL_PYTHON_DDEX_RESOURCE_USAGE``, default false)
    per-operation CPU time and memory growth (span attributes and observable counters) for every
    operation. Off, they are still measured while a consumer of them is attached in the process
    (the performance monitor, the profiler: ``spans.request_resource_usage``); the process gauges
    are there either way.
``stream_progress_every`` (``OTEL_PYTHON_DDEX_STREAM_PROGRESS_EVERY``, default 100)
    a ``ddex.stream.progress`` span event every N releases of a stream (0: none).
``process_metrics`` (``OTEL_PYTHON_DDEX_PROCESS_METRICS``, default false)
    the observable ``process.*`` / ``cpython.*`` gauges (``configure()`` turns them on).
``ddex_suite`` (default true)
    also instrument ``ddex_parser`` / ``ddex_builder`` (DDEX Suite) when they are installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer
from wrapt import wrap_function_wrapper

from ddex_otel.ern import builder
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import spans
from ddex_otel.telemetry.apitypes import is_api_placeholder
from ddex_otel.telemetry.envvars import env_bool, env_int
from ddex_otel.telemetry.metrics import Instruments
from ddex_otel.telemetry.package import _instruments
from ddex_otel.telemetry.version import __version__
from ddex_otel.telemetry.wrappers import (
    STAGE_SPAN_WRAPPERS,
    build_wrapper,
    generate_wrapper,
    open_input_wrapper,
    parse_wrapper,
    stream_wrapper,
    validate_wrapper,
)

_logger = logging.getLogger(__name__)

ENV_STAGE_SPANS = "OTEL_PYTHON_DDEX_STAGE_SPANS"
ENV_STAGE_ATTRIBUTES = "OTEL_PYTHON_DDEX_STAGE_ATTRIBUTES"
ENV_STAGE_METRICS = "OTEL_PYTHON_DDEX_STAGE_METRICS"
ENV_RESOURCE_USAGE = "OTEL_PYTHON_DDEX_RESOURCE_USAGE"
ENV_STREAM_PROGRESS_EVERY = "OTEL_PYTHON_DDEX_STREAM_PROGRESS_EVERY"
ENV_PROCESS_METRICS = "OTEL_PYTHON_DDEX_PROCESS_METRICS"

#: (module, attribute) pairs of the public functions: definition site and re-export.
_PUBLIC_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("ddex_otel.ern.parser", "parse", A.OP_PARSE),
    ("ddex_otel.ern", "parse", A.OP_PARSE),
    ("ddex_otel.ern.streaming", "stream", A.OP_STREAM),
    ("ddex_otel.ern", "stream", A.OP_STREAM),
    ("ddex_otel.ern.builder", "build", A.OP_BUILD),
    ("ddex_otel.ern", "build", A.OP_BUILD),
    ("ddex_otel.ern.validation", "validate", A.OP_VALIDATE),
    ("ddex_otel.ern", "validate", A.OP_VALIDATE),
)


class DDEXInstrumentor(BaseInstrumentor):
    """Spans, metrics and resource usage for the ERN engine (see the module docstring)."""

    _telemetry: spans.Telemetry | None = None
    _wrapped: list[tuple[Any, str]] = []
    _process_metrics: Any = None
    _suite: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        settings = spans.Settings(
            stage_spans=bool(kwargs.get("stage_spans", env_bool(ENV_STAGE_SPANS, False))),
            stage_attributes=bool(kwargs.get("stage_attributes", env_bool(ENV_STAGE_ATTRIBUTES, False))),
            stage_metrics=bool(kwargs.get("stage_metrics", env_bool(ENV_STAGE_METRICS, True))),
            resource_usage=bool(kwargs.get("resource_usage", env_bool(ENV_RESOURCE_USAGE, False))),
            stream_progress_every=int(
                kwargs.get("stream_progress_every", env_int(ENV_STREAM_PROGRESS_EVERY, 100))
            ),
            max_finding_events=int(kwargs.get("max_finding_events", 20)),
        )
        tracer = get_tracer(
            A.SCOPE_NAME, __version__, kwargs.get("tracer_provider"), schema_url=A.SCHEMA_URL
        )
        meter = get_meter(A.SCOPE_NAME, __version__, kwargs.get("meter_provider"), schema_url=A.SCHEMA_URL)
        instruments = Instruments.create(meter, stage_metrics=settings.stage_metrics)
        tel = spans.Telemetry(tracer, instruments, settings, tracer_provider=kwargs.get("tracer_provider"),
                              meter_provider=kwargs.get("meter_provider"))
        type(self)._telemetry = tel
        spans.set_active(tel)

        factories = {
            A.OP_PARSE: parse_wrapper(tel),
            A.OP_STREAM: stream_wrapper(tel),
            A.OP_BUILD: build_wrapper(tel, builder.DEFAULT_VERSION),
            A.OP_VALIDATE: validate_wrapper(tel),
        }
        wrapped: list[tuple[Any, str] | None] = []
        for module, name, operation in _PUBLIC_TARGETS:
            wrapped.append(self._wrap_plain(module, name, factories[operation]))
        if settings.stage_spans:  # timings come from the stage observer; spans need wrappers
            for module, functions in STAGE_SPAN_WRAPPERS.items():
                for name, wrapper in functions.items():
                    wrapped.append(self._wrap(module, name, wrapper))
        wrapped.append(self._wrap("ddex_otel.ern.streaming", "open_input", open_input_wrapper))
        wrapped.append(self._wrap("ddex_otel.ern.generator", "write_message", generate_wrapper(tel)))
        type(self)._wrapped = [item for item in wrapped if item is not None]

        if kwargs.get("process_metrics", env_bool(ENV_PROCESS_METRICS, False)):
            from ddex_otel.telemetry.resource_usage import ProcessMetrics

            type(self)._process_metrics = ProcessMetrics(kwargs.get("meter_provider"))
            type(self)._process_metrics.start()

        if kwargs.get("ddex_suite", True):
            type(self)._suite = _instrument_suite(kwargs)

    @staticmethod
    def _wrap(module: str, name: str, wrapper: Any) -> tuple[Any, str] | None:
        import importlib

        mod = importlib.import_module(module)
        if not callable(getattr(mod, name, None)):
            # A stage hook renamed in the engine must not break instrumentation: skip, say so.
            _logger.warning("ddex_otel: %s.%s not found; it is not instrumented", module, name)
            return None
        wrap_function_wrapper(mod, name, wrapper)
        return (mod, name)

    @staticmethod
    def _wrap_plain(module: str, name: str, wrapper: Any) -> tuple[Any, str] | None:
        """Replace a public engine function with a plain function calling ``wrapper(original, None, args,
        kwargs)`` (the wrapt wrapper signature).

        Not a wrapt ``FunctionWrapper``: its call path (descriptor binding, a Python-level
        ``__call__``) costs several times a plain function's in the overhead benchmark, and these
        run once per message. ``functools.update_wrapper``
        keeps the name, docstring and ``__wrapped__`` (``inspect.signature`` follows it).
        """
        import functools
        import importlib

        mod = importlib.import_module(module)
        original = getattr(mod, name, None)
        if not callable(original):
            _logger.warning("ddex_otel: %s.%s not found; it is not instrumented", module, name)
            return None

        def traced(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, None, args, kwargs)

        functools.update_wrapper(traced, original)
        traced._ddex_otel_traced = True  # type: ignore[attr-defined] # what _unwrap may undo
        setattr(mod, name, traced)
        return (mod, name)

    @staticmethod
    def _unwrap(mod: Any, name: str) -> None:
        """Undo ``_wrap_plain`` (only our own replacement) or a wrapt wrapper."""
        func = getattr(mod, name, None)
        if getattr(func, "_ddex_otel_traced", False):
            setattr(mod, name, func.__wrapped__)  # type: ignore[union-attr]
        else:
            unwrap(mod, name)

    def _uninstrument(self, **kwargs: Any) -> None:
        for mod, name in type(self)._wrapped:
            self._unwrap(mod, name)
        type(self)._wrapped = []
        if type(self)._process_metrics is not None:
            type(self)._process_metrics.stop()
            type(self)._process_metrics = None
        if type(self)._suite is not None:
            type(self)._suite.uninstrument()
            type(self)._suite = None
        spans.set_active(None)
        type(self)._telemetry = None


def _instrument_suite(kwargs: dict[str, Any]) -> Any:
    """Instrument DDEX Suite too when its packages are installed (their own dependency check)."""
    from ddex_otel.telemetry.ddex_suite import DDEXSuiteInstrumentor, suite_available

    if not suite_available():
        return None
    suite = DDEXSuiteInstrumentor()
    if suite.is_instrumented_by_opentelemetry:
        return None
    options = {k: v for k, v in kwargs.items() if k in ("tracer_provider", "meter_provider")}
    suite.instrument(**options)
    return suite if suite.is_instrumented_by_opentelemetry else None


def pre_instrument() -> None:
    """``opentelemetry_pre_instrument`` hook (runs before ``opentelemetry-instrument`` loads instrumentors).

    With ``OTEL_PYTHON_DDEX_PROCESS_METRICS=true``, system-metrics is started here with our
    configuration, before the distro would start it with its defaults: otherwise
    ``process.cpu.time`` would be emitted twice (two scopes, ``type`` and ``cpu.mode`` labels) and
    ``process.thread.count`` without a unit.
    """
    try:
        bound_sdk_exit()
    except Exception:  # never break the host's start-up
        _logger.debug("could not bound the SDK's exit", exc_info=True)
    if not env_bool(ENV_PROCESS_METRICS, False):
        return
    try:
        from ddex_otel.telemetry.resource_usage import start_system_metrics

        start_system_metrics()
    except Exception:  # never break the host's start-up
        _logger.debug("could not pre-start system metrics", exc_info=True)


def bound_sdk_exit() -> None:
    """Bound the exit of an app whose providers ``opentelemetry-instrument`` made (SDK batch processors).

    The SDK shuts its providers down at exit and, with a dead or hanging endpoint, waits for the
    exporters' timeouts and retries (15 s measured). We take over that exit hook: the same
    ``shutdown()`` calls, each given at most ``DDEX_OTEL_SHUTDOWN_TIMEOUT`` seconds (2 s, as for
    ``configure()``) in a daemon thread; what is not exported by then is left behind, never waited for.
    """
    import atexit

    from opentelemetry import metrics, trace

    from ddex_otel.telemetry.delivery import DeliverySettings, bounded

    budget = DeliverySettings.from_env().shutdown_timeout
    # The SDK registers its providers' bound ``shutdown`` with atexit (``shutdown_on_exit``, what
    # opentelemetry-instrument's configurator leaves on); ``atexit.unregister`` removes it by equality.
    # SDK (or vendor) providers: the API types do not declare shutdown, so it is looked up.
    providers: list[Any] = [p for p in (trace.get_tracer_provider(), metrics.get_meter_provider())
                 if not is_api_placeholder(p) and callable(getattr(p, "shutdown", None))]
    if not providers:
        return
    for provider in providers:
        atexit.unregister(provider.shutdown)

    def shutdown_within_budget() -> None:
        deadline = time.monotonic() + budget
        for provider in providers:
            bounded(provider.shutdown, max(0.05, deadline - time.monotonic()), f"{type(provider).__name__} shutdown")

    atexit.register(shutdown_within_budget)
