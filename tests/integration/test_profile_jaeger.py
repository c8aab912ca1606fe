"""`ddex-otel profile --endpoint … --html`: every trace the report links is in the real Jaeger.

The console script runs in a child process, exporting over OTLP HTTP to the local collector; the
report's links are read back from the HTML and each trace is fetched from Jaeger's query API.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from ddex_otel.stack.query import get_json, poll

CLI = Path(sys.executable).parent / "ddex-otel"


def test_report_links_lead_to_the_profiled_operations_in_jaeger(tmp_path, local_stack, jaeger, sample_paths):
    service = f"ddex-profile-{uuid.uuid4().hex[:8]}"
    files = [str(p) for p in sample_paths[:4]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(DDEX_OTEL_JAEGER_URL=local_stack.endpoints.jaeger, COLUMNS="160")
    done = subprocess.run(
        [str(CLI), "profile", *files, "--runs", "2", "--html", "report.html", "--json", "profile.json",
         "--endpoint", local_stack.endpoints.otlp_http, "--protocol", "http/protobuf", "--service-name", service],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"traces → OTLP HTTP {local_stack.endpoints.otlp_http}" in done.stdout

    html = (tmp_path / "report.html").read_text()
    base = re.escape(local_stack.endpoints.jaeger.rstrip("/"))
    linked = re.findall(rf'href="{base}/trace/([0-9a-f]{{32}})"', html)
    assert len(linked) == 10 and len(set(linked)) == 10
    profiles = json.loads((tmp_path / "profile.json").read_text())["profiles"]
    assert len(profiles) == 2 * 2 * len(files)  # parse + build, 2 runs
    slowest = sorted(profiles, key=lambda p: p["duration_s"], reverse=True)[:10]
    assert linked == [p["trace_id"] for p in slowest]  # the report lists the slowest, slowest first
    for trace_id in linked:
        answer = poll(lambda trace_id=trace_id: get_json(f"{local_stack.endpoints.jaeger}/api/traces/{trace_id}"),
                      lambda a: bool(a.get("data")), timeout=30, what=f"trace {trace_id} in Jaeger")
        (trace,) = answer["data"]
        names = {s["operationName"] for s in trace["spans"]}
        assert names & {"ddex.parse", "ddex.build"}, names
        assert {p["serviceName"] for p in trace["processes"].values()} == {service}
