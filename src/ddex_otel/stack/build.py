"""Run scripts/build-stack.sh (builds or finds the cached binaries) from Python."""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import paths
from .errors import StackError


def ensure_binaries(timeout: float = 3600.0) -> Path:
    """Build/install the stack's binaries if needed; return the bin dir. Raises StackError."""
    script = paths.build_script()
    log = paths.cache_dir() / "build-stack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        try:
            proc = subprocess.run(["bash", str(script)], stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"{script} did not finish within {timeout:.0f}s", log) from None
    if proc.returncode != 0:
        raise StackError(f"{script} failed with status {proc.returncode}", log)
    return paths.bin_dir()
