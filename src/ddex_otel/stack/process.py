"""Start, probe and stop one component process; never touch a pid we did not start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import StackError


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start argv in its own session (it outlives the CLI), output written to log (truncated first)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {argv[0]}: {exc}", log) from exc


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True if GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(name: str, proc: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    """Poll url until it answers 2xx; fail fast if the process exits, fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise StackError(f"{name} exited with status {code} while starting", log)
        if http_ok(url):
            return
        if time.monotonic() > deadline:
            raise StackError(f"{name} not healthy at {url} within {timeout:.0f}s", log)
        time.sleep(0.2)


def cmdline(pid: int) -> list[str] | None:
    """argv of a live (non-zombie) process, None if it is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(pid: int, argv: list[str]) -> bool:
    """True if pid is alive and runs exactly the argv we started it with."""
    return cmdline(pid) == argv


def terminate(pid: int, argv: list[str], timeout: float = 10.0) -> bool:
    """SIGTERM pid (SIGKILL after timeout) if it still runs argv; True if it was running."""
    if not is_ours(pid, argv):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if cmdline(pid) is None:
            return True
        time.sleep(0.1)
    if is_ours(pid, argv):
        os.kill(pid, signal.SIGKILL)
        while cmdline(pid) is not None and time.monotonic() < deadline + 5:
            _reap(pid)
            time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if pid is our child (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_child(proc: subprocess.Popen, timeout: float = 10.0) -> bool:
    """SIGTERM (then SIGKILL) a child we spawned; True if it was still running."""
    if proc.poll() is not None:
        return False
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    return True
