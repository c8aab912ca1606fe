"""``ddex-otel batch`` as a user runs it: the console script in a child process, offline telemetry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ddex_otel.cli import main

CLI = Path(sys.executable).parent / "ddex-otel"
SAMPLES = ("daddykev__Samples43_1_Audio.xml", "daddykev__Samples42_2_Video.xml", "miqwit__015_ern411.xml")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env["COLUMNS"] = "160"
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


@pytest.fixture
def delivery(tmp_path: Path, samples_dir: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(samples_dir / name, folder / name)
    (folder / "broken.xml").write_bytes(b"<NewReleaseMessage><MessageHeader>")
    return folder


def test_json_result_lists_every_file_and_exit_status_is_1_on_a_failure(delivery: Path, tmp_path: Path) -> None:
    done = _run(["batch", str(delivery), "--workers", "2", "--json"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["totals"]["files"] == 4 and data["totals"]["ok"] == 3 and data["totals"]["failed"] == 1
    by_name = {Path(f["path"]).name: f for f in data["files"]}
    assert by_name["broken.xml"]["status"] == "failed"
    assert by_name["broken.xml"]["error"].startswith("TruncatedInputError: ")
    for name in SAMPLES:
        f = by_name[name]
        assert f["status"] == "ok" and f["error"] is None
        assert f["trace_id"] == data["trace_id"] and len(f["span_id"]) == 16
        assert set(f["durations"]) == {"parse", "validate"} and f["durations"]["parse"] > 0
    assert data["operations"]["parse"]["count"] == 4
    assert data["jaeger_url"] is None  # offline files: no Jaeger has the trace, so no link
    # no endpoint: offline files, one pair per process (this one and each worker that ran)
    traces = list((tmp_path / "telemetry").glob("traces-*.jsonl"))
    assert 2 <= len(traces) <= 3
    assert any("telemetry" in line for line in data["telemetry"])


def test_tables_show_totals_failures_and_the_trace_link(delivery: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(["batch", str(delivery / "*.xml"), "--workers", "1", "--to-version", "4.2", "--out", str(out)],
                cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "files 4  ok 3  failed 1" in done.stdout
    assert "broken.xml" in done.stdout and "TruncatedInputError" in done.stdout
    for op in ("parse", "validate", "build", "file"):
        assert f"│ {op} " in done.stdout
    assert "batch trace:" not in done.stdout and "/trace/" not in done.stdout  # offline: a link would lead nowhere
    assert sorted(p.name for p in out.iterdir()) == sorted(SAMPLES)
    assert "Traceback" not in done.stderr


def test_all_ok_exits_0(delivery: Path, tmp_path: Path) -> None:
    (delivery / "broken.xml").unlink()
    done = _run(["batch", str(delivery), "--workers", "2", "--json"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["failed"] == 0


@pytest.mark.parametrize("argv, message", [
    (["batch", "no-such-dir"], "no such file or directory: no-such-dir"),
    (["batch", "{delivery}", "--to-version", "4.3"], "--to-version and --out go together"),
    (["batch", "{delivery}", "--to-version", "3.1", "--out", "x"], "unsupported ERN version"),
    (["batch", "{delivery}", "--workers", "-2"], "--workers"),
])
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str, delivery: Path, capsys) -> None:
    # Usage errors are found before telemetry is set up, so running in this process is safe.
    assert main([a.format(delivery=delivery) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddex-otel: error: ") and message in err and err.count("\n") == 1


@pytest.fixture
def webhook_receiver():
    """A real HTTP server on loopback that keeps the JSON bodies POSTed to it."""
    import http.server
    import threading

    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()
    server.server_close()


def test_alerts_are_checked_on_the_batch_aggregates_and_sent(delivery: Path, tmp_path: Path, webhook_receiver) -> None:
    url, received = webhook_receiver
    rules = tmp_path / "alerts.yml"
    rules.write_text(
        "thresholds:\n"
        "  - {metric: error.rate, threshold: 0.05, description: too many failures}\n"
        "  - {metric: parse.duration, threshold: 60, description: parse p95 above a minute}\n"
        f"channels:\n  webhook: {{url: '{url}'}}\n"
    )
    done = _run(["batch", str(delivery), "--workers", "2", "--alerts", str(rules), "--json"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    # one file of four failed: its parse and its file record failed, out of 4 + 3 + 4 records
    (alert,) = data["alerts"]
    assert alert["metric"] == "error.rate" and alert["state"] == "firing"
    assert alert["value"] == pytest.approx(2 / 11)
    assert [(a["metric"], a["value"]) for a in received] == [("error.rate", alert["value"])]


def test_a_bad_alerts_file_is_a_usage_error(delivery: Path, tmp_path: Path, capsys) -> None:
    rules = tmp_path / "alerts.yml"
    rules.write_text("thresholds: [{metric: error.rate}]\n")
    assert main(["batch", str(delivery), "--alerts", str(rules)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ddex-otel: error: --alerts: {rules}: thresholds[0]") and err.count("\n") == 1


def _exported_file_spans(folder: Path) -> int:
    """How many ``ddex.file`` spans the offline trace files in ``folder`` hold so far."""
    if not folder.is_dir():
        return 0
    return sum(p.read_bytes().count(b'"ddex.file"') for p in folder.glob("traces-*.jsonl"))


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_keeps_the_results_so_far_and_exits_130(presses: int, tmp_path: Path, sample_paths: list[Path]) -> None:
    import signal
    import time

    from support import wait_for

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):  # ~2700 hard links: far more than the batch gets through before the signal
        for sample in sample_paths:
            os.link(sample, folder / f"{sample.stem}-{i}.xml")
    out = tmp_path / "built"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    proc = subprocess.Popen([str(CLI), "batch", str(folder), "--workers", "2", "--json", "--to-version", "4.3",
                             "--out", str(out)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # workers have exported several files' spans (each is flushed before its result is sent):
        # the batch is under way and the main process has results to keep
        wait_for(lambda: _exported_file_spans(tmp_path / "telemetry") >= 6 or proc.poll() is not None, 60,
                 "the batch to get under way")
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        t0 = time.monotonic()
        if presses == 2:  # pressed twice quickly, as impatient users and supervisors do
            os.killpg(proc.pid, signal.SIGINT)
        out_text, err = proc.communicate(timeout=30)
        seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    # the in-flight files get INTERRUPT_GRACE_S plus the telemetry budget at most, the workers' exit as much again
    assert seconds < 15, seconds
    assert err.strip() == "ddex-otel: interrupted"  # no traceback from any worker
    data = json.loads(out_text)
    totals = data["totals"]
    assert totals["interrupted"] is True and totals["files"] == 150 * len(sample_paths)
    not_processed = [f for f in data["files"] if f["status"] == "not_processed"]
    assert all(f["error_type"] == "Interrupted" for f in not_processed)
    assert 0 < totals["ok"] and not_processed and totals["not_processed"] == len(not_processed)
    assert totals["ok"] + totals["failed"] + totals["not_processed"] == totals["files"]
    assert all(f["error_type"] != "Interrupted" for f in data["files"] if f["status"] == "failed")
    # every file reported ok has its output and no other file has one (no half-written ones either)
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(f["output"]).name for f in data["files"] if f["status"] == "ok")


@pytest.mark.parametrize("argv", [["fleet", "up"], ["batch", "{delivery}", "--celery", "redis://127.0.0.1:1/0"]])
def test_a_missing_extra_is_one_line_naming_it(argv: list[str], delivery: Path, tmp_path: Path, monkeypatch,
                                               capsys) -> None:
    from ddex_otel import extras

    # as if the celery extra were not installed (the test venv has it)
    monkeypatch.setitem(extras.EXTRAS, "celery", ("celery", "ddex_otel_no_such_module"))
    run_dir = tmp_path / "run"
    code = main([a.format(delivery=delivery) for a in argv] + (["--run-dir", str(run_dir)] if argv[0] == "fleet" else []))
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1 and "Traceback" not in err, err
    assert "needs the celery extra (ddex_otel_no_such_module is not installed): pip install 'ddex-otel[celery]'" in err
    assert not run_dir.exists()  # nothing was started
