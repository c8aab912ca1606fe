"""The batch runner (ddex_otel.monitoring.batch_runner): inputs, options, outcomes, and one trace per batch.

In-process runs (``workers=0``) use a local TracerProvider with an in-memory exporter; pool runs
use real worker processes that write offline OTLP JSON files, read back here.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ddex_otel.monitoring import batch_runner as B
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor
from ddex_otel.telemetry.offline import read_requests

SAMPLES = ("daddykev__Samples43_1_Audio.xml", "daddykev__Samples42_2_Video.xml",
           "miqwit__001_audioalbum_complete.xml", "AudiusProject__01_delivery.xml")


@pytest.fixture
def local_tracing() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """The engine instrumented with a local (never global) provider; undone after the test."""
    assert not DDEXInstrumentor().is_instrumented_by_opentelemetry, "instrumented by someone else"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    DDEXInstrumentor().instrument(tracer_provider=provider)
    yield provider, exporter
    DDEXInstrumentor().uninstrument()
    provider.shutdown()


@pytest.fixture
def delivery(tmp_path: Path, samples_dir: Path) -> Path:
    """A folder with four real samples and one truncated copy (corrupt.xml)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(samples_dir / name, folder / name)
    data = (samples_dir / SAMPLES[0]).read_bytes()
    (folder / "corrupt.xml").write_bytes(data[: len(data) // 3])
    return folder


# ------------------------------------------------------------------------------------ inputs


def test_find_inputs_takes_dirs_files_and_globs_once_each(delivery: Path) -> None:
    (delivery / "notes.txt").write_text("not xml")
    found = B.find_inputs([str(delivery), str(delivery / "corrupt.xml"), str(delivery / "daddykev*.xml")])
    assert [p.name for p in found] == sorted(SAMPLES + ("corrupt.xml",))
    assert B.find_inputs([str(delivery / "notes.txt")]) == [delivery / "notes.txt"]


@pytest.mark.parametrize("argument, message", [
    ("missing-dir", "no such file or directory"),
    ("*.nothing-matches", "no files match"),
])
def test_find_inputs_refuses_arguments_that_name_nothing(tmp_path: Path, argument: str, message: str) -> None:
    with pytest.raises(B.BatchUsageError, match=message):
        B.find_inputs([str(tmp_path / argument)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(B.BatchUsageError, match="no \\*.xml files"):
        B.find_inputs([str(tmp_path / "empty")])


def test_options_are_checked_before_any_work(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "x.xml", tmp_path / "b" / "x.xml"]
    with pytest.raises(B.BatchUsageError, match="go together"):
        B.check_options(paths, B.BatchOptions(to_version="4.3"))
    with pytest.raises(B.BatchUsageError, match="unsupported ERN version"):
        B.check_options(paths[:1], B.BatchOptions(to_version="9.9", out_dir=str(tmp_path)))
    with pytest.raises(B.BatchUsageError, match="would both be written"):
        B.check_options(paths, B.BatchOptions(to_version="4.3", out_dir=str(tmp_path / "out")))
    with pytest.raises(B.BatchUsageError, match="--workers"):
        B.check_options(paths[:1], B.BatchOptions(workers=-1))


# ------------------------------------------------------------------------- in this process


def test_in_process_batch_is_one_trace_with_a_file_span_per_file(local_tracing, delivery: Path) -> None:
    provider, exporter = local_tracing
    paths = B.find_inputs([str(delivery)])
    seen: list[str] = []
    result = B.run_batch(paths, B.BatchOptions(workers=0), tracer_provider=provider,
                         on_result=lambda r: seen.append(r.path))

    assert (len(result.files), result.ok, result.failed) == (5, 4, 1)
    assert sorted(seen) == sorted(str(p) for p in paths)
    spans = exporter.get_finished_spans()
    assert {format(s.context.trace_id, "032x") for s in spans} == {result.trace_id}
    (batch_span,) = [s for s in spans if s.name == A.SPAN_BATCH]
    files = {s.attributes[A.FILE_PATH]: s for s in spans if s.name == A.SPAN_FILE}
    assert set(files) == {str(p) for p in paths}
    by_id = {s.context.span_id: s for s in spans}
    for path, file_span in files.items():
        assert file_span.parent.span_id == batch_span.context.span_id
        assert file_span.attributes[A.FILE_NAME] == os.path.basename(path)
        children = Counter(s.name for s in spans if s.parent is not None and s.parent.span_id == file_span.context.span_id)
        assert children[A.SPAN_PARSE] == 1, path
        expected_outcome = A.FILE_OUTCOME_FAILED if path.endswith("corrupt.xml") else A.FILE_OUTCOME_OK
        assert file_span.attributes[A.FILE_OUTCOME] == expected_outcome
    assert all(s.parent is None or s.parent.span_id in by_id for s in spans)

    corrupt = files[str(delivery / "corrupt.xml")]
    assert corrupt.status.status_code is StatusCode.ERROR
    assert corrupt.attributes[A.ERROR_TYPE] == "TruncatedInputError"
    (event,) = [e for e in batch_span.events if e.name == A.EVENT_BATCH_FAILURE]
    assert event.attributes[A.FILE_PATH] == str(delivery / "corrupt.xml")
    assert event.attributes[A.ERROR_TYPE] == "TruncatedInputError"
    assert batch_span.attributes[A.BATCH_FAILURE_COUNT] == 1
    assert batch_span.attributes[A.BATCH_MESSAGE_COUNT] == 5

    failed = next(f for f in result.files if not f.ok)
    assert failed.error.startswith("TruncatedInputError: ") and "\n" not in failed.error
    ok = next(f for f in result.files if f.ok)
    # durations are read from the spans: the same numbers Jaeger shows
    parse_span = next(s for s in spans if s.name == A.SPAN_PARSE and s.attributes.get(A.FILE_PATH) == ok.path)
    assert ok.durations()["parse"] == pytest.approx((parse_span.end_time - parse_span.start_time) / 1e9)
    assert set(ok.durations()) == {"parse", "validate"}
    stats = result.operations()
    assert stats["parse"]["count"] == 5 and stats["validate"]["count"] == 4
    assert stats["parse"]["p50"] <= stats["parse"]["p95"] <= stats["parse"]["max"]


def test_build_writes_outputs_and_records_each_kind_of_failure(local_tracing, delivery: Path, tmp_path: Path) -> None:
    provider, exporter = local_tracing
    out = tmp_path / "out"
    out.mkdir()
    (out / "AudiusProject__01_delivery.xml").mkdir()  # unwritable target: a directory is in the way
    options = B.BatchOptions(workers=0, to_version="4.3", out_dir=str(out))
    result = B.run_batch(B.find_inputs([str(delivery)]), options, tracer_provider=provider)

    by_name = {Path(f.path).name: f for f in result.files}
    assert by_name["corrupt.xml"].error_type == "TruncatedInputError"
    # a 3.8.2 message without a DPID cannot become ERN 4.3: the builder's validation says why
    assert by_name["miqwit__001_audioalbum_complete.xml"].error_type == "DDEXValidationError"
    assert by_name["AudiusProject__01_delivery.xml"].error_type == "IsADirectoryError"
    written = [f for f in result.files if f.ok]
    assert [Path(f.path).name for f in written] == ["daddykev__Samples42_2_Video.xml", "daddykev__Samples43_1_Audio.xml"]
    for f in written:
        assert Path(f.output) == out / Path(f.path).name
        assert b"/ern/43" in Path(f.output).read_bytes()
        assert set(f.durations()) == {"parse", "validate", "build"}
    builds = [s for s in exporter.get_finished_spans() if s.name == A.SPAN_BUILD]
    assert len(builds) == 4  # every parsed file was built; one build failed validation
    assert sum(s.status.status_code is StatusCode.ERROR for s in builds) == 1


# ------------------------------------------------------------------------ worker processes


def _offline_spans(folder: Path) -> list[tuple[int, object]]:
    """(process.pid, span) of every span in the offline trace files of ``folder``."""
    out = []
    for path in folder.glob("traces-*.jsonl"):
        for request in read_requests(path):
            for rs in request.resource_spans:
                pid = next(a.value.int_value for a in rs.resource.attributes if a.key == "process.pid")
                out.extend((pid, s) for ss in rs.scope_spans for s in ss.spans)
    return out


def test_pool_workers_continue_the_batch_trace_and_flush_before_reporting(local_tracing, delivery: Path,
                                                                          tmp_path: Path) -> None:
    provider, exporter = local_tracing
    offline = tmp_path / "telemetry"
    options = B.BatchOptions(workers=2, telemetry=B.WorkerTelemetry(offline_dir=str(offline)))
    result = B.run_batch(B.find_inputs([str(delivery)]), options, tracer_provider=provider)

    assert (result.ok, result.failed) == (4, 1)
    assert all(f.pid not in (None, os.getpid()) for f in result.files)
    (batch_span,) = [s for s in exporter.get_finished_spans() if s.name == A.SPAN_BATCH]
    # The pool has shut down: everything the workers made is in their files, and nothing else is.
    spans = _offline_spans(offline)
    assert {s.trace_id.hex() for _, s in spans} == {result.trace_id}
    files = [s for _, s in spans if s.name == A.SPAN_FILE]
    assert len(files) == 5
    assert {s.parent_span_id for s in files} == {batch_span.context.span_id.to_bytes(8, "big")}
    ids = {s.span_id for _, s in spans}
    parses = [s for _, s in spans if s.name == A.SPAN_PARSE]
    assert len(parses) == 5 and all(s.parent_span_id in ids for s in parses)
    assert {pid for pid, _ in spans} == {f.pid for f in result.files}
    assert {f.span_id for f in result.files} == {s.span_id.hex() for s in files}


def test_a_crashed_worker_fails_its_files_and_the_batch_goes_on(local_tracing, delivery: Path,
                                                                 tmp_path: Path) -> None:
    from batch_crash import crash_on_marked_files

    provider, exporter = local_tracing
    shutil.copy(delivery / SAMPLES[0], delivery / "crash-me.xml")
    for i in range(6):  # enough files after the crash to need a fresh pool
        shutil.copy(delivery / SAMPLES[1], delivery / f"zz-later-{i}.xml")
    paths = B.find_inputs([str(delivery)])
    offline = tmp_path / "telemetry"
    options = B.BatchOptions(workers=1, telemetry=B.WorkerTelemetry(offline_dir=str(offline)))
    result = B.run_batch(paths, options, worker=crash_on_marked_files, tracer_provider=provider)

    assert len(result.files) == len(paths)
    crashed = next(f for f in result.files if f.path.endswith("crash-me.xml"))
    assert crashed.status == "failed" and crashed.error_type == B.CRASH_ERROR_TYPE
    assert result.pool_restarts >= 1
    later = [f for f in result.files if "zz-later" in f.path]
    assert later and all(f.ok for f in later)  # ran on the fresh pool
    (batch_span,) = [s for s in exporter.get_finished_spans() if s.name == A.SPAN_BATCH]
    events = [e for e in batch_span.events if e.name == A.EVENT_BATCH_FAILURE]
    assert {e.attributes[A.FILE_PATH] for e in events} == {f.path for f in result.files if not f.ok}
    # Nothing lost: the crashed worker had flushed the spans of every file it reported before dying.
    # (one worker, files in order: the first file was reported by the worker that later died)
    first = next(f for f in result.files if f.path.endswith("AudiusProject__01_delivery.xml"))
    assert first.ok and first.pid not in {f.pid for f in later}
    exported = {s.span_id.hex() for pid, s in _offline_spans(offline) if s.name == A.SPAN_FILE}
    assert first.span_id in exported
    assert {f.span_id for f in result.files if f.ok} <= exported


def test_an_interrupted_batch_leaves_no_output_of_a_file_it_reports_not_processed(tmp_path: Path) -> None:
    """A worker ended by Ctrl-C may have written a file's output, or left its temporary file, without
    its result arriving: both go; an output an earlier run wrote is kept."""
    import time

    from ddex_otel.outputs import write_bytes

    output_path = B.output_path
    out = tmp_path / "built"
    out.mkdir()
    since = time.time()
    written, earlier, killed = (str(tmp_path / f"{name}.xml") for name in ("written", "earlier", "killed"))
    write_bytes(output_path(out, written), b"<x/>")  # finished, result lost
    old = output_path(out, earlier)
    old.write_bytes(b"<old/>")
    os.utime(old, (since - 3600, since - 3600))  # an earlier run's output
    partial = output_path(out, killed).parent / f".{output_path(out, killed).name}.abc123.partial"
    partial.write_bytes(b"<x")  # a writer killed before its rename
    B._discard_unreported([written, earlier, killed], out, since)
    assert sorted(p.name for p in out.iterdir()) == [old.name]
