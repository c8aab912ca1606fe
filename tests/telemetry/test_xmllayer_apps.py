"""Apps that never import ddex_otel, written on plain lxml / xml.etree / xmltodict / defusedxml, run
under ``opentelemetry-instrument``: the XML layer gives every DDEX document its spans, with the
version and counts read from the XML independently, an error span for a truncated DDEX file, and
nothing for non-DDEX XML (readable or not)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ddex_otel.telemetry import offline
from support import clean_env, sample_files
from xml_expectations import APP_LIBRARY, APP_SPANS, APPS_DIR, expected_facts, facts_tuple, span_facts, workload

BIN = Path(sys.executable).parent


def _value(any_value) -> object:
    return getattr(any_value, any_value.WhichOneof("value"))


def run_app(app: str, paths: list[Path], env_extra: dict[str, str] | None = None) -> list[tuple[str, dict, object]]:
    """(span name, attributes, status) of every span the app produced, through the JSON-file exporter."""
    instrument = BIN / "opentelemetry-instrument"
    if not instrument.exists():
        pytest.fail(f"{instrument} not installed (opentelemetry-distro, in the test extra)")
    env = clean_env(OTEL_SERVICE_NAME="xml-app", OTEL_TRACES_EXPORTER="otlp_json_file",  # stdout
                    OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none", **(env_extra or {}))
    done = subprocess.run([str(instrument), sys.executable, str(APPS_DIR / app), *map(str, paths)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=APPS_DIR)
    assert done.returncode == 0, done.stderr
    out = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            for rs in offline.decode_line(line).resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append((span.name, {kv.key: _value(kv.value) for kv in span.attributes}, span.status))
    return out


@pytest.mark.parametrize("app", sorted(APP_SPANS))
def test_app_never_imports_ddex_otel_or_opentelemetry(app: str) -> None:
    source = (APPS_DIR / app).read_text()
    code = source.split('"""', 2)[2]
    assert "ddex_otel" not in code and "opentelemetry" not in code


@pytest.mark.parametrize("app", sorted(APP_SPANS))
def test_app_under_opentelemetry_instrument_gets_ddex_spans(app: str, tmp_path: Path) -> None:
    samples = sample_files()
    good, truncated, non_ddex = workload(tmp_path, samples)
    spans = run_app(app, [*good, truncated, *non_ddex])
    expected = [expected_facts(p) for p in good]
    assert {e.version for e in expected} >= {"3.8.2", "4.1.1", "4.2", "4.3"}  # every ERN version in the samples

    ok = [s for s in spans if s[2].code != 2]
    failed = [s for s in spans if s[2].code == 2]
    # One span per (call, readable DDEX file): nothing for the non-DDEX files, nothing twice.
    want = Counter((name, function) for name, function, _ in APP_SPANS[app] for _ in good)
    assert Counter((name, attrs["code.function.name"]) for name, attrs, _ in ok) == want
    for name, function, key in APP_SPANS[app]:
        group = [attrs for n, attrs, _ in ok if n == name and attrs["code.function.name"] == function
                 and ("file.path" in attrs) == (key == "path")]  # xmltodict.parse is called both ways
        assert all(a["ddex.xml.library"] == APP_LIBRARY[app] and a["ddex.standard"] == "ern" for a in group)
        assert Counter(span_facts(a) for a in group) == Counter(facts_tuple(e) for e in expected), (name, function)
        if key == "path":
            by_path = {a["file.path"]: a for a in group}
            assert set(by_path) == {e.path for e in expected}
            for e in expected:
                assert span_facts(by_path[e.path]) == facts_tuple(e), e.path
                assert by_path[e.path]["ddex.input.size"] == e.size
        elif key == "memory":
            assert Counter(a["ddex.input.size"] for a in group) == Counter(e.size for e in expected)
        elif key == "text":
            sizes = [len(Path(e.path).read_text(encoding="utf-8").encode()) for e in expected]
            assert Counter(a["ddex.input.size"] for a in group) == Counter(sizes)
        else:
            assert all(a["ddex.output.size"] > 0 for a in group)
        if name == "ddex.stream":
            assert all(a["ddex.stream.complete"] is True for a in group)
    # The truncated DDEX file: one error span (its first call fails); the broken non-DDEX file: none.
    assert len(failed) == 1
    name, attrs, status = failed[0]
    assert name == "ddex.parse" and attrs["code.function.name"] == APP_SPANS[app][0][1]
    assert attrs["error.type"] and attrs["ddex.ern.version"] == expected_facts(samples[0]).version
    assert not any(str(p) == attrs.get("file.path") for p in non_ddex for _, attrs, _ in spans)


def test_disabling_the_xml_layer_by_its_entry_point_name(tmp_path: Path) -> None:
    spans = run_app("lxml_ingest.py", sample_files()[:2], {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "ddex_xml"})
    assert spans == []
