"""Optional instrumentation of DDEX Suite (``ddex-parser`` / ``ddex-builder``, Rust-backed).

``DDEXSuiteInstrumentor`` wraps ``ddex_parser.DDEXParser.parse`` / ``.stream`` and
``ddex_builder.DdexBuilder.build`` with the same spans and metrics as our engine
(``ddex.parse`` / ``ddex.stream`` / ``ddex.build``, plus ``ddex.engine.name = "ddex-suite"``).
Its ``instrumentation_dependencies`` name both packages, so ``opentelemetry-instrument`` and
``DDEXInstrumentor`` skip it when they are not installed. The Suite has no stage hooks, so its
spans carry no stage timings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer
from wrapt import wrap_function_wrapper

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry import spans
from ddex_otel.telemetry.metrics import Instruments
from ddex_otel.telemetry.package import _suite_instruments
from ddex_otel.telemetry.version import __version__
from ddex_otel.telemetry.wrappers import TracedStream

ENGINE_NAME = "ddex.engine.name"
SUITE = "ddex-suite"


def suite_available() -> bool:
    """Both packages importable and within the supported range."""
    if importlib.util.find_spec("ddex_parser") is None or importlib.util.find_spec("ddex_builder") is None:
        return False
    return get_dependency_conflicts(list(_suite_instruments)) is None


def _size(source: Any) -> int | None:
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    if isinstance(source, str):
        return len(source.encode("utf-8"))
    return None


def _before_suite(op: spans.Operation, args: tuple, kwargs: dict) -> None:
    op.input_size = _size(args[0] if args else kwargs.get("xml"))
    if op.recording:
        op.attrs[ENGINE_NAME] = SUITE


def _after_suite_parse(op: spans.Operation, result: Any) -> None:
    version = getattr(result, "version", None)
    if isinstance(version, str):
        op.note_version(version)
    count = getattr(result, "release_count", None)
    if isinstance(count, int):
        op.releases = count
        if op.recording:
            op.attrs[A.RELEASE_COUNT] = count
    message_id = getattr(result, "message_id", None)
    if isinstance(message_id, str) and op.recording:
        op.attrs[A.MESSAGE_ID] = message_id


def _after_suite_build(op: spans.Operation, result: Any) -> None:
    data = getattr(result, "xml", result)
    size = _size(data)
    if size is not None:
        op.output_size = size


class DDEXSuiteInstrumentor(BaseInstrumentor):
    """Spans and metrics for DDEX Suite's parser and builder (see the module docstring)."""

    _targets: list[tuple[Any, str]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return _suite_instruments

    def _instrument(self, **kwargs: Any) -> None:
        tel = kwargs.get("telemetry") or spans.active()
        if tel is None:
            tracer = get_tracer(A.SCOPE_NAME, __version__, kwargs.get("tracer_provider"), schema_url=A.SCHEMA_URL)
            meter = get_meter(A.SCOPE_NAME, __version__, kwargs.get("meter_provider"), schema_url=A.SCHEMA_URL)
            tel = spans.Telemetry(tracer, Instruments.create(meter), spans.Settings())

        def parse(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            if not tel.live() or not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            return spans.run_operation(tel, A.OP_PARSE, wrapped, args, kwargs, _before_suite, _after_suite_parse)

        def stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            if not tel.live() or not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            op = tel.start(A.OP_STREAM)
            spans.call_guarded(_before_suite, op, args, kwargs)
            try:
                inner = wrapped(*args, **kwargs)
            except Exception as exc:
                op.fail(exc)
                op.finish()
                raise
            op.stream_input = _StaticInput(op.input_size)
            return TracedStream(inner, op)

        def build(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            if not tel.live() or not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            return spans.run_operation(tel, A.OP_BUILD, wrapped, args, kwargs, _before_build, _after_suite_build)

        import ddex_builder
        import ddex_parser

        wrap_function_wrapper(ddex_parser, "DDEXParser.parse", parse)
        wrap_function_wrapper(ddex_parser, "DDEXParser.stream", stream)
        wrap_function_wrapper(ddex_builder, "DdexBuilder.build", build)
        type(self)._targets = [
            (ddex_parser.DDEXParser, "parse"),
            (ddex_parser.DDEXParser, "stream"),
            (ddex_builder.DdexBuilder, "build"),
        ]

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, name in type(self)._targets:
            unwrap(owner, name)
        type(self)._targets = []


def _before_build(op: spans.Operation, args: tuple, kwargs: dict) -> None:
    if op.recording:
        op.attrs[ENGINE_NAME] = SUITE


class _StaticInput:
    """Stands in for the engine's StreamInput: the Suite takes the whole document up front."""

    def __init__(self, size: int | None) -> None:
        self.bytes_read = size
        self.path = None
