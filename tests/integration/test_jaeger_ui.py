"""The real Jaeger UI of the local stack, in real headless chromium, showing the demo's trace.

`ddex-otel demo --endpoint …` runs as a user runs it (console script, child process) and prints the
Jaeger link of its batch trace. The browser then finds that trace on the search page and opens the
printed link: the span names are on screen, and a ddex.parse span's attributes read in the UI match
what the Jaeger API returns and what the sample file itself says. No console errors, no failed
requests. Screenshots are kept in the test artifacts dir (support.artifacts_dir()).
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
from lxml import etree

from ddex_otel.stack import jaegerui
from ddex_otel.stack.links import ENV_JAEGER_URL
from ddex_otel.stack.query import poll
from support import REPO_ROOT, artifacts_dir, samples_root

CLI = Path(sys.executable).parent / "ddex-otel"
OPERATION_SPANS = ("ddex.parse", "ddex.build", "ddex.stream")
LISTED_RELEASES = ("Release", "TrackRelease", "ClipRelease")  # ReleaseList children counted as releases


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


def _operation_counts(trace: dict) -> Counter:
    return Counter(_tags(s)["ddex.operation.name"] for s in trace["spans"] if s["operationName"] in OPERATION_SPANS)


@dataclass(frozen=True)
class DemoTrace:
    service: str
    link: str    # what the demo printed
    trace: dict  # the Jaeger API's JSON of the whole trace


@pytest.fixture(scope="module")
def demo_trace(local_stack, jaeger, prometheus) -> DemoTrace:
    """Run the demo over OTLP gRPC into the stack; wait until Jaeger holds its complete trace."""
    service = f"ddex-ui-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env[ENV_JAEGER_URL] = local_stack.endpoints.jaeger
    # Samples given relative to the checkout: span file.path values (and the screenshot) hold no machine path.
    samples = os.path.relpath(samples_root(), REPO_ROOT)
    done = subprocess.run(
        [str(CLI), "demo", "--endpoint", local_stack.endpoints.otlp_grpc, "--service-name", service,
         "--generated", "1", "--samples", samples],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = re.findall(r"^trace in Jaeger: (\S+)$", done.stdout, re.MULTILINE)
    assert len(printed) == 1, done.stdout
    # All metrics leave in one export at exit; the spans may reach Jaeger in several batches.
    expr = f'sum by (ddex_operation_name) (ddex_operation_duration_seconds_count{{job="{service}"}})'
    counts = poll(lambda: {s["metric"]["ddex_operation_name"]: float(s["value"][1]) for s in prometheus.query(expr)},
                  lambda c: "parse" in c, timeout=60, what=f"operation counts of {service} in Prometheus")
    traces = poll(lambda: jaeger.traces(service), lambda t: len(t) == 1 and _operation_counts(t[0]) == counts,
                  timeout=60, what=f"the demo trace of {service} in Jaeger with {counts}")
    return DemoTrace(service, printed[0], traces[0])


def test_demo_prints_the_jaeger_link_of_its_batch_trace(demo_trace, local_stack):
    root = next(s for s in demo_trace.trace["spans"] if not s["references"])
    assert root["operationName"] == "ddex.batch"
    assert demo_trace.link == f"{local_stack.endpoints.jaeger}/trace/{demo_trace.trace['traceID']}"


def test_local_jaeger_serves_the_installed_ui(local_stack):
    assert local_stack.jaeger_ui is not None and local_stack.jaeger_ui.installed, local_stack.jaeger_ui
    assert jaegerui.served(local_stack.endpoints.jaeger) is True


def test_search_page_finds_the_demo_trace(browser_page, demo_trace, local_stack):
    page = browser_page.page
    page.goto(f"{local_stack.endpoints.jaeger}/search")
    page.locator('div[name="service"]').click()
    page.locator('div[name="service"] input[role="combobox"]').fill(demo_trace.service)
    page.locator(f'.ant-select-item-option[title="{demo_trace.service}"]').click()
    page.get_by_role("button", name="Find Traces").click()

    results = page.locator(".ResultItem")
    results.first.wait_for()
    assert results.count() == 1
    trace_id = demo_trace.trace["traceID"]
    title = results.first.locator(".ResultItemTitle--title")
    assert title.inner_text().replace("\n", "").startswith(f"{demo_trace.service}: ddex.batch")
    assert title.locator(".ResultItemTitle--idExcerpt").inner_text() == trace_id[:7]
    assert results.first.locator(f'a[href="/trace/{trace_id}"]').count() >= 1
    assert f"{len(demo_trace.trace['spans'])} Spans" in results.first.inner_text()
    assert f"service={demo_trace.service}" in page.url
    page.screenshot(path=artifacts_dir() / "jaeger-search.png")
    assert browser_page.problems == []


def _expected_from_sample(path: Path) -> dict[str, str]:
    """ERN version and release count read straight from the XML (not through ddex_otel)."""
    root = etree.parse(str(path)).getroot()
    digits = etree.QName(root).namespace.rstrip("/").rsplit("/", 1)[1]  # http://ddex.net/xml/ern/382
    release_list = next(c for c in root if etree.QName(c).localname == "ReleaseList")
    releases = sum(1 for c in release_list if etree.QName(c).localname in LISTED_RELEASES)
    return {"ddex.ern.version": ".".join(digits), "ddex.release.count": str(releases)}


def test_trace_page_shows_the_spans_and_a_parse_spans_attributes(browser_page, demo_trace):
    page = browser_page.page
    page.goto(demo_trace.link)
    header = page.locator(".TracePageHeader--titleRow")
    names = page.locator(".span-name-column .endpoint-name")
    names.first.wait_for()
    assert f"{demo_trace.service}: ddex.batch" in header.inner_text().replace("\n", "")
    assert {"ddex.batch", "ddex.parse", "ddex.build"} <= set(names.all_inner_texts())

    # The first sample's parse span (read from a file, so the sample is known).
    parses = sorted((s for s in demo_trace.trace["spans"]
                     if s["operationName"] == "ddex.parse" and "file.path" in _tags(s)),
                    key=lambda s: s["startTime"])
    span = parses[0]
    api = _tags(span)
    page.locator(f'[data-item-key="{span["spanID"]}--bar"] a.span-name').click()
    detail = page.locator(f'[data-item-key="{span["spanID"]}--detail"]')
    detail.locator(".AccordianKeyValues--header", has_text="Tags").click()
    rows = detail.locator(".KeyValueTable--row")
    rows.first.wait_for()
    shown = dict(zip(rows.locator(".KeyValueTable--keyColumn").all_inner_texts(),
                     (v.strip() for v in rows.locator(".KeyValueTable--valueColumn").all_inner_texts()), strict=True))

    expected = _expected_from_sample(REPO_ROOT / api["file.path"])
    for key in ("ddex.ern.version", "ddex.release.count"):
        assert shown[key] == str(api[key]) == expected[key], (key, shown.get(key), api[key], expected[key])
    assert shown["file.path"] == api["file.path"]

    # The docs picture: header, timeline and the expanded span's tags, cut above its process tags.
    process = detail.locator(".AccordianKeyValues--header", has_text="Process").bounding_box()
    page.screenshot(path=artifacts_dir() / "jaeger-trace.png",
                    clip={"x": 0, "y": 0, "width": page.viewport_size["width"], "height": process["y"] - 2})
    assert browser_page.problems == []
