"""examples/monitoring_toolkit.py runs as documented and writes what it says."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from support import REPO_ROOT, sample_files

EXAMPLE = REPO_ROOT / "examples" / "monitoring_toolkit.py"


def test_monitoring_example_runs(tmp_path: Path) -> None:
    files = [str(p) for p in sample_files()[:3]]
    done = subprocess.run([sys.executable, str(EXAMPLE), *files, "--out", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("bad-input  n=1   errors=1") for line in lines), done.stdout
    assert any(line.startswith("parse      n=4   errors=1") for line in lines), done.stdout
    with (tmp_path / "profiles.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["operation"] for r in rows if r["operation"] == "parse"] == ["parse"] * 3
    assert all(len(r["trace_id"]) == 32 for r in rows)
    doc = json.loads((tmp_path / "profiles.json").read_text())
    assert doc["summary"]["parse"]["count"] == 3
    assert list((tmp_path / "telemetry").glob("*.jsonl")), "offline telemetry files were written"
