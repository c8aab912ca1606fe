"""CLI output paths: a failed write names the output (not the input); ``-`` means standard output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ddex_otel.cli import main


@pytest.fixture
def audio43(samples_dir: Path) -> Path:
    return samples_dir / "daddykev__Samples43_1_Audio.xml"


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", ["missing-dir", "a-directory", "under-a-file"])
def test_build_names_the_output_it_cannot_write(kind: str, audio43: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    output = {"missing-dir": tmp_path / "nonexistent" / "x.xml", "a-directory": tmp_path,
              "under-a-file": tmp_path / "file" / "x.xml"}[kind]
    assert main(["build", str(audio43), "-o", str(output)]) == 1
    line = _error_line(capsys.readouterr().err)
    assert line.startswith(f"ddex-otel: error: {output}: "), line
    assert str(audio43) not in line
    reason = {"missing-dir": "No such file or directory", "a-directory": "Is a directory",
              "under-a-file": "Not a directory"}[kind]
    assert line.endswith(reason)


def test_build_names_a_read_only_output(audio43: Path, tmp_path: Path) -> None:
    target = tmp_path / "readonly.xml"
    target.write_text("")
    target.chmod(0o444)
    prefix = []
    if os.geteuid() == 0:  # root ignores file modes unless CAP_DAC_OVERRIDE is dropped
        prefix = [shutil.which("setpriv") or pytest.fail("setpriv (util-linux) needed"), "--bounding-set",
                  "-dac_override"]
    done = subprocess.run([*prefix, sys.executable, "-m", "ddex_otel.cli", "build", str(audio43), "-o", str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert _error_line(done.stderr) == f"ddex-otel: error: {target}: Permission denied"


def test_generate_dash_writes_to_stdout(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "generate", "-", "--size", "5KB"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"<?xml") and len(done.stdout) > 4000
    assert not (tmp_path / "-").exists()
    assert b"wrote standard output" in done.stderr
    # what it wrote parses back
    parsed = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "parse", "-"], input=done.stdout,
                            capture_output=True, timeout=60)
    assert parsed.returncode == 0, parsed.stderr


def test_generate_names_the_output_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "nonexistent" / "g.xml"
    assert main(["generate", str(output), "--size", "5KB"]) == 1
    assert _error_line(capsys.readouterr().err) == f"ddex-otel: error: {output}: No such file or directory"
