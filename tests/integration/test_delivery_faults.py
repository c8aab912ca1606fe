"""Telemetry delivery against real endpoints on 127.0.0.1 (issue 9).

* our collector build, alone (``CollectorOnly``: OTLP in, debug out), whose own
  ``otelcol_receiver_accepted_spans`` says what it accepted; killed with SIGKILL and restarted for
  the outage tests;
* a refusing port, a black hole (accepts, never answers) and an HTTP server answering 503.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ddex_otel
from ddex_otel import ern
from ddex_otel.stack import paths
from ddex_otel.stack.errors import StackError
from ddex_otel.stack.faults import BlackHole, CollectorOnly, Http503, refused_endpoint
from ddex_otel.telemetry.delivery import DEFAULT_SHUTDOWN_TIMEOUT
from support import stack_binaries

REPO = Path(__file__).resolve().parents[2]
WORKLOAD = REPO / "benchmarks" / "delivery_workload.py"
BUDGET = 3.0  # seconds: the bound on shutdown() and on a process's exit after its work


def collector_bin_dir() -> Path:
    """Only the collector is needed here: use a built one, else build the stack (fails loudly)."""
    try:
        paths.find_binary("ddex-otelcol")
        return paths.bin_dir()
    except StackError:
        return stack_binaries()


@pytest.fixture(scope="session")
def sample(samples_dir: Path) -> Path:
    path = samples_dir / "daddykev__Samples43_1_Audio.xml"
    if not path.is_file():
        pytest.fail(f"{path} not found (set DDEX_SAMPLES_DIR)")
    return path


@pytest.fixture(scope="module")
def collector(tmp_path_factory) -> CollectorOnly:
    with CollectorOnly(tmp_path_factory.mktemp("collector-only"), collector_bin_dir()) as col:
        yield col


def _endpoint(col: CollectorOnly, protocol: str) -> str:
    return col.grpc_endpoint if protocol == "grpc" else col.http_endpoint


def _wait_accepted(col: CollectorOnly, at_least: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        accepted = col.accepted_spans()
        if accepted >= at_least or time.monotonic() > deadline:
            return accepted
        time.sleep(0.1)


def _kill_with_the_sender_paused(col: CollectorOnly, sender: subprocess.Popen) -> None:
    """SIGKILL the collector while the sending process is stopped and the collector's count is still.

    ``kill`` reads the accepted count and then kills: spans arriving in between would be answered
    (exported, for the sender) but never counted. With the sender stopped and the count unchanged
    over 0.2 s, nothing arrives in between.
    """
    os.kill(sender.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        last = col.accepted_spans()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = col.accepted_spans()
            if now == last:
                break
            last = now
        col.kill()
    finally:
        os.kill(sender.pid, signal.SIGCONT)


def _workload(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> tuple[dict, float, str]:
    """Run the workload process; (its JSON report, seconds from WORK_DONE to process exit, stderr)."""
    proc = subprocess.Popen([sys.executable, str(WORKLOAD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})
    out, err = proc.communicate(timeout=timeout)
    ended = time.time()
    assert proc.returncode == 0, err[-3000:]
    lines = out.strip().splitlines()
    work_done = float(next(line for line in lines if line.startswith("WORK_DONE")).split()[1])
    return json.loads(lines[-1]), ended - work_done, err


def _assert_balanced(delivery: dict) -> None:
    assert delivery["spans_ended"] == delivery["spans_exported"] + delivery["spans_dropped"], delivery
    assert delivery["spans_pending"] == 0, delivery


# ------------------------------------------------------------------------- live collector: nothing lost


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_every_span_reaches_a_live_collector_and_is_counted(collector: CollectorOnly, protocol: str) -> None:
    before = collector.accepted_spans()
    report, exit_lag, _ = _workload("--endpoint", _endpoint(collector, protocol), "--protocol", protocol,
                                    "--parses", "300", "--stage-spans")
    delivery = report["delivery"]
    _assert_balanced(delivery)
    assert delivery["spans_dropped"] == 0 and delivery["spans_ended"] >= 300 * 5
    assert _wait_accepted(collector, before + delivery["spans_exported"]) - before == delivery["spans_exported"]
    assert delivery["metric_exports"] >= 1 and delivery["metric_exports_failed"] == 0
    assert exit_lag < BUDGET


def test_short_cli_runs_lose_nothing(collector: CollectorOnly, sample: Path, tmp_path: Path) -> None:
    """Every ERN command exports when OTEL_EXPORTER_OTLP_ENDPOINT says so, and flushes before exit."""
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint}
    commands = {
        "parse": ["parse", str(sample)],
        "stream": ["stream", str(sample)],
        "validate": ["validate", str(sample)],
        "build": ["build", str(sample), "-o", str(tmp_path / "out.xml")],
        "generate": ["generate", str(tmp_path / "g.xml"), "--size", "5KB"],
    }
    for name, argv in commands.items():
        before = collector.accepted_spans()
        done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", *argv], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode in (0, 1), done.stderr  # validate exits 1 on findings
        # no waiting for a flush interval: the spans are there when the command has exited
        assert collector.accepted_spans() > before, f"{name}: no span reached the collector"
    # --endpoint works without any OTEL_* variable, over HTTP too
    before = collector.accepted_spans()
    done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "parse", str(sample), "--endpoint",
                           collector.http_endpoint, "--protocol", "http/protobuf"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert collector.accepted_spans() == before + 1


# ------------------------------------------------------------------ dead endpoints: bounded shutdown


@pytest.fixture(params=["refused", "black-hole", "http-503"])
def dead_endpoint(request):
    if request.param == "refused":
        yield refused_endpoint()
    elif request.param == "black-hole":
        with BlackHole() as hole:
            yield hole.endpoint
    else:
        with Http503() as server:
            yield server.endpoint


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_shutdown_is_bounded_and_counts_every_span(dead_endpoint: str, protocol: str, sample: Path) -> None:
    handle = ddex_otel.configure(endpoint=dead_endpoint, protocol=protocol, set_global=False, process_metrics=False)
    for _ in range(50):
        ern.parse(str(sample))
    started = time.monotonic()
    handle.shutdown()
    took = time.monotonic() - started
    assert took < DEFAULT_SHUTDOWN_TIMEOUT + 0.5, f"shutdown took {took:.1f} s (default budget 2 s)"
    delivery = handle.delivery.as_dict()
    _assert_balanced(delivery)
    assert delivery["spans_ended"] == 50 and delivery["spans_exported"] == 0 and delivery["spans_dropped"] == 50


def test_process_exit_is_bounded_with_a_black_hole(sample: Path) -> None:
    with BlackHole() as hole:
        report, exit_lag, _ = _workload("--endpoint", hole.endpoint, "--parses", "100")
    _assert_balanced(report["delivery"])
    assert report["delivery"]["spans_dropped"] == 100
    assert exit_lag < BUDGET, f"the process ended {exit_lag:.1f} s after its work"


def test_cli_exit_is_bounded_with_a_refusing_endpoint(sample: Path) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "parse", str(sample), "--endpoint",
                           refused_endpoint()], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("telemetry not delivered: 1 of 1 span(s)") == 1, done.stderr  # once, with the count
    assert took < BUDGET + 1.5, f"ddex-otel parse took {took:.1f} s"  # + interpreter start and imports


_INSTRUMENTED_APP = """
import sys, time
from ddex_otel import ern
for _ in range(int(sys.argv[2])):
    ern.parse(sys.argv[1])
