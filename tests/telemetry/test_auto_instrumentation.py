"""``opentelemetry-instrument`` on an app that never imports ddex_otel.telemetry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddex_otel.telemetry import offline

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "auto_instrument_app.py"
BIN = Path(sys.executable).parent


def _run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    instrument = BIN / "opentelemetry-instrument"
    if not instrument.exists():
        pytest.fail(f"{instrument} not installed (opentelemetry-distro, in the test extra)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(env_extra)
    return subprocess.run(
        [str(instrument), sys.executable, str(APP), *args],
        capture_output=True, text=True, timeout=180, env=env, cwd=REPO,
    )


def _dangling(sample: Path, tmp_path: Path) -> Path:
    """A message that parses and fails to build: a track list entry points at no resource."""
    bad = tmp_path / "dangling.xml"
    bad.write_bytes(sample.read_bytes().replace(b">A1</ReleaseResourceReference>", b">A999</ReleaseResourceReference>", 1))
    return bad


def test_app_source_never_imports_telemetry() -> None:
    source = APP.read_text()
    assert "ddex_otel.telemetry" not in source.replace("never imports ddex_otel.telemetry", "")
    assert "opentelemetry" not in source.split('"""', 2)[2]  # not in the code, only in the docstring


def test_auto_instrumented_spans_follow_the_contract(sample: Path, tmp_path: Path) -> None:
    bad = _dangling(sample, tmp_path)
    done = _run(
        {
            "OTEL_SERVICE_NAME": "auto-app",
            "OTEL_TRACES_EXPORTER": "otlp_json_file",  # the JSON-file exporter's entry point: stdout
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_DDEX_STAGE_SPANS": "true",
        },
        str(sample), str(bad),
    )
    assert done.returncode == 0, done.stderr
    requests = [offline.decode_line(line) for line in done.stdout.splitlines() if line.startswith("{")]
    spans = [(ss.scope.name, s, rs) for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    parses = [s for scope, s, _ in spans if s.name == "ddex.parse"]
    assert len(parses) == 2
    assert all(scope == "ddex_otel" for scope, s, _ in spans if s.name.startswith("ddex."))
    attrs = {kv.key: kv.value for kv in next(p for p in parses
                                               if any(kv.key == "file.path" and kv.value.string_value == str(sample)
                                                      for kv in p.attributes)).attributes}
    assert attrs["ddex.operation.name"].string_value == "parse"
    assert attrs["ddex.ern.version"].string_value == "4.3"
    assert attrs["ddex.message.type"].string_value == "NewReleaseMessage"
    assert attrs["ddex.message.sender.id"].string_value == "PADPIDA2013042401U"
    assert attrs["ddex.input.size"].int_value == sample.stat().st_size
    assert attrs["ddex.release.count"].int_value == 22
    names = {s.name for _, s, _ in spans}
    assert {"ddex.build", "ddex.parse.read", "ddex.parse.extract", "ddex.build.assemble"} <= names
    failed = [s for _, s, _ in spans if s.name == "ddex.build" and s.status.code == 2]
    assert len(failed) == 1
    resource = {kv.key: kv.value.string_value for kv in spans[0][2].resource.attributes}
    assert resource["service.name"] == "auto-app"


def test_process_metrics_under_opentelemetry_instrument_are_emitted_once(sample: Path) -> None:
    """Our pre-instrument hook starts system-metrics with our config before the distro does."""
    done = _run(
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "otlp_json_file",  # stdout
            "OTEL_PYTHON_DDEX_PROCESS_METRICS": "true",
        },
        str(sample),
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, set[tuple[str, str, tuple[str, ...]]]] = {}
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        for rm in offline.decode_line(line).resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points = getattr(metric, metric.WhichOneof("data")).data_points
                    keys = tuple(sorted({kv.key for p in points for kv in p.attributes}))
                    seen.setdefault(metric.name, set()).add((sm.scope.name, metric.unit, keys))
    assert seen["process.cpu.time"] == {("ddex_otel", "s", ("cpu.mode",))}
    assert seen["process.thread.count"] == {("ddex_otel", "{thread}", ())}
    duplicated = {name: where for name, where in seen.items() if len({scope for scope, _, _ in where}) > 1}
    assert not duplicated


def test_standard_logging_variables_give_records_with_trace_ids(sample: Path, tmp_path: Path) -> None:
    """OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED + OTEL_LOGS_EXPORTER: the SDK's handler on the
    root logger receives the library's records (they propagate), with the failed build's ids."""
    bad = _dangling(sample, tmp_path)
    done = _run(
        {
            "OTEL_TRACES_EXPORTER": "otlp_json_file",  # both to stdout, one OTLP JSON object per line
            "OTEL_LOGS_EXPORTER": "otlp_json_file",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
        },
        str(sample), str(bad),
    )
    assert done.returncode == 0, done.stderr
    requests = [offline.decode_line(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failed = [s for r in requests if hasattr(r, "resource_spans") for rs in r.resource_spans
              for ss in rs.scope_spans for s in ss.spans if s.name == "ddex.build" and s.status.code == 2]
    records = [(sl.scope.name, rec) for r in requests if hasattr(r, "resource_logs") for rl in r.resource_logs
               for sl in rl.scope_logs for rec in sl.log_records]
    assert len(failed) == 1 and records
    failure = [rec for scope, rec in records
               if scope == "ddex_otel.ern" and any(kv.key == "error.type" for kv in rec.attributes)]
    assert len(failure) == 1 and failure[0].severity_text == "ERROR"
    assert (failure[0].trace_id, failure[0].span_id) == (failed[0].trace_id, failed[0].span_id)
