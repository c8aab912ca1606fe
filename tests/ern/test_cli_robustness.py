"""Every command as a user runs it (the installed console script, in a child process) holds up
under a dead collector, console telemetry, Ctrl-C and outputs it cannot write: no stall beyond
the telemetry shutdown budget, data alone on stdout, no half-written file, one line per problem.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from ddex_otel.outputs import atomic_write, check_writable
from ddex_otel.stack.faults import BlackHole, refused_endpoint
from support import clean_env, console_script, wait_for

CLI = console_script()
AUDIO = "daddykev__Samples43_1_Audio.xml"
#: Telemetry shutdown budget the runs below get (DDEX_OTEL_SHUTDOWN_TIMEOUT).
BUDGET_S = 1.0
#: Allowance on top of the budgets for a batch: three processes import the OTLP exporter, on a
#: machine shared with other work.
BATCH_SLACK_S = 4.0
#: After a command's last output: its flush, warning line and interpreter exit, beyond the budget.
STALL_SLACK_S = 1.0


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[subprocess.CompletedProcess,
                                                                                           float]:
    t0 = time.monotonic()
    done = subprocess.run([str(CLI), *argv], cwd=cwd, env=env, capture_output=True, timeout=timeout)
    return done, time.monotonic() - t0


def _ern_commands(sample: Path) -> dict[str, list[str]]:
    return {
        "parse": ["parse", str(sample)],
        "stream": ["stream", str(sample)],
        "validate": ["validate", str(sample)],
        "build": ["build", str(sample), "--version", "4.2"],
        "generate": ["generate", "-", "--releases", "2"],
    }


@pytest.fixture
def dead_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refusing":
        yield refused_endpoint()
        return
    with BlackHole() as hole:
        yield hole.endpoint


_baselines: dict[str, float] = {}


def _baseline(name: str, argv: list[str], cwd: Path) -> float:
    """Wall time of the command without telemetry (interpreter start and imports included)."""
    if name not in _baselines:
        done, wall = _run(argv, cwd, clean_env())
        assert done.returncode == 0, done.stderr
        _baselines[name] = wall
    return _baselines[name]


def _one_warning(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and "Transient error" not in text and "StatusCode." not in text, text
    lines = [line for line in text.strip().splitlines() if "telemetry" in line]  # (build warns of losses too)
    assert len(lines) == 1 and lines[0].startswith("ddex-otel: warning: telemetry not delivered: "), text
    return lines[0]


def _stall_after_output(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes, float]:
    """Run the command unbuffered; return (exit status, stderr, seconds from its last output to its exit)."""
    proc = subprocess.Popen([str(CLI), *argv], cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last_output = time.monotonic()
    deadline = last_output + 120
    try:
        while time.monotonic() < deadline:  # bounded: one read per chunk, until EOF or the deadline
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            last_output = time.monotonic()
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        exited = time.monotonic()
        return proc.returncode, proc.stderr.read(), exited - last_output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("dead_endpoint", ["refusing", "black-holed"], indirect=True)
@pytest.mark.parametrize("command", ["parse", "stream", "validate", "build", "generate"])
def test_a_dead_endpoint_costs_at_most_the_shutdown_budget(command: str, dead_endpoint: str, samples_dir: Path,
                                                           tmp_path: Path) -> None:
    argv = _ern_commands(samples_dir / AUDIO)[command]
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=dead_endpoint, DDEX_OTEL_SHUTDOWN_TIMEOUT=str(BUDGET_S))
    status, stderr, stall = _stall_after_output(argv, tmp_path, env)
    assert status == 0, stderr
    # what the user waits for once the command's data is out: the telemetry shutdown, bounded
    assert stall <= BUDGET_S + STALL_SLACK_S, stall
    line = _one_warning(stderr)
    assert "span(s)" in line and dead_endpoint in line


@pytest.mark.parametrize("dead_endpoint", ["refusing", "black-holed"], indirect=True)
def test_batch_with_workers_pays_a_dead_endpoint_once_per_process(dead_endpoint: str, samples_dir: Path,
                                                                  tmp_path: Path) -> None:
    argv = ["batch", str(samples_dir), "--workers", "2", "--json"]
    base = _baseline("batch", argv, tmp_path)
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=dead_endpoint, DDEX_OTEL_SHUTDOWN_TIMEOUT=str(BUDGET_S))
    done, wall = _run(argv, tmp_path, env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["totals"]["ok"] == data["totals"]["files"] > 2
    assert data["jaeger_url"] is None  # nothing reached a collector: no link that leads nowhere
    # A worker's first flush finds the endpoint dead (one budget, both workers at once), later
    # files skip the flush; the main process's own shutdown is the second budget. (Paid per file,
    # as before, the 18 samples would cost 9 budgets per worker.) The slack also covers the OTLP
    # exporter's imports in each process, which the offline baseline does without.
    assert wall <= base + 2 * BUDGET_S + BATCH_SLACK_S, (wall, base)
    text = done.stderr.decode()
    assert "Traceback" not in text and "Transient error" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]  # (older rich ends its progress with a blank line)
    assert 1 <= len(lines) <= 3, text  # at most one per process: this one and each worker
    assert all(line.startswith("ddex-otel: warning: ") and "telemetry not delivered" in line for line in lines)


def _data_commands(sample: Path) -> dict[str, tuple[list[str], str]]:
    return {
        "parse --json": (["parse", "--json", str(sample)], "json"),
        "stream --jsonl": (["stream", "--jsonl", str(sample)], "jsonl"),
        "build": (["build", str(sample)], "xml"),
        "generate -": (["generate", "-", "--releases", "2"], "xml"),
        "batch --json": (["batch", str(sample), "--workers", "1", "--json"], "json"),
    }


@pytest.mark.parametrize("command", ["parse --json", "stream --jsonl", "build", "generate -", "batch --json"])
def test_console_telemetry_goes_to_stderr_and_stdout_stays_data(command: str, samples_dir: Path,
                                                                tmp_path: Path) -> None:
    argv, kind = _data_commands(samples_dir / AUDIO)[command]
    env = clean_env(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console")
    done, _ = _run(argv, tmp_path, env)
    assert done.returncode == 0, done.stderr
    if kind == "json":
        json.loads(done.stdout)
    elif kind == "jsonl":
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        assert rows and rows[0]["item"] == "StreamStart"
    else:
        assert etree.fromstring(done.stdout).tag.endswith("NewReleaseMessage")
    assert b'"name": "ddex.' in done.stderr  # the console exporter did write: on stderr


def _interrupt_when(proc: subprocess.Popen, ready: object, what: str) -> float:
    try:
        wait_for(lambda: ready() or proc.poll() is not None, 60, what)
        assert proc.poll() is None, f"the command ended before it could be interrupted: {proc.stderr.read()!r}"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        t0 = time.monotonic()
        proc.wait(timeout=20)
        return time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _popen(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([str(CLI), *argv], cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def test_ctrl_c_during_generate_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _popen(["generate", str(out / "big.xml"), "--size", "2GB"], tmp_path)

    def writing() -> bool:
        for path in out.iterdir():
            try:
                if path.stat().st_size > 1_000_000:
                    return True
            except FileNotFoundError:  # the temporary file went between listing and stat: the exit says why
                return False
        return False

    seconds = _interrupt_when(proc, writing, "generate to write its first megabyte")
    assert proc.returncode == 130 and seconds < 5, (proc.returncode, seconds)
    assert proc.stderr.read().decode().strip().splitlines()[-1] == "ddex-otel: interrupted"
    assert list(out.iterdir()) == []  # neither big.xml nor its temporary file


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_ctrl_c_during_build_leaves_no_file(tmp_path: Path) -> None:
    from ddex_otel.ern.generator import write_message

    big = tmp_path / "big.xml"
    write_message(big, target_bytes=20_000_000)
    out = tmp_path / "out"
    out.mkdir()
    proc = _popen(["build", str(big), "-o", str(out / "built.xml"), "--level", "off"], tmp_path)
    seconds = _interrupt_when(proc, lambda: _cpu_seconds(proc.pid) > 1.0, "build to be under way")
    assert proc.returncode == 130 and seconds < 5, (proc.returncode, seconds)
    assert list(out.iterdir()) == []


# (option, argv with {out}); every option of every command that writes a file
_WRITERS = {
    "build -o": ["build", "{sample}", "-o", "{out}"],
    "generate OUT": ["generate", "{out}"],
    "batch --out": ["batch", "{sample}", "--to-version", "4.3", "--out", "{out}", "--workers", "0"],
    "profile --csv": ["profile", "{sample}", "--runs", "1", "--csv", "{out}"],
    "profile --json": ["profile", "{sample}", "--runs", "1", "--json", "{out}"],
    "profile --html": ["profile", "{sample}", "--runs", "1", "--html", "{out}"],
    "bench --output": ["bench", "--quick", "--output", "{out}"],
    "bench --html": ["bench", "--quick", "--html", "{out}"],
}


@pytest.mark.parametrize("where", ["a-directory", "missing-dir", "proc"])
@pytest.mark.parametrize("option", list(_WRITERS))
def test_an_unwritable_output_is_one_line_before_any_work(option: str, where: str, samples_dir: Path,
                                                          tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    out = {"a-directory": tmp_path, "missing-dir": tmp_path / "nonexistent" / "x",
           "proc": Path("/proc/ddex-otel-test/x")}[where]
    if option == "batch --out" and where != "proc":
        out = tmp_path / "file" if where == "a-directory" else tmp_path / "file" / "sub"  # a file, not a dir
    argv = [a.format(sample=samples_dir / AUDIO, out=out) for a in _WRITERS[option]]
    before = sorted(tmp_path.rglob("*"))
    done, wall = _run(argv, tmp_path, clean_env(), timeout=60)
    err = done.stderr.decode()
    assert done.returncode in (1, 2), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "[Errno" not in err, err
    assert lines[0].startswith("ddex-otel") and "error" in lines[0] and str(out) in lines[0], lines[0]
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no temporary file left
    assert done.stdout == b""  # refused before the work (bench would print its table)


def test_help_texts_say_the_whole_truth() -> None:
    def help_of(command: str) -> str:
        done = subprocess.run([str(CLI), command, "--help"], capture_output=True, text=True, timeout=60,
                              env={**clean_env(), "COLUMNS": "200"})
        assert done.returncode == 0
        return " ".join(done.stdout.split())

    from ddex_otel.ern.versions import READABLE_VERSIONS

    assert all(v in help_of("parse") for v in READABLE_VERSIONS) and "3.4.1" in READABLE_VERSIONS
    assert "130 interrupted" in help_of("batch")
    assert "ERN 4.x allows one main release per message" in help_of("generate")


# -- atomic writes (the library part) --------------------------------------------------------------


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt])
def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(failure: type[BaseException],
                                                                        tmp_path: Path) -> None:
    target = tmp_path / "out.xml"
    target.write_bytes(b"previous")
    with pytest.raises(failure):
        with atomic_write(target) as out:
            out.write(b"half of the new")
            raise failure()
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xml"]


def test_an_atomic_write_keeps_mode_link_and_devices(tmp_path: Path) -> None:
    target = tmp_path / "real.xml"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.xml"
    link.symlink_to(target.name)
    with atomic_write(link) as out:
        out.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640
    with atomic_write(tmp_path / "fresh.xml", "w", encoding="utf-8") as out:
        out.write("x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert ((tmp_path / "fresh.xml").stat().st_mode & 0o777) == 0o666 & ~umask
    devnull = os.stat(os.devnull)
    check_writable(os.devnull)
    with atomic_write(os.devnull) as out:  # written in place: a device node is never replaced
        out.write(b"discarded")
    after = os.stat(os.devnull)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (devnull.st_ino, devnull.st_mode, devnull.st_rdev)
