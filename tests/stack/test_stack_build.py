"""`ddex-otel stack build`: a cached second run is fast, keys match the old script's, failures are loud."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from ddex_otel.stack import build

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "ddex-otel"
SCRIPT = REPO / "scripts" / "build-stack.sh"


def _scrubbed(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No Go (PATH without it), an empty cache: what a new user's machine looks like to the build."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DDEX_OTEL_CACHE": str(tmp_path / "cache"), **extra}


def test_cached_run_is_fast_and_says_so(stack_bin_dir):
    start = time.monotonic()
    result = subprocess.run([str(CLI), "stack", "build", "--print-bin-dir"], capture_output=True, text=True,
                            timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(stack_bin_dir)
    assert "ddex-otelcol: cached" in result.stderr and "jaeger: cached" in result.stderr
    assert f"ready: {stack_bin_dir}" in result.stderr
    assert elapsed < 3.0, f"cached run took {elapsed:.2f}s"


def test_the_old_script_is_a_wrapper_that_still_works(stack_bin_dir):
    result = subprocess.run(["bash", str(SCRIPT), "--print-bin-dir"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(stack_bin_dir)
    assert "chromium:" in result.stderr  # the wrapper asks for the browser the tests need


def test_binaries_are_linked_to_the_build_of_the_shipped_modules(stack_bin_dir):
    version = build.go_version()
    for target in build.GO_TARGETS:
        link = stack_bin_dir / target.name
        assert link.is_symlink() and os.access(link, os.X_OK)
        assert os.readlink(link) == f"{target.name}-{build.go_key(target, version)}"


def test_missing_go_fails_loudly_and_says_how_to_get_it(tmp_path):
    result = subprocess.run([str(CLI), "stack", "build"], capture_output=True, text=True, timeout=60,
                            env=_scrubbed(tmp_path))
    assert result.returncode == 1
    assert "go: not on PATH" in result.stderr and "Go >= 1.26" in result.stderr
    assert "Traceback" not in result.stderr


def test_stack_up_without_binaries_names_the_build_command(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run([str(CLI), "stack", "up", "--free-ports", "--run-dir", str(run_dir)],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env=_scrubbed(tmp_path, DDEX_OTEL_BIN_DIR=str(tmp_path / "empty-bin")))
    assert result.returncode == 1
    assert "not built yet" in result.stderr and "`ddex-otel stack build`" in result.stderr
    assert "ddex-otelcol" in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "state.json").exists()


def test_alertmanager_and_amtool_are_installed_0_25(stack_bin_dir):
    for name in ("alertmanager", "amtool"):
        link = stack_bin_dir / name
        assert link.is_symlink() and os.access(link, os.X_OK), name
        version = subprocess.run([str(link), "--version"], capture_output=True, text=True, timeout=30)
        assert f"{name}, version 0.25." in version.stdout + version.stderr


def _on_a_terminal(argv: list[str], env: dict[str, str], answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run argv with a pseudo-terminal as stdin/stdout/stderr, type answer once it asks; (status, output)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    output, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if not answered and b"Build them now?" in output:
                    os.write(main, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), output.decode(errors="replace")
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()


def test_stack_up_on_a_terminal_offers_to_build_and_respects_no(tmp_path):
    env = _scrubbed(tmp_path, DDEX_OTEL_BIN_DIR=str(tmp_path / "empty-bin"), TERM="dumb")
    status, output = _on_a_terminal([str(CLI), "stack", "up", "--free-ports", "--run-dir", str(tmp_path / "run")],
                                    env, b"n\n")
    assert "not built yet" in output and "Build them now?" in output, output
    assert status == 1 and "run `ddex-otel stack build` when you are ready" in output, output


def test_stack_up_on_a_terminal_builds_when_told_yes(tmp_path):
    # Yes on a machine without Go: the build starts and says exactly what is missing.
    env = _scrubbed(tmp_path, DDEX_OTEL_BIN_DIR=str(tmp_path / "empty-bin"), TERM="dumb")
    status, output = _on_a_terminal([str(CLI), "stack", "up", "--free-ports", "--run-dir", str(tmp_path / "run")],
                                    env, b"y\n")
    assert status == 1 and "cannot build the local stack" in output and "go: not on PATH" in output, output


@pytest.mark.integration  # needs Go, like the stack build itself
def test_a_failing_go_build_shows_the_tail_of_its_log(tmp_path, monkeypatch):
    """A real go build of a broken module: the error names the log and quotes the compiler."""
    module = tmp_path / "assets" / "broken"
    module.mkdir(parents=True)
    (module / "go.mod").write_text("module example.test/broken\n\ngo 1.21\n")
    (module / "go.sum").write_text("")
    (module / "main.go").write_text("package main\n\nfunc main() { undefinedName() }\n")
    monkeypatch.setattr(build.paths, "assets_dir", lambda: tmp_path / "assets")
    monkeypatch.setenv("DDEX_OTEL_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "cache" / "bin"
    bin_dir.mkdir(parents=True)
    target = build.GoTarget("broken", "broken", ".")
    with pytest.raises(build.BuildError) as info:
        build._build_go(target, build.go_version(), bin_dir, build.Reporter(Console(file=io.StringIO())))
    message = str(info.value)
    assert "broken: go build failed" in message and "undefined: undefinedName" in message
    assert info.value.log == tmp_path / "cache" / "logs" / "go-build-broken.log"
    assert list(bin_dir.iterdir()) == []  # no half-written binary left behind
