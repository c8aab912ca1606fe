"""``ddex-otel demo`` end to end (in a subprocess: it sets global providers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ddex_otel.telemetry import offline


def _demo(tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "ddex_otel.cli", "demo", *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )


def test_demo_help() -> None:
    done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "demo", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for word in ("--samples", "--endpoint", "--protocol", "--offline-dir", "otlpjsonfile", "ddex.batch"):
        assert word in done.stdout


def test_demo_runs_the_batch_despite_a_bad_file(tmp_path: Path, samples_dir: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("daddykev__Samples43_1_Audio.xml", "AudiusProject__01_delivery.xml"):
        shutil.copy(samples_dir / name, samples)
    (samples / "zz_broken.xml").write_bytes(b"<?xml version='1.0'?><NewReleaseMessage xmlns='http://ddex.net/xml/ern/43'>")
    done = _demo(tmp_path, "--samples", str(samples), "--generated", "1", "--no-broken")
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "zz_broken" in out and "TruncatedInputError" in out
    assert "messages: 4, ok: 3, failed: 1" in out
    for word in ("parse", "extract", "build", "assemble", "p95 ms", "stream"):
        assert word in out
    telemetry = tmp_path / "telemetry"  # the default offline folder, relative to the working directory
    assert str(telemetry.name) in out
    traces = [r for p in telemetry.glob("traces-*.jsonl") for r in offline.read_requests(p)]
    spans = [s for r in traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    batch = [s for s in spans if s.name == "ddex.batch"]
    assert len(batch) == 1
    children = [s for s in spans if s.parent_span_id == batch[0].span_id]
    assert sorted(s.name for s in children) == ["ddex.file"] * 4 + ["ddex.stream"]  # one ddex.file per message
    files = {s.span_id for s in children if s.name == "ddex.file"}
    operations = [s for s in spans if s.name in ("ddex.parse", "ddex.build")]
    assert operations and all(s.parent_span_id in files for s in operations)
    assert sum(1 for s in spans if s.name == "ddex.parse" and s.status.code == 2) == 1
    service = {kv.key: kv.value.string_value for kv in traces[0].resource_spans[0].resource.attributes}["service.name"]
    assert service == "ddex-otel"


def test_demo_without_samples_uses_generated_messages(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--offline-dir", str(tmp_path / "out"), env_extra={"DDEX_SAMPLES_DIR": str(tmp_path / "none")})
    # an explicit but missing samples directory is an error, not a silent fallback
    assert done.returncode != 0 and "not found" in (done.stdout + done.stderr)
    # no directory given: generated messages, even in a checkout with samples beside it
    done = _demo(tmp_path, "--offline-dir", str(tmp_path / "out"), "--generated", "3",
                 env_extra={"DDEX_SAMPLES_DIR": ""})
    assert done.returncode == 0, done.stderr
    assert "no samples directory" in done.stdout
    assert "deliberately broken" in done.stdout and "failed: 1" in done.stdout
    assert list((tmp_path / "out").glob("traces-*.jsonl"))
