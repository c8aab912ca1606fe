"""``ddex-otel parse`` and ``ddex-otel stream``: readable output, JSON, one-line errors, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddex_otel.cli import main
from ddex_otel.ern import cli as ern_cli
from ddex_otel.ern import parse
from support import console_script


@pytest.fixture
def audio43(samples_dir: Path) -> Path:
    return samples_dir / "daddykev__Samples43_1_Audio.xml"


@pytest.fixture
def truncated(audio43: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cut.xml"
    path.write_bytes(audio43.read_bytes()[:30_000])
    return path


def _one_error_line(err: str, path: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ddex-otel: error: {path}: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def test_parse_prints_a_summary(audio43: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(audio43)]) == 0
    out = capsys.readouterr().out
    assert "ERN version: 4.3" in out
    assert "NewReleaseMessage" in out
    assert "message id:  Test1.1" in out
    assert "UniversalMusicGroup (PADPIDA2013042401U)" in out
    assert "22 releases, 22 resources, 3 deals, 2 parties" in out
    album_line = next(line for line in out.splitlines() if line.strip().startswith("R0 "))
    assert "'Yume no Hajmari'" in album_line and "ICPN 00094631432057" in album_line
    assert "21 track(s)" in album_line


def test_parse_json_is_the_model(audio43: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "--json", str(audio43)]) == 0
    assert json.loads(capsys.readouterr().out) == parse(audio43).to_dict()


def test_parse_reads_stdin(audio43: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(audio43.read_bytes())))
    assert main(["parse", "-"]) == 0
    assert "message id:  Test1.1" in capsys.readouterr().out


def test_parse_truncated_file_fails_with_one_line(truncated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(truncated)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_error_line(captured.err, str(truncated))
    assert "ends before the document is complete" in line and "line " in line


def test_parse_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.xml"
    assert main(["parse", str(missing)]) == 1
    assert _one_error_line(capsys.readouterr().err, str(missing)).endswith("No such file or directory")


def test_parse_not_ddex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body>hello</body></html>")
    assert main(["parse", str(page)]) == 1
    assert "not a DDEX ERN message" in _one_error_line(capsys.readouterr().err, str(page))


def test_stream_prints_counts(audio43: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", str(audio43)]) == 0
    captured = capsys.readouterr()
    assert "22 releases, 22 resources, 3 deals, 2 parties" in captured.out
    assert f"{audio43.stat().st_size} bytes" in captured.out
    assert captured.err == ""  # small file: no progress lines


def test_stream_progress_on_big_inputs(
    audio43: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ern_cli, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(ern_cli, "PROGRESS_EVERY_S", 0.0)
    assert main(["stream", str(audio43)]) == 0
    progress = capsys.readouterr().err.splitlines()
    assert progress and all(line.startswith("ddex-otel: stream: ") and "MB read" in line for line in progress)


def test_stream_jsonl(audio43: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", "--jsonl", str(audio43)]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert rows[0] == {"item": "StreamStart", "ern_version": "4.3", "message_type": "NewReleaseMessage"}
    assert [r["item"] for r in rows].count("Resource") == 22
    assert "22 releases" in captured.err  # the summary moves out of the way of the JSON lines


def test_stream_truncated_fails_with_one_line(truncated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", str(truncated)]) == 1
    captured = capsys.readouterr()
    assert "ends before the document is complete" in _one_error_line(captured.err, str(truncated))


def test_console_script_has_no_traceback(truncated: Path) -> None:
    """End to end through the installed entry point: exit 1, one line, nothing on stdout."""
    done = subprocess.run(
        [str(console_script()), "parse", str(truncated)], capture_output=True, text=True, timeout=60, env={**os.environ}
    )
    assert done.returncode == 1
    assert done.stdout == ""
    _one_error_line(done.stderr, str(truncated))