print("WORK_DONE", time.time(), flush=True)
"""


def _instrumented_app(tmp_path: Path, sample: Path, endpoint: str, parses: int) -> tuple[float, str]:
    """An unmodified app under ``opentelemetry-instrument`` (the SDK's own processors): seconds from
    its last parse to process exit, and its stderr."""
    app = tmp_path / "app.py"
    app.write_text(_INSTRUMENTED_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(OTEL_SERVICE_NAME="instrumented-exit", OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp",
               OTEL_LOGS_EXPORTER="none", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    done = subprocess.run([str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(app),
                           str(sample), str(parses)], capture_output=True, text=True, timeout=120, env=env)
    ended = time.time()
    assert done.returncode == 0, done.stderr
    work_done = float(next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("WORK_DONE")))
    return ended - work_done, done.stderr


def test_instrumented_app_exit_is_bounded_with_a_black_hole(sample: Path, tmp_path: Path) -> None:
    """The SDK's exit hook waits for exporter timeouts and retries (11–15 s); ours gives it the budget."""
    with BlackHole() as hole:
        exit_lag, _ = _instrumented_app(tmp_path, sample, hole.endpoint, parses=20)
    assert exit_lag < BUDGET, f"the instrumented app ended {exit_lag:.1f} s after its work"


def test_instrumented_app_loses_nothing_at_exit_with_a_live_collector(
    collector: CollectorOnly, sample: Path, tmp_path: Path
) -> None:
    before = collector.accepted_spans()
    exit_lag, stderr = _instrumented_app(tmp_path, sample, collector.grpc_endpoint, parses=20)
    assert _wait_accepted(collector, before + 20) - before == 20, stderr  # every parse span, flushed at exit
    assert exit_lag < BUDGET


# -------------------------------------------------------------------- outages and a small buffer


def _outage_run(tmp_path: Path, extra_env: dict[str, str], parses: int) -> tuple[dict, int]:
    """400 parses/s with stage spans; the collector is SIGKILLed after 1 s and restarted 5 s later."""
    with CollectorOnly(tmp_path / "outage", collector_bin_dir()) as col:
        proc = subprocess.Popen(
            [sys.executable, str(WORKLOAD), "--endpoint", col.grpc_endpoint, "--parses", str(parses),
             "--rate", "400", "--stage-spans"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **extra_env})
        try:
            assert _wait_accepted(col, 1, timeout=15) >= 1, "nothing reached the collector before the outage"
            _kill_with_the_sender_paused(col, proc)
            time.sleep(5.0)  # the outage itself, not a synchronisation
            col.start()
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
        accepted = _wait_accepted(col, report["delivery"]["spans_exported"])
    return report["delivery"], accepted


@pytest.mark.slow
def test_a_5s_outage_loses_nothing_that_fits_the_buffer(tmp_path: Path) -> None:
    # The drain at exit gets room: this test is about the buffer, not the (separately tested) exit bound.
    delivery, accepted = _outage_run(tmp_path, {"DDEX_OTEL_SHUTDOWN_TIMEOUT": "30"}, parses=4000)
    _assert_balanced(delivery)
    assert delivery["spans_dropped"] == 0, delivery
    assert delivery["spans_ended"] == 4000 * 5
    # A batch in flight at the SIGKILL may have been accepted without an answer, then sent again.
    assert 0 <= accepted - delivery["spans_exported"] <= 512, (accepted, delivery)


@pytest.mark.slow
def test_beyond_the_buffer_the_loss_is_counted_exactly(tmp_path: Path) -> None:
    delivery, accepted = _outage_run(tmp_path, {"OTEL_BSP_MAX_QUEUE_SIZE": "2048"}, parses=3000)
    _assert_balanced(delivery)
    assert delivery["spans_dropped_queue_full"] > 0
    assert 0 <= accepted - delivery["spans_exported"] <= 512, (accepted, delivery)


def test_a_queue_smaller_than_the_burst_counts_its_drops(collector: CollectorOnly) -> None:
    before = collector.accepted_spans()
    report, _, err = _workload("--endpoint", collector.grpc_endpoint, "--parses", "400", "--stage-spans",
                               env={"OTEL_BSP_MAX_QUEUE_SIZE": "64"})
    delivery = report["delivery"]
    _assert_balanced(delivery)
    assert delivery["spans_dropped_queue_full"] > 0
    assert _wait_accepted(collector, before + delivery["spans_exported"]) - before == delivery["spans_exported"]
    assert "queue full" in err  # the drops are logged (rate-limited), not filtered away


# ---------------------------------------------------------------------------------- forked workers


@pytest.mark.parametrize("mode", ["fork", "os-fork", "pool"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_forked_workers_deliver_their_spans(collector: CollectorOnly, mode: str, protocol: str) -> None:
    """The parent exports before it forks (its exporter has connected); every child's span arrives."""
    before = collector.accepted_spans()
    report, _, _ = _workload("--endpoint", _endpoint(collector, protocol), "--protocol", protocol,
                             "--parses", "400", "--workers", "4", "--mode", mode, "--parent-parses", "20",
                             timeout=120)
    expected = report["expected_spans"]
    assert expected == 420
    arrived = _wait_accepted(collector, before + expected) - before
    assert arrived == expected, f"{arrived} of {expected} spans arrived ({mode}, {protocol})"
