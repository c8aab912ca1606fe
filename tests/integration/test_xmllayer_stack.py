"""The XML layer end to end: the example apps that never import ddex_otel (plain lxml, xml.etree,
xmltodict, defusedxml) run through ``ddex-otel run --endpoint`` against the real local collector;
Jaeger holds their DDEX spans with the attributes read from the XML independently, Prometheus the
operation counts, and the link ``run`` prints opens a trace Jaeger has.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import sample_files
from xml_expectations import APP_SPANS, APPS_DIR, expected_facts, facts_tuple, span_facts, workload

DDEX_OTEL = Path(sys.executable).parent / "ddex-otel"
OPERATION = {"ddex.parse": "parse", "ddex.stream": "stream", "ddex.serialize": "serialize"}


@dataclass
class AppRun:
    app: str
    service: str
    good: list[Path]
    stderr: str


@pytest.fixture(scope="module")
def runs(local_stack, tmp_path_factory) -> list[AppRun]:
    tmp = tmp_path_factory.mktemp("xmllayer")
    good, truncated, non_ddex = workload(tmp, sample_files())
    out = []
    for app in sorted(APP_SPANS):
        service = f"xml-{Path(app).stem}-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["DDEX_OTEL_JAEGER_URL"] = local_stack.endpoints.jaeger
        done = subprocess.run(
            [str(DDEX_OTEL), "run", "--endpoint", local_stack.endpoints.otlp_grpc, "--service-name", service, "--",
             sys.executable, str(APPS_DIR / app), *map(str, [*good, truncated, *non_ddex])],
            capture_output=True, text=True, timeout=300, env=env, cwd=tmp,
        )
        assert done.returncode == 0, done.stderr
        out.append(AppRun(app, service, good, done.stderr))
    return out


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


def test_jaeger_holds_the_ddex_spans_with_their_attributes(runs, jaeger) -> None:
    for run in runs:
        per_file = len(APP_SPANS[run.app])
        expected_count = per_file * len(run.good) + 1  # + the truncated file's error span
        traces = jaeger.wait_traces(run.service, count=expected_count, timeout=90, limit=1000)
        spans = [s for t in traces for s in t["spans"]]
        assert len(spans) == expected_count, run.app
        want = [facts_tuple(expected_facts(p)) for p in run.good]
        for name, function, key in APP_SPANS[run.app]:
            group = [_tags(s) for s in spans if s["operationName"] == name
                     and _tags(s).get("code.function.name") == function and "error.type" not in _tags(s)
                     and ("file.path" in _tags(s)) == (key == "path")]
            assert Counter(span_facts(t) for t in group) == Counter(want), (run.app, function)
        errors = [_tags(s) for s in spans if "error.type" in _tags(s)]
        assert len(errors) == 1 and errors[0]["otel.status_code"] == "ERROR", run.app


def test_prometheus_counts_the_operations(runs, prometheus) -> None:
    for run in runs:
        expected = Counter()
        for name, _function, _key in APP_SPANS[run.app]:
            expected[OPERATION[name]] += len(run.good)
        expected["parse"] += 1  # the truncated file
        expr = f'sum by (ddex_operation_name) (ddex_operation_duration_seconds_count{{job="{run.service}"}})'
        result = prometheus.wait(
            expr, lambda r, expected=expected: {s["metric"]["ddex_operation_name"] for s in r} >= set(expected))
        assert {s["metric"]["ddex_operation_name"]: float(s["value"][1]) for s in result} == \
            {k: float(v) for k, v in expected.items()}, run.app


def test_run_prints_a_jaeger_link_to_a_trace_jaeger_has(runs, jaeger, local_stack) -> None:
    for run in runs:
        assert "what was traced" in run.stderr and "OTLP" in run.stderr
        match = re.search(r"first trace in Jaeger: (\S+)/trace/([0-9a-f]{32})", run.stderr)
        assert match, run.stderr
        assert match.group(1) == local_stack.endpoints.jaeger
        trace_ids = {t["traceID"].rjust(32, "0") for t in jaeger.traces(run.service, limit=1000)}
        assert match.group(2) in trace_ids
