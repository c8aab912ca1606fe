"""Offline OTLP JSON files: fallback when unwritable, rotation and retention, whole lines on a full disk.

Our collector build has no ``otlpjsonfile`` receiver (collector/otelcol/components.go), so replay
validity is checked line by line with the OTLP protobuf ``json_format`` parser (``offline.decode_line``).
Each scenario runs in its own process, as an application would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ddex_otel.telemetry import offline

_APP = """
import json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
import ddex_otel
from ddex_otel import ern
handle = ddex_otel.configure(process_metrics=False)
for _ in range(int(sys.argv[2])):
    ern.parse(sys.argv[1])
handle.shutdown()
files = handle.offline_files
print(json.dumps({"delivery": handle.delivery.as_dict(), "dir": str(files.directory) if files else None}))
"""


def _run(sample: Path, parses: int, cwd: Path, env: dict[str, str], prefix: list[str] | None = None,
         preexec=None) -> tuple[dict, str]:
    done = subprocess.run([*(prefix or []), sys.executable, "-c", _APP, str(sample), str(parses)], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120, preexec_fn=preexec)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _without_dac_override() -> list[str]:
    """Run as root without CAP_DAC_OVERRIDE, so file modes apply (as for any other user)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")  # util-linux, essential on Debian
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to test unwritable directories as root")
    return [setpriv, "--bounding-set", "-dac_override"]


def _assert_replayable(directory: Path, pattern: str = "*.jsonl") -> int:
    """Every line of every file decodes as an OTLP request; returns the span count."""
    spans = 0
    for path in sorted(directory.glob(pattern)):
        for request in offline.read_requests(path):
            spans += sum(len(ss.spans) for rs in getattr(request, "resource_spans", []) for ss in rs.scope_spans)
    return spans


def test_read_only_working_directory_falls_back_with_one_warning(sample: Path, tmp_path: Path) -> None:
    readonly, tmp = tmp_path / "readonly", tmp_path / "tmp"
    readonly.mkdir()
    tmp.mkdir()
    readonly.chmod(0o555)
    env = {"TMPDIR": str(tmp), "DDEX_OTEL_OFFLINE_DIR": ""}
    report, stderr = _run(sample, 3, readonly, env, _without_dac_override())
    warnings = [line for line in stderr.splitlines() if "cannot write offline files" in line]
    assert len(warnings) == 1 and "Permission denied" in warnings[0], stderr
    fallback = Path(report["dir"])
    assert fallback.is_relative_to(tmp) and _assert_replayable(fallback, "traces-*.jsonl") == 3
    assert report["delivery"]["spans_exported"] == 3
    assert not any(readonly.iterdir())


def test_nothing_writable_means_no_files_and_no_exception(sample: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import ddex_otel
    from ddex_otel import ern

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DDEX_OTEL_OFFLINE_DIR", str(blocker / "telemetry"))
    monkeypatch.setattr(offline, "fallback_dir", lambda: blocker / "fallback")  # /tmp is always writable here
    caplog.set_level(logging.WARNING, "ddex_otel.telemetry")
    handle = ddex_otel.configure(set_global=False, process_metrics=False)
    ern.parse(str(sample))  # the application keeps working
    handle.shutdown()
    assert handle.offline_files is None and handle.destinations == []
    messages = [r.getMessage() for r in caplog.records if "cannot write offline files" in r.getMessage()]
    assert len(messages) == 1 and "telemetry is not exported" in messages[0]


def test_files_rotate_at_the_cap_and_keep_the_newest(sample: Path, tmp_path: Path) -> None:
    env = {"DDEX_OTEL_OFFLINE_DIR": str(tmp_path / "t"), "DDEX_OTEL_OFFLINE_MAX_BYTES": "40KB",
           "DDEX_OTEL_OFFLINE_KEEP_FILES": "3", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10"}
    report, _ = _run(sample, 300, tmp_path, env)
    traces = sorted((tmp_path / "t").glob("traces-*.jsonl"))
    assert len(traces) == 3, traces
    assert max(p.stat().st_size for p in traces) <= 40_000
    kept = _assert_replayable(tmp_path / "t", "traces-*.jsonl")
    assert 0 < kept < 300 == report["delivery"]["spans_exported"]  # older files were removed


def test_a_full_disk_never_leaves_half_a_line(sample: Path, tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel cut writes short (EFBIG), as a full disk does (ENOSPC)."""
    import resource
    import signal

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))

    env = {"DDEX_OTEL_OFFLINE_DIR": str(tmp_path / "t"), "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "7"}
    report, _ = _run(sample, 100, tmp_path, env, preexec=limit_file_size)
    delivery = report["delivery"]
    assert delivery["spans_dropped"] > 0 and delivery["spans_exported"] > 0
    assert delivery["spans_ended"] == delivery["spans_exported"] + delivery["spans_dropped"] == 100
    path = next((tmp_path / "t").glob("traces-*.jsonl"))
    assert path.read_bytes().endswith(b"\n")
    assert _assert_replayable(tmp_path / "t", "traces-*.jsonl") == delivery["spans_exported"]


def test_otlp_json_file_exporter_name_means_the_offline_files(sample: Path, tmp_path: Path) -> None:
    env = {"OTEL_TRACES_EXPORTER": "otlp_json_file", "OTEL_METRICS_EXPORTER": "none",
           "DDEX_OTEL_OFFLINE_DIR": str(tmp_path / "t")}
    done = subprocess.run([sys.executable, "-c", _APP, str(sample), "2"], cwd=tmp_path, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith('{"resourceSpans"')]
    assert _assert_replayable(tmp_path / "t", "traces-*.jsonl") == 2
    assert not list((tmp_path / "t").glob("metrics-*.jsonl"))


def test_forked_child_writes_its_own_file(tmp_path: Path, sample: Path) -> None:
    code = """
import os, sys, ddex_otel
from ddex_otel import ern
h = ddex_otel.configure(offline_dir=sys.argv[1], process_metrics=False)
ern.parse(sys.argv[2])
pid = os.fork()
if pid == 0:
    ern.parse(sys.argv[2]); ern.parse(sys.argv[2])
    sys.exit(0)
os.waitpid(pid, 0)
h.shutdown()
"""
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t"), str(sample)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counts = sorted(_assert_replayable(tmp_path / "t", p.name) for p in (tmp_path / "t").glob("traces-*.jsonl"))
    assert counts == [1, 2]  # the parent's one parse, the child's two: no duplicates, no interleaving
    for path in (tmp_path / "t").glob("*.jsonl"):  # each file's resource is its own process
        pid = int(path.stem.rsplit("-", 1)[1])
        for request in offline.read_requests(path):
            for rs in list(getattr(request, "resource_spans", [])) + list(getattr(request, "resource_metrics", [])):
                attrs = {kv.key: kv.value.int_value for kv in rs.resource.attributes if kv.key == "process.pid"}
                assert attrs == {"process.pid": pid}, path.name
