"""The direct attribute write gives exactly what ``set_attributes`` gives, and steps aside otherwise."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext

from ddex_otel.telemetry import span_attributes
from ddex_otel.telemetry.span_attributes import set_span_attributes

ATTRS: dict[str, Any] = {
    "ddex.operation.name": "parse",
    "ddex.message.id": "MSG-1",
    "ddex.release.count": 3,
    "ddex.stage.xml.duration": 0.00125,
    "ddex.stream.closed_early": True,
}


def _ended_attributes(limits: SpanLimits | None, setter: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("s", attributes={"ddex.operation.name": "parse"})
    setter(span, attrs)
    span.end()
    (finished,) = exporter.get_finished_spans()
    return dict(finished.attributes)


def test_the_sdk_internals_it_relies_on_are_there() -> None:
    assert span_attributes.DIRECT_WRITE  # else every write takes the slower public path


def test_same_result_as_set_attributes() -> None:
    direct = _ended_attributes(None, set_span_attributes, ATTRS)
    public = _ended_attributes(None, lambda s, a: s.set_attributes(a), ATTRS)
    assert direct == public == ATTRS


def test_length_limit_truncates_as_the_sdk_does() -> None:
    attrs = {"ddex.file.path": "x" * 50}
    limits = SpanLimits(max_span_attribute_length=10)
    assert _ended_attributes(limits, set_span_attributes, attrs)["ddex.file.path"] == "x" * 10


def test_count_limit_is_respected() -> None:
    limits = SpanLimits(max_span_attributes=3)
    got = _ended_attributes(limits, set_span_attributes, ATTRS)
    assert got == _ended_attributes(limits, lambda s, a: s.set_attributes(a), ATTRS)
    assert len(got) == 3


class _Named:
    def __str__(self) -> str:
        return "p"


def test_values_of_other_types_are_cleaned_by_the_sdk() -> None:
    got = _ended_attributes(None, set_span_attributes, {"a.list": [1, 2], "a.path": _Named()})
    assert got["a.list"] == (1, 2)
    assert got["a.path"] == "p"


def test_non_sdk_span_uses_the_public_method() -> None:
    span = NonRecordingSpan(SpanContext(1, 2, False))
    set_span_attributes(span, ATTRS)  # a no-op span: must not raise
    assert not span.is_recording()


def test_handed_over_dict_gives_the_same_span() -> None:
    owned = dict(ATTRS)
    direct = _ended_attributes(None, lambda s, a: set_span_attributes(s, a, owned=True), owned)
    public = _ended_attributes(None, lambda s, a: s.set_attributes(a), ATTRS)
    assert direct == public == {**ATTRS}


def test_handed_over_dict_is_storage_only_for_a_span_without_attributes() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    empty = provider.get_tracer("t").start_span("s")
    owned: dict[str, Any] = {"a": 1}
    set_span_attributes(empty, owned, owned=True)
    assert empty._attributes._dict is owned  # noqa: SLF001 - the point of the hand-over
    started = provider.get_tracer("t").start_span("s", attributes={"b": 2})
    set_span_attributes(started, {"a": 1}, owned=True)
    assert dict(started.attributes) == {"b": 2, "a": 1}
    empty.end()
    started.end()
