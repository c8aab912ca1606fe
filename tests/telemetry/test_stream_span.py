"""``ddex.stream``: one span per message, open while consumed, ended however consumption ends."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from ddex_otel import ern
from ddex_otel.ern.errors import MalformedXMLError
from ddex_otel.ern.generator import generate_message
from ddex_otel.ern.model import Release


def test_stream_span_covers_consumption_and_counts(instrument, sample: Path) -> None:
    tel = instrument(stream_progress_every=5)
    items = []
    for item in ern.stream(str(sample)):
        assert tel.spans("ddex.stream") == [], "span ended before the stream was exhausted"
        items.append(item)
    span = tel.span("ddex.stream")
    attrs = span.attributes
    message = ern.parse(str(sample))
    assert attrs["ddex.operation.name"] == "stream"
    assert attrs["ddex.ern.version"] == "4.3"
    assert attrs["ddex.message.type"] == "NewReleaseMessage"
    assert attrs["ddex.message.id"] == message.header.message_id
    assert attrs["ddex.message.sender.id"] == "PADPIDA2013042401U"
    assert attrs["ddex.release.count"] == sum(isinstance(i, Release) for i in items) == len(message.releases)
    assert attrs["ddex.resource.count"] == len(message.resources)
    assert attrs["ddex.deal.count"] == len(message.deals)
    assert attrs["ddex.input.size"] == sample.stat().st_size  # bytes read, all of them
    assert attrs["file.path"] == str(sample)
    assert attrs["ddex.stream.item.count"] == len(items)
    assert 0 < attrs["ddex.stream.engine_time"] <= (span.end_time - span.start_time) / 1e9
    assert "ddex.stream.closed_early" not in attrs
    progress = [e for e in span.events if e.name == "ddex.stream.progress"]
    assert [e.attributes["ddex.release.count"] for e in progress] == list(range(5, len(message.releases) + 1, 5))
    assert all(0 < e.attributes["ddex.input.size"] <= sample.stat().st_size for e in progress)
    assert span.status.status_code is StatusCode.UNSET


def test_stream_span_is_child_of_the_caller_at_call_time(tel) -> None:
    data = generate_message(3, 2)
    with tel.tracer.start_as_current_span("caller") as caller:
        items = ern.stream(data)
    with tel.tracer.start_as_current_span("consumer"):
        list(items)
    span = tel.span("ddex.stream")
    assert span.parent.span_id == caller.get_span_context().span_id


def test_stream_close_ends_the_span(tel, sample: Path) -> None:
    items = ern.stream(str(sample))
    next(items)
    next(items)
    assert tel.spans("ddex.stream") == []
    items.close()
    span = tel.span("ddex.stream")
    assert span.attributes["ddex.stream.closed_early"] is True
    assert span.attributes["ddex.stream.item.count"] == 2
    assert span.status.status_code is StatusCode.UNSET
    items.close()  # idempotent
    assert len(tel.spans("ddex.stream")) == 1


def test_abandoned_stream_is_ended_by_the_garbage_collector(tel) -> None:
    items = ern.stream(generate_message(4, 3))
    next(items)
    del items
    gc.collect()
    span = tel.span("ddex.stream")
    assert span.attributes["ddex.stream.closed_early"] is True


def test_breaking_out_of_a_for_loop_ends_the_span(tel) -> None:
    for i, _ in enumerate(ern.stream(generate_message(4, 3))):
        if i == 3:
            break
    gc.collect()
    assert tel.span("ddex.stream").attributes["ddex.stream.item.count"] == 4


def test_stream_error_mid_document(tel) -> None:
    data = generate_message(5, 4)
    broken = data[: len(data) * 2 // 3]
    seen = 0
    with pytest.raises(MalformedXMLError) as caught:
        for _ in ern.stream(broken):
            seen += 1
    assert seen > 0
    span = tel.span("ddex.stream")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(caught.value).__name__
    assert span.attributes["ddex.stream.item.count"] == seen
    assert [e.name for e in span.events].count("exception") == 1


def test_stream_metrics(tel) -> None:
    data = generate_message(6, 2)
    releases = sum(isinstance(i, Release) for i in ern.stream(data))
    metrics = tel.metrics()
    duration = metrics["ddex.operation.duration"].data.data_points
    assert [dict(p.attributes) for p in duration] == [{"ddex.operation.name": "stream", "ddex.ern.version": "4.3"}]
    processed = metrics["ddex.releases.processed"].data.data_points
    assert [p.value for p in processed] == [releases]
    size = metrics["ddex.message.size"].data.data_points
    assert size[0].value == len(data)
