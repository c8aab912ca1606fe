"""``ddex-otel profile`` and its HTML report, opened in a real headless chromium (Playwright).

The command runs as a user runs it (console script, child process, offline telemetry); the report
must load without console errors, every plot must decode, and the trace ids it shows must be those
of the profiled operations, as found in the exported spans (offline: shown, not linked).

Set ``DDEX_OTEL_UPDATE_SCREENSHOTS=1`` to also refresh docs/images/profile-report.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest

from ddex_otel.telemetry.offline import read_requests

CLI = Path(sys.executable).parent / "ddex-otel"
SAMPLES = ("daddykev__Samples43_1_Audio.xml", "daddykev__Samples42_Variant_Classical.xml",
           "AudiusProject__01_delivery.xml")
REPO = Path(__file__).resolve().parents[2]
RUNS = 3


@pytest.fixture(scope="module")
def profile_run(tmp_path_factory, samples_dir: Path):
    """Run ``ddex-otel profile`` once with every output; return (folder, completed process)."""
    folder = tmp_path_factory.mktemp("profile")
    files = [str(samples_dir / name) for name in SAMPLES]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(COLUMNS="160", DDEX_OTEL_JAEGER_URL="http://127.0.0.1:16686")
    done = subprocess.run(
        [str(CLI), "profile", *files, "--runs", str(RUNS), "--csv", "p.csv", "--json", "p.json",
         "--html", "report.html"],
        capture_output=True, text=True, timeout=300, cwd=folder, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, done


def _exported_trace_ids(folder: Path) -> set[str]:
    ids = set()
    for path in (folder / "telemetry").glob("traces-*.jsonl"):
        for request in read_requests(path):
            ids.update(s.trace_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
    return ids


def test_profile_prints_a_summary_and_writes_csv_and_json(profile_run):
    folder, done = profile_run
    for op in ("parse", "build"):
        assert f"│ {op} " in done.stdout
    assert "wrote report.html" in done.stdout
    rows = list(csv.DictReader(io.StringIO((folder / "p.csv").read_text())))
    assert len(rows) == 2 * RUNS * len(SAMPLES)
    data = json.loads((folder / "p.json").read_text())
    assert data  # the profiler's own format; its contents are the profiler's tests' business


def test_report_opens_in_chromium_with_plots_tables_and_trace_ids(profile_run, tmp_path, browser_page):
    folder, _ = profile_run
    report = folder / "report.html"
    text = report.read_text()
    assert "<script" not in text and "<link" not in text  # self-contained
    exported = _exported_trace_ids(folder)
    page = browser_page.page
    page.set_viewport_size({"width": 1000, "height": 1500})
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => ({alt: i.alt, w: i.naturalWidth, done: i.complete,"
        " inline: i.src.startsWith('data:image/png;base64,')}))")
    headings = page.eval_on_selector_all("h1, h2", "hs => hs.map(h => h.textContent.trim())")
    links = page.eval_on_selector_all("a", "as => as.map(a => [a.textContent.trim(), a.href])")
    trace_ids = page.eval_on_selector_all("td span.mono", "ss => ss.map(s => s.textContent.trim())")
    summary = page.eval_on_selector_all(
        "table:first-of-type tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.textContent))")
    shot = tmp_path / "profile-report.png"
    page.screenshot(path=str(shot))
    problems = browser_page.problems

    assert problems == []
    assert [i["alt"] for i in images] == ["duration per operation", "duration per stage", "CPU and memory over time"]
    assert all(i["done"] and i["w"] > 0 and i["inline"] for i in images), images
    assert headings == ["ddex-otel profile", "Summary", "Durations", "CPU and memory", "Slowest messages"]
    assert [(r[0], r[1], r[2]) for r in summary] == [("parse", str(RUNS * len(SAMPLES)), "0"),
                                                      ("build", str(RUNS * len(SAMPLES)), "0")]
    assert links == []  # offline files: no Jaeger has these traces, so the report links none
    assert len(trace_ids) == 10
    for trace_id in trace_ids:
        assert len(trace_id) == 32
        assert trace_id in exported, "the report names a trace that was never exported"
    assert shot.stat().st_size > 10_000
    if os.environ.get("DDEX_OTEL_UPDATE_SCREENSHOTS") == "1":
        _save_small_png(shot, REPO / "docs" / "images" / "profile-report.png")


def test_without_matplotlib_the_report_is_written_with_one_line_saying_how_to_get_charts(
        tmp_path: Path, samples_dir: Path) -> None:
    """The plots extra missing: the import fails, the tables are written, one line names the extra."""
    code = ("import sys; sys.modules['matplotlib'] = None; from ddex_otel.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", code, "profile", str(samples_dir / SAMPLES[0]), "--runs", "1", "--html", "report.html"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    hint = "drawing charts needs the plots extra (matplotlib is not installed): pip install 'ddex-otel[plots]'"
    # one line (older rich also prints a blank line when its progress display ends)
    assert [line for line in done.stderr.splitlines() if line.strip()] == [f"ddex-otel: note: report.html has no charts: {hint}"]
    assert "wrote report.html" in done.stdout
    text = (tmp_path / "report.html").read_text()
    assert escape(hint) in text and "<img" not in text
    assert "<h2>Summary</h2>" in text and "<h2>Slowest messages</h2>" in text


def _save_small_png(source: Path, target: Path) -> None:
    """A 256-colour copy for the README (plots and tables quantise without visible loss)."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256).save(target, optimize=True)
    assert target.stat().st_size < 300_000
