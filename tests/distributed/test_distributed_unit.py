"""ddex_otel.distributed without a broker: the task in Celery's eager mode, the delivery settings,
outcomes and their mapping to the local batch's result. The real thing: tests/integration/test_scale_out.py."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ddex_otel.distributed import celeryapp, tasks
from ddex_otel.distributed.results import FAILED, LOST, OK, DistributedBatchResult, FileOutcome
from ddex_otel.distributed.submitter import _masked, _outcome_from_meta, submit_batch
from ddex_otel.monitoring.batch_runner import FileResult, OperationTiming


@pytest.fixture
def eager_task():
    app = celeryapp.make_app("memory://", "cache+memory://")
    app.conf.task_always_eager = True
    return tasks.register(app)


def test_delivery_settings_never_lose_a_file(monkeypatch):
    monkeypatch.setenv("DDEX_CELERY_VISIBILITY_TIMEOUT", "30")
    conf = celeryapp.make_app("redis://127.0.0.1:1/0").conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.task_track_started
    assert conf.broker_transport_options["visibility_timeout"] == 30.0
    assert conf.broker_transport_options["unacked_restore_interval"] == 6.0  # redelivery checked often enough
    assert conf.result_backend == "redis://127.0.0.1:1/0"


def test_a_bad_visibility_timeout_is_a_warning_and_the_default(monkeypatch, caplog):
    monkeypatch.setenv("DDEX_CELERY_VISIBILITY_TIMEOUT", "an hour")
    assert celeryapp.visibility_timeout() == 3600.0
    assert "ignoring DDEX_CELERY_VISIBILITY_TIMEOUT='an hour'" in caplog.text


def test_broker_url_from_the_environment(monkeypatch):
    monkeypatch.delenv("DDEX_CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://10.0.0.5:6379/2")
    assert celeryapp.broker_url() == "redis://10.0.0.5:6379/2"
    monkeypatch.setenv("DDEX_CELERY_BROKER_URL", "redis://127.0.0.1:7000/0")
    assert celeryapp.broker_url() == "redis://127.0.0.1:7000/0"


def test_task_processes_a_sample(eager_task, sample_paths):
    outcome = eager_task.apply(args=(str(sample_paths[0]),)).get()
    assert outcome["status"] == OK and outcome["path"] == str(sample_paths[0])
    assert outcome["redelivered"] is False and outcome["pid"] > 0 and outcome["host"]
    assert outcome["seconds"] > 0


def test_task_turns_a_bad_file_into_a_failed_outcome_not_an_exception(eager_task, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<NewReleaseMessage")
    outcome = eager_task.apply(args=(str(bad),)).get()
    assert outcome["status"] == FAILED and outcome["error_type"] == "TruncatedInputError"
    assert "\n" not in outcome["error"] and len(outcome["error"]) <= 300


def test_task_builds_and_writes(eager_task, sample_paths, tmp_path):
    outcome = eager_task.apply(args=(str(sample_paths[0]), "4.3", str(tmp_path))).get()
    assert outcome["status"] == OK, outcome.get("error")
    assert (tmp_path / sample_paths[0].name).read_bytes().startswith(b"<?xml")


def test_task_marks_its_span_on_failure(eager_task, tmp_path):
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bad = tmp_path / "bad.xml"
    bad.write_text("not xml at all")
    with provider.get_tracer("t").start_as_current_span("run/ddex_otel.process_file"):
        outcome = eager_task.apply(args=(str(bad),)).get()
    span = exporter.get_finished_spans()[-1]
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == outcome["error_type"]
    assert span.attributes["file.path"] == str(bad)


def test_outcome_from_a_failed_task_meta():
    meta = {"status": "FAILURE", "result": {"exc_type": "WorkerLostError", "exc_message": "Worker exited\n early"}}
    outcome = _outcome_from_meta("/in/a.xml", meta)
    assert outcome.status == FAILED and outcome.error_type == "WorkerLostError"
    assert outcome.error == "WorkerLostError: Worker exited early"


def test_outcome_keeps_only_known_fields():
    outcome = _outcome_from_meta("/in/a.xml", {"status": "SUCCESS", "result": {
        "path": "/in/a.xml", "status": "ok", "host": "h1", "something_new": 1}})
    assert outcome.ok and outcome.host == "h1"


def test_outcome_operations_are_the_local_batch_timings():
    sent = [{"name": "parse", "duration_s": 0.05, "success": True, "memory_delta": 12, "error_type": None},
            {"name": "validate", "duration_s": 0.01, "success": False, "error_type": "X", "later_field": 1},
            {"name": "no-duration"}, "not a timing"]  # a worker of another version: left out, the file kept
    outcome = _outcome_from_meta("/in/a.xml", {"status": "SUCCESS", "result": {
        "path": "/in/a.xml", "status": "ok", "operations": sent}})
    assert outcome.operations == [OperationTiming("parse", 0.05, True, 12, None),
                                  OperationTiming("validate", 0.01, False, None, "X")]
    assert outcome.durations() == {"parse": 0.05, "validate": 0.01}


def test_result_maps_to_the_local_batch_result():
    files = [
        FileOutcome("/a.xml", OK, seconds=0.1, host="h1", operations=[OperationTiming("parse", 0.05)]),
        FileOutcome("/b.xml", FAILED, host="h2", error="X: y", error_type="X", redelivered=True),
        FileOutcome("/c.xml", LOST, error="TaskLost: no outcome", error_type="TaskLost"),
    ]
    result = DistributedBatchResult(files, seconds=2.0, trace_id="ab" * 16)
    assert (result.ok, result.failed, result.redelivered, result.workers) == (1, 2, 1, ["h1", "h2"])
    local = result.to_batch_result()
    assert (local.ok, local.failed, local.workers, local.trace_id) == (1, 2, 2, "ab" * 16)
    assert local.operations()["parse"]["count"] == 1
    # the local batch's files are plain FileResults (its JSON has no Celery fields); lost counts as failed
    assert [type(f) for f in local.files] == [FileResult] * 3
    assert [f.status for f in local.files] == [OK, FAILED, FAILED]
    assert local.files[2].to_dict()["error_type"] == "TaskLost" and "host" not in local.files[0].to_dict()
    assert result.to_dict()["totals"]["files_per_second"] == 1.5


def test_submit_rejects_bad_arguments_before_touching_the_broker():
    with pytest.raises(ValueError, match="no input"):
        submit_batch([], "redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="together"):
        submit_batch(["a.xml"], "redis://127.0.0.1:1/0", to_version="4.3")


def test_broker_password_is_masked():
    assert _masked("redis://:s3cret@10.0.0.5:6379/0") == "redis://:**@10.0.0.5:6379/0"
