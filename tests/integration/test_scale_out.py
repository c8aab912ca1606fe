"""Scale-out, all real: Redis, Celery workers (one under opentelemetry-instrument, one with our
configure()), an agent collector per worker host, the gateway collector, Jaeger on Badger, Prometheus.

One fleet per test (each breaks something on purpose); every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis

from ddex_otel.ern.generator import write_message
from ddex_otel.stack import StackError
from ddex_otel.stack.fleet import Fleet
from ddex_otel.stack.query import Prometheus, get_json, poll
from support import stack_binaries

VISIBILITY_TIMEOUT = 5.0  # seconds before a dead worker's message goes to another worker
BATCH_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    try:
        return stack_binaries()
    except StackError as exc:
        pytest.fail(f"stack binaries: {exc}\n{exc.log_tail()}", pytrace=False)


@pytest.fixture
def fleet(bin_dir, tmp_path):
    fleet = Fleet(tmp_path / "fleet", workers=2, bin_dir=bin_dir, visibility_timeout=VISIBILITY_TIMEOUT,
                  instrumentation=("opentelemetry-instrument", "configure"))
    try:
        fleet.start()
    except StackError as exc:
        pytest.fail(f"scale-out fleet did not start: {exc}\n--- log tail ---\n{exc.log_tail()}", pytrace=False)
    yield fleet
    fleet.stop()


def corrupt_file(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt-delivery.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">\n<Mess')
    return path


def celery_batch(fleet: Fleet, *inputs: Path, service: str, wait: bool = True):
    """``ddex-otel batch … --celery URL --json`` as a user runs it, exporting to worker host 1's agent."""
    argv = [sys.executable, "-m", "ddex_otel.cli", "batch", *map(str, inputs), "--celery", fleet.broker_url,
            "--endpoint", fleet.agent_otlp(0), "--service-name", service, "--json",
            "--celery-timeout", str(BATCH_TIMEOUT)]
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    return finish(proc) if wait else proc


def finish(proc: subprocess.Popen) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=BATCH_TIMEOUT + 30)
    assert out.strip(), f"no JSON from batch --celery (status {proc.returncode}): {err[-2000:]}"
    return proc.returncode, json.loads(out)


def jaeger_trace(fleet: Fleet, trace_id: str, spans: int, timeout: float = 45.0) -> dict:
    """The trace once it holds ``spans`` spans."""
    def fetch():
        try:
            return get_json(f"{fleet.jaeger_url}/api/traces/{trace_id}")["data"][0]
        except urllib.error.HTTPError as exc:  # 404 until the first span is stored
            if exc.code == 404:
                return {"spans": []}
            raise

    return poll(fetch, lambda t: len(t["spans"]) >= spans, timeout, f"{spans} spans of trace {trace_id}")


def expected_spans(ok: int, failed: int) -> int:
    """ddex.batch + per file (ddex.file, apply_async, run, ddex.parse) + ddex.validate per parsed file."""
    return 1 + 4 * (ok + failed) + ok


def check_connected(trace: dict) -> dict[str, dict]:
    """Every parent id resolves inside the trace and ddex.batch is the only root; spans by id."""
    by_id = {s["spanID"]: s for s in trace["spans"]}
    roots = []
    for span in trace["spans"]:
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        if not parents:
            roots.append(span["operationName"])
            continue
        assert all(p in by_id for p in parents), f"{span['operationName']} has a parent outside the trace"
    assert roots == ["ddex.batch"]
    return by_id


def tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


def host_of(trace: dict, span: dict) -> str:
    process = trace["processes"][span["processID"]]
    return {t["key"]: t["value"] for t in process["tags"]}.get("host.name", "")


