"""Logs, Jaeger's Monitor tab and the per-sender view on the real stack: collector → VictoriaLogs,
span metrics → Prometheus → Jaeger, and the pages an operator opens, in headless chromium.

The workload (two rounds, so the span-metric counters grow between scrapes and rates are non-zero):
a good parse, a lossy conversion with warnings (an ERN 3.8.2 sample built as 4.3), a file that parses
but fails its build (validation errors), and a truncated file a batch reports as failed. Telemetry
goes over OTLP to the collector AND to offline files, so both hold the same records.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.stack.links import jaeger_trace_url, logs_trace_url
from ddex_otel.stack.query import VictoriaLogs, get_json, poll
from ddex_otel.telemetry import offline
from ddex_otel.telemetry.batch_spans import batch
from ddex_otel.telemetry.setup import configure
from support import artifacts_dir, samples_root

GOOD = "daddykev__Samples43_1_Audio.xml"  # ERN 4.3, sender PADPIDA2013042401U
LOSSY = "AudiusProject__01_delivery.xml"  # ERN 3.8.2: built as 4.3, loses what the model does not hold
ROUNDS = 2


@dataclass(frozen=True)
class Run:
    service: str
    trace_ids: list[str]          # one batch trace per round
    offline_records: list[dict]   # what the offline logs-*.jsonl hold
    senders: dict[str, str]       # file name -> sender id as the message says
    calls: Counter                # (sender label, span name, failed) -> spans, as the workload made them


def _offline_records(directory: Path) -> list[dict]:
    out = []
    for path in directory.glob("logs-*.jsonl"):
        for request in offline.read_requests(path):
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        out.append({"trace_id": r.trace_id.hex(), "span_id": r.span_id.hex(),
                                    "severity_text": r.severity_text, "_msg": r.body.string_value,
                                    **{kv.key: str(getattr(kv.value, kv.value.WhichOneof("value")))
                                       for kv in r.attributes if kv.value.WhichOneof("value") != "array_value"}})
    return out


@pytest.fixture(scope="module")
def run(local_stack, tmp_path_factory) -> Run:
    samples = samples_root()
    tmp = tmp_path_factory.mktemp("logs-workload")
    good = samples / GOOD
    dangling = tmp / "dangling.xml"  # parses, fails to build: a track list entry points at no resource
    dangling.write_bytes(good.read_bytes().replace(b">A1</ReleaseResourceReference>",
                                                   b">A999</ReleaseResourceReference>", 1))
    truncated = tmp / "truncated.xml"
    truncated.write_bytes(good.read_bytes()[:500])
    service = f"ddex-logs-{uuid.uuid4().hex[:8]}"
    handle = configure(endpoint=local_stack.endpoints.otlp_grpc, protocol="grpc", offline_dir=tmp / "telemetry",
                       service_name=service, set_global=False, process_metrics=False,
                       metric_export_interval_millis=1000)
    senders: dict[str, str] = {}
    calls: Counter = Counter()
    trace_ids = []
    try:
        for round_no in range(ROUNDS):
            with batch(f"logs-e2e-{round_no}") as b:
                message = ern.parse(str(good))
                senders[GOOD] = message.header.sender.party_ids[0]
                calls[(senders[GOOD], "ddex.parse", False)] += 1
                lossy = ern.parse(str(samples / LOSSY))
                senders[LOSSY] = lossy.header.sender.party_ids[0]
                calls[(senders[LOSSY], "ddex.parse", False)] += 1
                built = ern.build(lossy, "4.3")
                assert any(f.code == "ddex.build.dropped" for f in built.findings)
                calls[(senders[LOSSY], "ddex.build", False)] += 1
                bad = ern.parse(str(dangling))
                calls[(senders[GOOD], "ddex.parse", False)] += 1
                with pytest.raises(DDEXError):
                    ern.build(bad)
                calls[(senders[GOOD], "ddex.build", True)] += 1
                try:
                    ern.parse(str(truncated))
                except DDEXError as exc:
                    b.failed(exc, str(truncated))
                calls[("unknown", "ddex.parse", True)] += 1
            trace_ids.append(format(b.span.get_span_context().trace_id, "032x"))
            handle.force_flush()
            if round_no + 1 < ROUNDS:  # the next round only after the collector flushed and Prometheus scraped
                from ddex_otel.stack.query import Prometheus

                Prometheus(local_stack.endpoints.prometheus).wait(
                    f'traces_span_metrics_calls_total{{service_name="{service}",span_name="ddex.parse"}}', timeout=60)
                time.sleep(6)  # not a synchronisation: the span-metrics flush (5 s) must fall between the rounds: rates need two values
    finally:
        handle.shutdown()
    return Run(service, trace_ids, _offline_records(tmp / "telemetry"), senders, calls)


@pytest.fixture(scope="module")
def logs(local_stack) -> VictoriaLogs:
    return VictoriaLogs(local_stack.endpoints.logs)


def _records_of(logs: VictoriaLogs, run: Run, trace_id: str) -> list[dict]:
    expected = [r for r in run.offline_records if r["trace_id"] == trace_id]
    assert expected, "no offline record in this trace"
    return logs.wait(f'trace_id:"{trace_id}"', lambda found: len(found) >= len(expected), timeout=60)


def test_records_reach_victorialogs_by_trace_id_with_levels_and_attributes(run, logs) -> None:
    for trace_id in run.trace_ids:
        found = _records_of(logs, run, trace_id)
        assert {r["service.name"] for r in found} == {run.service}
        by_kind = {
            "losses": [r for r in found if "ddex.build.dropped.count" in r],
            "warnings": [r for r in found if "ddex.finding.code" in r and r["severity_text"] == "WARN"],
            "errors": [r for r in found if "ddex.finding.code" in r and r["severity_text"] == "ERROR"],
            "failures": [r for r in found if "error.type" in r and "ddex.batch.name" not in r],
            "batch": [r for r in found if "ddex.batch.name" in r],
        }
        assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
        (loss,) = by_kind["losses"]
        assert loss["severity_text"] == "WARN" and int(loss["ddex.build.dropped.count"]) >= 1
        assert loss["ddex.build.dropped.paths"].startswith("[")
        assert {r["error.type"] for r in by_kind["failures"]} == {"DDEXValidationError", "TruncatedInputError"}
        assert all(r["severity_text"] == "ERROR" for r in by_kind["failures"] + by_kind["batch"])
        (batch_record,) = by_kind["batch"]
        assert batch_record["ddex.batch.name"].startswith("logs-e2e-") and batch_record["file.path"].endswith(
            "truncated.xml")
        assert all(r["ddex.finding.path"] and r["ddex.message.id"] for r in by_kind["warnings"] + by_kind["errors"])
        assert all(len(r["span_id"]) == 16 for r in found)


def test_offline_files_hold_the_same_records_as_the_logs_store(run, logs) -> None:
    key = lambda r: (r["trace_id"], r["span_id"], r["severity_text"], r["_msg"])  # noqa: E731
    for trace_id in run.trace_ids:
        stored = Counter(key(r) for r in _records_of(logs, run, trace_id))
        written = Counter(key(r) for r in run.offline_records if r["trace_id"] == trace_id)
        assert stored == written


def test_per_sender_series_hold_the_workloads_counts(run, prometheus) -> None:
    expr = (f'sum by (ddex_message_sender_id, span_name, status_code) '
            f'(traces_span_metrics_calls_total{{service_name="{run.service}",span_name=~"ddex\\\\.(parse|build)"}})')
    want = {(sender, span, "STATUS_CODE_ERROR" if failed else "STATUS_CODE_UNSET"): float(n)
            for (sender, span, failed), n in run.calls.items()}

    def got(result: list[dict]) -> dict:
        return {(s["metric"]["ddex_message_sender_id"], s["metric"]["span_name"], s["metric"]["status_code"]):
                float(s["value"][1]) for s in result}

    result = prometheus.wait(expr, lambda r: got(r) == want, timeout=60)
    assert got(result) == want
    assert {"unknown", *run.senders.values()} == {k[0] for k in want}
    # the alert rules' per-sender quantities exist for this service
    ratio = prometheus.wait(
        f'sum by (ddex_message_sender_id, span_name) (rate(traces_span_metrics_calls_total{{service_name="{run.service}",'
        f'status_code="STATUS_CODE_ERROR"}}[5m])) / sum by (ddex_message_sender_id, span_name) '
        f'(rate(traces_span_metrics_calls_total{{service_name="{run.service}"}}[5m]))', timeout=30)
    assert any(s["metric"]["ddex_message_sender_id"] == "unknown" and float(s["value"][1]) == 1.0 for s in ratio)


def _monitor(local_stack, run: Run, kind: str, **extra: Any) -> dict:
    now = int(time.time() * 1000)
    params = {"service": run.service, "spanKind": "internal", "groupByOperation": "true", "endTs": now,
              "lookback": 15 * 60_000, "step": 15_000, "ratePer": 60_000, **extra}
    return get_json(f"{local_stack.endpoints.jaeger}/api/metrics/{kind}", params)


def _latest(answer: dict) -> dict[str, float]:
    """operation -> the newest non-NaN point of each series in a Jaeger metrics answer."""
    out = {}
    for series in answer.get("metrics", []):
        labels = {label["name"]: label["value"] for label in series["labels"]}
        values = [p["gaugeValue"]["doubleValue"] for p in series["metricPoints"]
                  if isinstance(p.get("gaugeValue", {}).get("doubleValue"), (int, float))]
        if values:
            out[labels.get("operation", "")] = values[-1]
    return out


def test_jaeger_monitor_api_reads_the_span_metrics(run, local_stack, prometheus) -> None:
    calls = poll(lambda: _latest(_monitor(local_stack, run, "calls")),
                 lambda c: c.get("ddex.parse", 0) > 0 and c.get("ddex.build", 0) > 0, timeout=90,
                 what="Jaeger Monitor call rates of the DDEX operations")
    assert calls["ddex.parse"] > 0
    errors = poll(lambda: _latest(_monitor(local_stack, run, "errors")), lambda e: e.get("ddex.build", 0) > 0,
                  timeout=60, what="Jaeger Monitor error rates")
    assert errors["ddex.build"] > 0
    p95 = poll(lambda: _latest(_monitor(local_stack, run, "latencies", quantile=0.95)),
               lambda q: q.get("ddex.build", 0) > 0, timeout=60, what="Jaeger Monitor p95 latencies")
    # milliseconds: the same quantile Prometheus computes from the contract's seconds histogram, x 1000
    seconds = float(prometheus.wait(
        f'histogram_quantile(0.95, sum by (le) (rate(traces_span_metrics_duration_seconds_bucket'
        f'{{service_name="{run.service}",span_name="ddex.build"}}[15m])))')[0]["value"][1])
    assert p95["ddex.build"] == pytest.approx(seconds * 1000, rel=0.05), (p95, seconds)


def test_browser_logs_ui_shows_the_records_of_the_printed_link(run, logs, browser_page) -> None:
    trace_id = run.trace_ids[-1]
    found = _records_of(logs, run, trace_id)
    page = browser_page.page
    page.goto(logs_trace_url(trace_id, logs.base_url))
    loss = next(r for r in found if "ddex.build.dropped.count" in r)
    page.get_by_text(loss["_msg"][:60]).first.wait_for(timeout=30_000)
    assert trace_id in page.content()
    page.screenshot(path=artifacts_dir() / "victorialogs-trace-records.png")


def test_browser_jaeger_trace_links_to_its_logs(run, logs, local_stack, browser_page) -> None:
    trace_id = run.trace_ids[-1]
    _records_of(logs, run, trace_id)
    page = browser_page.page
    page.goto(jaeger_trace_url(trace_id, local_stack.endpoints.jaeger))
    page.locator(".span-name-column .endpoint-name").first.wait_for()
    link = page.get_by_role("link", name="Logs of this trace (VictoriaLogs)")
    if not link.count():  # one trace link: Jaeger shows it as a button/menu in the trace header
        page.locator(".TracePageHeader--titleRow a[href*='select/vmui']").first.wait_for()
        link = page.locator(".TracePageHeader--titleRow a[href*='select/vmui']").first
    href = link.first.get_attribute("href")
    assert href == logs_trace_url(trace_id, logs.base_url)
    page.screenshot(path=artifacts_dir() / "jaeger-trace-logs-link.png")
    with page.context.expect_page() as opened:
        link.first.click()
    logs_page = opened.value
    logs_page.wait_for_load_state()
    assert logs_page.url == href
    logs_page.get_by_text("build dropped").first.wait_for(timeout=30_000)


def test_browser_jaeger_monitor_tab_shows_the_ddex_operations(run, local_stack, browser_page) -> None:
    poll(lambda: _latest(_monitor(local_stack, run, "calls")), lambda c: c.get("ddex.parse", 0) > 0, timeout=90,
         what="Jaeger Monitor call rates")
    page = browser_page.page
    page.goto(f"{local_stack.endpoints.jaeger}/monitor")
    page.locator(".select-a-service-input").click()
    page.locator(".select-a-service-input input").fill(run.service)
    page.locator(f'.ant-select-item-option[title="{run.service}"]').click()
    page.locator(".span-kind-selector").click()  # DDEX spans are INTERNAL; the tab opens on Server
    page.locator('.ant-select-item-option[title="Internal"]').click()
    rows = page.locator(".ant-table-row")
    rows.filter(has_text="ddex.parse").first.wait_for(timeout=30_000)
    table = {row.locator("td").first.inner_text(): row.inner_text() for row in rows.all()}
    assert {"ddex.parse", "ddex.build", "ddex.batch"} <= set(table), table
    assert re.search(r"\d+(\.\d+)? req/s", table["ddex.parse"]) and "No Data" not in table["ddex.parse"], table
    body = page.locator("body").inner_text()
    assert "Get started with Service Performance Monitoring" not in body and "No data yet" not in body
    page.screenshot(path=artifacts_dir() / "jaeger-monitor.png", full_page=True)
