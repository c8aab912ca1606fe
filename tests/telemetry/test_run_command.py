"""``ddex-otel run -- python app.py ARGS``: an unchanged app, traced, its output and exit code kept,
followed by what was traced and where it went (on stderr)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ddex_otel.telemetry import offline
from support import clean_env, console_script, sample_files
from xml_expectations import APPS_DIR


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(console_script()), "run", "--offline-dir", str(tmp_path / "telemetry"), "--", *args],
                          capture_output=True, text=True, timeout=300, env=clean_env(), cwd=tmp_path)


def test_run_traces_an_unchanged_app_and_says_what_and_where(tmp_path: Path) -> None:
    samples = [str(p) for p in sample_files()[:3]]
    done = _run(tmp_path, sys.executable, str(APPS_DIR / "etree_ingest.py"), *samples)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("releases") == 3  # the app's own output, untouched, on stdout
    assert "what was traced" in done.stderr and "telemetry went to" in done.stderr
    assert str(tmp_path / "telemetry") in done.stderr
    spans = [s for path in (tmp_path / "telemetry").glob("traces-*.jsonl") for line in path.read_text().splitlines()
             for rs in offline.decode_line(line).resource_spans for ss in rs.scope_spans for s in ss.spans]
    names = sorted(s.name for s in spans)
    assert names == sorted(["ddex.parse"] * 6 + ["ddex.stream"] * 3 + ["ddex.serialize"] * 3)
    resources = {kv.value.string_value for path in (tmp_path / "telemetry").glob("traces-*.jsonl")
                 for line in path.read_text().splitlines() for rs in offline.decode_line(line).resource_spans
                 for kv in rs.resource.attributes if kv.key == "service.name"}
    assert resources == {"etree_ingest"}  # default service.name: the program's file name


def test_run_returns_the_app_exit_code_and_needs_a_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<not-closed>")
    done = _run(tmp_path, sys.executable, str(APPS_DIR / "lxml_ingest.py"), str(bad))
    assert done.returncode == 1  # every file failed: the app's own exit code
    assert "no DDEX operation was traced" in done.stderr
    empty = subprocess.run([str(console_script()), "run"], capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "needs a command" in empty.stderr and "Traceback" not in empty.stderr
