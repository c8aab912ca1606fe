"""Many threads at once: every span describes its own message and hangs under its own parent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.ern.generator import generate_message
from ddex_otel.telemetry.batch_spans import batch


def test_parallel_parses_keep_their_own_attributes_and_parents(instrument, sample_paths: list[Path]) -> None:
    jobs = [p for p in sample_paths for _ in range(3)]  # every sample three times, interleaved
    parses_alone = {}
    for path in sample_paths:  # what each sample gives when parsed alone, before any thread runs
        try:
            parses_alone[path] = ern.parse(str(path)).header.message_id
        except DDEXError:
            parses_alone[path] = None
    assert sum(v is not None for v in parses_alone.values()) >= len(sample_paths) - 2
    tel = instrument()
    tracer = tel.tracer

    def work(index: int, path: Path) -> tuple[int, str | None]:
        with tracer.start_as_current_span("job", attributes={"job.index": index, "job.path": str(path)}):
            try:
                return index, ern.parse(str(path)).header.message_id
            except DDEXError:
                return index, None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(pool.map(lambda args: work(*args), enumerate(jobs)))

    assert results == {index: parses_alone[path] for index, path in enumerate(jobs)}
    jobs_by_span = {s.context.span_id: s for s in tel.spans("job")}
    parses = tel.spans("ddex.parse")
    assert len(parses) == len(jobs) == len(jobs_by_span)
    for span in parses:
        parent = jobs_by_span[span.parent.span_id]
        index = parent.attributes["job.index"]
        assert span.attributes["file.path"] == parent.attributes["job.path"] == str(jobs[index])
        assert span.context.trace_id == parent.context.trace_id
        assert span.attributes["ddex.input.size"] == jobs[index].stat().st_size
        if results[index] is not None:
            assert span.status.status_code is not StatusCode.ERROR
            # an empty <MessageId/> (three official samples) gives no attribute
            assert span.attributes.get("ddex.message.id") == (results[index] or None)
        else:
            assert span.status.status_code is StatusCode.ERROR
    points = tel.metrics()["ddex.operation.duration"].data.data_points
    assert sum(p.count for p in points) == len(jobs)
    active = tel.metrics()["ddex.operations.active"].data.data_points
    assert all(p.value == 0 for p in active)


def test_parallel_streams_and_builds(tel) -> None:
    messages = {i: generate_message(i + 1, 2, seed=i) for i in range(6)}

    def work(i: int) -> int:
        with tel.tracer.start_as_current_span("job", attributes={"job.index": i}):
            count = sum(1 for _ in ern.stream(messages[i]))
            ern.build(ern.parse(messages[i]))
            return count

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, messages))
    jobs = {s.context.span_id: s.attributes["job.index"] for s in tel.spans("job")}
    for name in ("ddex.stream", "ddex.parse", "ddex.build"):
        spans = tel.spans(name)
        assert len(spans) == 6, name
        for span in spans:
            i = jobs[span.parent.span_id]
            if name != "ddex.build":
                assert span.attributes["ddex.input.size"] == len(messages[i]), name


def test_batch_span_with_thread_pool_children(tel, sample_paths: list[Path]) -> None:
    bad = b"<NewReleaseMessage"
    inputs: list[object] = [str(p) for p in sample_paths[:4]] + [bad]
    with batch("nightly") as b:
        def work(source: object) -> None:
            try:
                ern.parse(source)
                b.succeeded()
            except DDEXError as exc:
                b.failed(exc, "truncated-bytes" if source is bad else source)

        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(b.bind(work), inputs))
    root = tel.span("ddex.batch")
    assert root.attributes["ddex.batch.name"] == "nightly"
    assert root.attributes["ddex.batch.message.count"] == len(inputs)
    assert root.attributes["ddex.batch.failure.count"] == 1
    failures = [e for e in root.events if e.name == "ddex.batch.failure"]
    assert len(failures) == 1 and failures[0].attributes["error.type"] == "TruncatedInputError"
    assert root.status.status_code is StatusCode.UNSET  # one bad message does not fail the batch
    parses = tel.spans("ddex.parse")
    assert len(parses) == len(inputs)
    assert all(p.parent.span_id == root.context.span_id for p in parses)
    assert sum(p.status.status_code is StatusCode.ERROR for p in parses) == 1


def test_batch_exception_marks_it_failed(tel) -> None:
    with pytest.raises(RuntimeError):
        with batch():
            raise RuntimeError("boom")
    root = tel.span("ddex.batch")
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["error.type"] == "RuntimeError"
