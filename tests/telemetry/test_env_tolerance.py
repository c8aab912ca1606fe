"""A wrong OTEL_* value is a clear warning and a sensible fallback, never an exception in the app."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ddex_otel
from ddex_otel import ern
from ddex_otel.telemetry import envvars

BAD_VALUES = [
    ({"OTEL_TRACES_EXPORTER": "bogus"}, "unknown exporter 'bogus'", ["traces → ", "metrics → "]),
    ({"OTEL_METRICS_EXPORTER": "bogus,none"}, "unknown exporter 'bogus'", ["traces → "]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": "pigeon"},
     "OTLP protocol 'pigeon'", ["traces → OTLP gRPC", "metrics → OTLP gRPC"]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
     "OTEL_EXPORTER_OTLP_TIMEOUT='soon'", ["traces → OTLP gRPC", "metrics → OTLP gRPC"]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_COMPRESSION": "zip"},
     "OTEL_EXPORTER_OTLP_COMPRESSION='zip'", ["traces → OTLP gRPC", "metrics → OTLP gRPC"]),
    ({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "-5"}, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT='-5'", ["traces → "]),
    ({"OTEL_BSP_MAX_QUEUE_SIZE": "lots"}, "OTEL_BSP_MAX_QUEUE_SIZE='lots'", ["traces → "]),
    ({"DDEX_OTEL_SHUTDOWN_TIMEOUT": "-1"}, "DDEX_OTEL_SHUTDOWN_TIMEOUT='-1'", ["traces → "]),
    ({"DDEX_OTEL_OFFLINE_MAX_BYTES": "huge"}, "DDEX_OTEL_OFFLINE_MAX_BYTES='huge'", ["traces → "]),
    ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED='maybe'", ["traces → "]),
    ({"OTEL_PYTHON_DDEX_STAGE_SPANS": "perhaps"}, "OTEL_PYTHON_DDEX_STAGE_SPANS='perhaps'", ["traces → "]),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(("OTEL_", "DDEX_OTEL_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DDEX_OTEL_OFFLINE_DIR", str(tmp_path / "telemetry"))


@pytest.mark.parametrize(("env", "warning", "destinations"), BAD_VALUES, ids=[next(iter(e)) + "=" + next(iter(e.values()))
                                                                               for e, _, _ in BAD_VALUES])
def test_bad_value_warns_and_falls_back(env: dict[str, str], warning: str, destinations: list[str], sample: Path,
                                        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    caplog.set_level(logging.WARNING)
    handle = ddex_otel.configure(set_global=False, process_metrics=False)
    try:
        ern.parse(str(sample))
    finally:
        handle.shutdown(timeout=0.5)
    assert handle.enabled
    assert [d for d in handle.destinations if any(d.startswith(p) for p in destinations)], handle.destinations
    said = [r.getMessage() for r in caplog.records if warning in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
    assert handle.delivery.spans_ended == handle.delivery.spans_exported + handle.delivery.spans_dropped == 1


@pytest.mark.parametrize(("raw", "expected"), [("", True), ("ON", True), ("0", False), ("no", False), ("maybe", True)])
def test_env_bool(raw: str, expected: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DDEX_OTEL_TEST_FLAG", raw)
    assert envvars.env_bool("DDEX_OTEL_TEST_FLAG", True) is expected
    assert ("DDEX_OTEL_TEST_FLAG='maybe'" in caplog.text) is (raw == "maybe")


@pytest.mark.parametrize(("raw", "minimum", "expected"),
                         [("", None, 7), ("-3", None, -3), ("12", 1, 12), ("0", 1, 7), ("1.5", None, 7), ("x", 1, 7)])
def test_env_int(raw: str, minimum: int | None, expected: int, monkeypatch: pytest.MonkeyPatch,
                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DDEX_OTEL_TEST_COUNT", raw)
    assert envvars.env_int("DDEX_OTEL_TEST_COUNT", 7, minimum=minimum) == expected
    assert ("ignoring DDEX_OTEL_TEST_COUNT" in caplog.text) is (raw != "" and expected == 7)


def test_a_bad_span_limit_does_not_break_the_sdk_import(sample: Path, tmp_path: Path) -> None:
    """The SDK reads OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT when imported and raises on a bad value."""
    code = ("import ddex_otel, sys; from ddex_otel import ern; h = ddex_otel.configure(); "
            "ern.parse(sys.argv[1]); h.shutdown(); print(h.delivery.spans_exported)")
    env = {**os.environ, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "many", "DDEX_OTEL_OFFLINE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, str(sample)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert done.stderr.count("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='many'") == 1


def test_an_invalid_keyword_argument_still_raises() -> None:
    """Programming errors in the call are not environment values: they raise, before anything starts."""
    with pytest.raises(ValueError):
        ddex_otel.configure(protocol="carrier-pigeon", set_global=False)