def parent(by_id: dict, span: dict) -> dict:
    return by_id[next(r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF")]


def test_batch_is_one_trace_across_workers_and_prometheus_counts_every_file(fleet, samples_dir, sample_paths,
                                                                          tmp_path):
    service = f"ddex-batch-{uuid.uuid4().hex[:8]}"
    bad = corrupt_file(tmp_path)
    status, result = celery_batch(fleet, samples_dir, bad, service=service)
    files = len(sample_paths) + 1

    assert status == 1  # one file failed
    totals = result["totals"]
    assert (totals["files"], totals["ok"], totals["failed"]) == (files, files - 1, 1)
    failed = [f for f in result["files"] if f["status"] != "ok"]
    assert [Path(f["path"]).name for f in failed] == [bad.name]
    assert failed[0]["error_type"] == "TruncatedInputError"
    assert set(result["celery"]["hosts"]) == {fleet.worker_host(0), fleet.worker_host(1)}
    assert totals["workers"] == 2
    # The summary's operation table is read from the workers' spans, as for a local batch.
    assert result["operations"]["parse"]["count"] == files

    trace = jaeger_trace(fleet, result["trace_id"], expected_spans(files - 1, 1))
    by_id = check_connected(trace)
    names = Counter(s["operationName"] for s in trace["spans"])
    assert names["ddex.file"] == names["run/ddex_otel.process_file"] == names["ddex.parse"] == files
    runs = [s for s in trace["spans"] if s["operationName"] == "run/ddex_otel.process_file"]
    # batch → file → apply_async → run (on a worker) → parse
    for run in runs:
        publish = parent(by_id, run)
        assert publish["operationName"] == "apply_async/ddex_otel.process_file"
        assert parent(by_id, publish)["operationName"] == "ddex.file"
        assert parent(by_id, parent(by_id, publish))["operationName"] == "ddex.batch"
    assert {host_of(trace, r) for r in runs} == {fleet.worker_host(0), fleet.worker_host(1)}
    instances = {tags(trace["processes"][r["processID"]]).get("service.instance.id") for r in runs}
    assert len(instances) == 2 and None not in instances
    # The corrupt file: an error parse span under an error task span, an error ddex.file span.
    bad_parse = [s for s in trace["spans"] if s["operationName"] == "ddex.parse"
                 and tags(s).get("error.type") == "TruncatedInputError"]
    assert len(bad_parse) == 1 and tags(bad_parse[0])["otel.status_code"] == "ERROR"
    bad_run = parent(by_id, bad_parse[0])
    assert tags(bad_run)["otel.status_code"] == "ERROR"
    bad_file = parent(by_id, parent(by_id, bad_run))
    assert tags(bad_file)["ddex.file.outcome"] == "failed" and tags(bad_file)["otel.status_code"] == "ERROR"

    prom = Prometheus(fleet.prometheus_url)
    # spanmetrics (computed once, on the gateway): one ddex.file call per file, one of them an error.
    calls = f'traces_span_metrics_calls_total{{service_name="{service}", span_name="ddex.file"}}'
    prom.wait(f"sum({calls})", lambda r: r and float(r[0]["value"][1]) == files)
    errors = prom.query(f'sum({calls[:-1]}, status_code="STATUS_CODE_ERROR"}})')
    assert float(errors[0]["value"][1]) == 1
    # The workers' own metrics, through their agents and the gateway: one parse per file.
    parses = f'sum(ddex_operation_duration_seconds_count{{job="{fleet.service_name}", ddex_operation_name="parse"}})'
    prom.wait(parses, lambda r: r and float(r[0]["value"][1]) == files)
    per_host = prom.query(f'count(ddex_operation_duration_seconds_count{{job="{fleet.service_name}", '
                          f'ddex_operation_name="parse"}}) by (instance)')
    assert len(per_host) == 2  # two service.instance.id values: two workers reported


def big_inputs(tmp_path: Path, count: int) -> Path:
    """Generated 12 MB messages: ~1-2 s of parse + validate each, long enough to be caught mid-task."""
    inputs = tmp_path / "big"
    inputs.mkdir()
    for i in range(count):
        write_message(inputs / f"catalogue-{i}.xml", target_bytes=12_000_000, seed=i)
    return inputs


def wait_started(fleet: Fleet) -> int:
    """The pid of a worker in the middle of a task (its STARTED state, task_track_started)."""
    broker = redis.Redis.from_url(fleet.broker_url)

    def started_pid() -> int | None:
        for key in broker.scan_iter("celery-task-meta-*"):
            meta = json.loads(broker.get(key) or "{}")
            if meta.get("status") == "STARTED":
                return int(meta["result"]["pid"])
        return None

    try:
        return poll(started_pid, lambda p: p is not None and fleet.worker_index(p) is not None, 30,
                    "a task STARTED on a worker", interval=0.05)
    finally:
        broker.close()


def test_worker_killed_mid_task_its_file_runs_on_the_other_worker(fleet, tmp_path):
    inputs = big_inputs(tmp_path, 4)
    proc = celery_batch(fleet, inputs, service=f"ddex-batch-{uuid.uuid4().hex[:8]}", wait=False)

    pid = wait_started(fleet)
    killed = fleet.worker_index(pid)
    fleet.kill_worker(killed)
    status, result = finish(proc)

    assert status == 0, result["totals"]
    assert result["totals"]["ok"] == 4
    survivor = fleet.worker_host(1 - killed)
    assert result["celery"]["redelivered"] == 1
    redelivered = [f for f in result["celery"]["files"] if f["redelivered"]]
    assert len(redelivered) == 1
    assert redelivered[0]["host"] == survivor
    trace = jaeger_trace(fleet, result["trace_id"], expected_spans(4, 0))
    by_id = check_connected(trace)
    runs = [s for s in trace["spans"] if s["operationName"] == "run/ddex_otel.process_file"]
    retried = [r for r in runs if tags(r).get("ddex.task.redelivered") is True]
    assert len(retried) == 1 and host_of(trace, retried[0]) == survivor
    assert tags(parent(by_id, parent(by_id, retried[0])))["ddex.task.redelivered"] is True  # ddex.file


def queue_size(url: str) -> float:
    """otelcol_exporter_queue_size summed over the exporters of one collector (its own metrics)."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("otelcol_exporter_queue_size"))


def test_gateway_down_and_agents_restarted_nothing_is_lost(fleet, samples_dir, sample_paths, tmp_path):
    fleet.stop_component("gateway")
    status, result = celery_batch(fleet, samples_dir, service=f"ddex-batch-{uuid.uuid4().hex[:8]}")
    files = len(sample_paths)
    assert status == 0 and result["totals"]["ok"] == files
    # The agents hold the spans in their persistent queues while the gateway is away ...
    poll(lambda: sum(queue_size(fleet.agent_metrics_url(i)) for i in range(2)), lambda n: n > 0, 30,
         "spans queued on the agents")
    # ... and keep them on disk across a restart of the agents themselves.
    for i in range(2):
        fleet.restart(f"agent{i}")
    fleet.start_component("gateway")
    trace = jaeger_trace(fleet, result["trace_id"], expected_spans(files, 0), timeout=60)
    assert len(trace["spans"]) == expected_spans(files, 0)
    check_connected(trace)
    # Jaeger keeps traces in Badger: a restart of Jaeger loses none.
    fleet.restart("jaeger")
    assert len(jaeger_trace(fleet, result["trace_id"], expected_spans(files, 0))["spans"]) == expected_spans(files, 0)


def test_broker_restarted_mid_batch_every_file_completes(fleet, tmp_path):
    inputs = big_inputs(tmp_path, 4)
    proc = celery_batch(fleet, inputs, service=f"ddex-batch-{uuid.uuid4().hex[:8]}", wait=False)
    wait_started(fleet)
    fleet.restart("redis")  # append-only file: queued and unacknowledged tasks survive
    status, result = finish(proc)
    assert status == 0, result["totals"]
    assert result["totals"]["ok"] == 4 and result["celery"]["lost"] == 0
    check_connected(jaeger_trace(fleet, result["trace_id"], expected_spans(4, 0)))
