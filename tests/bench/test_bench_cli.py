"""``ddex-otel bench``: a quick smoke run (no timed assertion) and the baseline comparison logic."""

from __future__ import annotations

import json
import subprocess
import sys
from html import escape
from pathlib import Path

from ddex_otel.bench.compare import compare_results

CASES = {"parse_1kb", "parse_10kb", "parse_100kb", "parse_1mb", "build_simple", "build_complex",
         "round_trip_100kb", "stream_memory", "reference_fromstring_100kb", "parse_read_all_1mb"}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ddex_otel.cli", "bench", *args],
                          capture_output=True, text=True, timeout=600)


def test_quick_json_run_has_every_case_bar_and_machine(tmp_path: Path) -> None:
    html = tmp_path / "bench.html"
    done = _bench("--quick", "--json", "--html", str(html))
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert set(run["results"]) == CASES
    for name, figure in run["results"].items():
        assert figure["median_s"] > 0, name
        assert figure["bytes"] > 0, name
    assert run["results"]["parse_1mb"]["bytes"] > 900_000
    assert run["results"]["stream_memory"]["peak_rss_bytes"] > 0
    assert run["results"]["stream_memory"]["items"] > 0
    assert run["results"]["stream_memory"]["iterparse_ratio"] > 0
    assert run["results"]["parse_read_all_1mb"]["median_s"] > run["results"]["parse_1mb"]["median_s"]
    assert [b["label"] for b in run["bars"]] == ["10 KB parse < 10 ms", "100-release build < 1 s"]
    for bar in run["bars"]:  # each verdict follows from its own figure (the figure itself is not judged here)
        assert bar["median_s"] == run["results"][bar["case"]]["median_s"], bar
        assert bar["ok"] is (bar["median_s"] < bar["limit_s"]), bar
    assert run["machine"]["python"] and run["machine"]["lxml"]
    # The test env installs DDEX Suite: each parse/build case has its figure or its error.
    assert run["ddex_suite_installed"]
    for name in ("parse_1kb", "parse_10kb", "parse_100kb", "parse_1mb", "build_simple", "build_complex"):
        assert "median_s" in run["ddex_suite"][name] or run["ddex_suite"][name]["error"], name
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page


def test_compare_flags_a_regression_and_exits_non_zero(tmp_path: Path) -> None:
    done = _bench("--quick", "--json", "--no-ddex-suite")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    # A baseline where parse_10kb was 10× faster relative to the reference: now it reads as a regression.
    baseline = json.loads(done.stdout)
    baseline["results"]["parse_10kb"]["median_s"] /= 10
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline))
    regressions = [c.case for c in compare_results(run, baseline, 1.5) if c.regression]
    assert regressions == ["parse_10kb"]
    again = _bench("--quick", "--no-ddex-suite", "--compare", str(path), "--threshold", "1000")
    assert again.returncode == 0, again.stdout + again.stderr  # nothing is 1000× worse
    assert "against the baseline" in again.stdout


def test_without_matplotlib_the_html_page_is_written_with_one_line_saying_how_to_get_the_chart(
        tmp_path: Path, monkeypatch, capsys) -> None:
    from ddex_otel.bench import cli as bench_cli
    from ddex_otel.cli import main

    run = {"results": {"parse_1kb": {"median_s": 0.001, "what": "parse", "bytes": 4500, "mb_per_s": 4.5}},
           "bars": [{"label": "10 KB parse < 10 ms", "median_s": 0.001, "ok": True}], "machine": {"python": "3"}}
    monkeypatch.setattr(bench_cli, "run_suite", lambda **_kwargs: run)  # the suite itself is the test above
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plots extra were not installed
    html = tmp_path / "bench.html"
    assert main(["bench", "--json", "--no-ddex-suite", "--html", str(html)]) == 0
    err = capsys.readouterr().err
    hint = "drawing charts needs the plots extra (matplotlib is not installed): pip install 'ddex-otel[plots]'"
    # one line (older rich also prints a blank line when its progress display ends)
    assert [line for line in err.splitlines() if line.strip()] == [f"ddex-otel bench: note: {html} has no chart: {hint}"]
    page = html.read_text()
    assert escape(hint) in page and "<img" not in page and "parse_1kb" in page


def test_compare_normalises_by_the_reference() -> None:
    """A uniformly 2× slower machine is not a regression; one case 2× slower on its own is."""
    base = {"reference": "ref", "results": {"ref": {"median_s": 1.0}, "a": {"median_s": 2.0}, "b": {"median_s": 3.0}}}
    slower = {"reference": "ref", "results": {"ref": {"median_s": 2.0}, "a": {"median_s": 4.0}, "b": {"median_s": 12.0}}}
    flagged = {c.case: c.regression for c in compare_results(slower, base, 1.5)}
    assert flagged == {"a": False, "b": True}


def test_unreadable_baseline_is_one_line_error(tmp_path: Path) -> None:
    done = _bench("--quick", "--compare", str(tmp_path / "missing.json"))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ddex-otel bench: cannot read baseline")
    assert "Traceback" not in done.stderr
