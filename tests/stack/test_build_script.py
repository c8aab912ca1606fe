"""scripts/build-stack.sh: a cached second run is fast, and failures are loud."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-stack.sh"


def test_cached_run_is_fast_and_says_so(stack_bin_dir):
    start = time.monotonic()
    result = subprocess.run(["bash", str(SCRIPT), "--print-bin-dir"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(stack_bin_dir)
    assert "ddex-otelcol: cached" in result.stderr and "jaeger: cached" in result.stderr
    assert elapsed < 2.0, f"cached run took {elapsed:.2f}s"


def test_binaries_are_linked_to_a_keyed_build(stack_bin_dir):
    for name in ("ddex-otelcol", "jaeger"):
        link = stack_bin_dir / name
        assert link.is_symlink() and os.readlink(link).startswith(f"{name}-")
        assert os.access(link, os.X_OK)


def test_missing_go_fails_loudly(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DDEX_OTEL_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "ERROR: go not found" in result.stderr


def test_alertmanager_and_amtool_are_installed_0_25(stack_bin_dir):
    for name in ("alertmanager", "amtool"):
        link = stack_bin_dir / name
        assert link.is_symlink() and os.access(link, os.X_OK), name
        version = subprocess.run([str(link), "--version"], capture_output=True, text=True, timeout=30)
        assert f"{name}, version 0.25." in version.stdout + version.stderr
