"""Human-readable output of a suite run: a rich table, the bars, a comparison, an HTML page."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from rich.console import Console
from rich.table import Table

from ddex_otel.bench.compare import Comparison
from ddex_otel.extras import charts_missing


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def _mib(value: float | None) -> str:
    return f"{value / 2**20:.1f} MiB" if value else ""


def results_table(run: dict[str, Any]) -> Table:
    suite = run.get("ddex_suite") or {}
    table = Table(title="ddex-otel bench (medians of interleaved rounds)")
    for column, justify in (("case", "left"), ("ms", "right"), ("p25–p75 ms", "right"), ("MB/s", "right"),
                            ("peak RSS", "right"), ("DDEX Suite", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, r in run["results"].items():
        s = suite.get(name)
        if s is None:
            suite_cell = "" if run.get("ddex_suite_installed") else "not installed"
        elif "error" in s:
            message = s["error"].split(": ", 1)[-1]
            suite_cell = "error: " + message[:48] + ("…" if len(message) > 48 else "")
        else:
            suite_cell = f"{_ms(s['median_s'])} ms ({s['median_s'] / r['median_s']:.2f}×)"
        spread = f"{_ms(r.get('p25_s'))}–{_ms(r.get('p75_s'))}" if "p25_s" in r else ""
        table.add_row(name, _ms(r.get("median_s")), spread, f"{r.get('mb_per_s', 0):.1f}",
                      _mib(r.get("peak_rss_bytes")), suite_cell)
    return table


def print_run(run: dict[str, Any], console: Console) -> None:
    m = run["machine"]
    console.print(f"{m['cpu_model']} × {m['cpu_count']}, Python {m['python']}, lxml {m['lxml']} "
                  f"(libxml2 {m['libxml2']}), load {m.get('load_average')}")
    console.print(results_table(run))
    stream = run["results"].get("stream_memory", {})
    if stream.get("iterparse_ratio"):
        console.print(f"stream: {1 / stream['iterparse_ratio']:.2f}× the throughput of a bare tag-filtered "
                      f"iterparse of the same file (median of {stream['rounds']} interleaved pairs)")
    for bar in run["bars"]:
        mark = "[green]ok[/green]" if bar["ok"] else "[red]FAILED[/red]"
        console.print(f"bar: {bar['label']}: {_ms(bar['median_s'])} ms {mark}")


def print_comparison(comparisons: list[Comparison], threshold: float, console: Console) -> None:
    table = Table(title=f"against the baseline (regression: more than {threshold:.2f}× worse)")
    for column in ("case", "metric", "baseline", "now", "ratio", ""):
        table.add_column(column, justify="left" if column in ("case", "metric", "") else "right")
    for c in comparisons:
        fmt = (lambda v: f"{v:.3g}") if c.metric != "peak_rss" else _mib
        table.add_row(c.case, c.metric, fmt(c.baseline), fmt(c.current), f"{c.ratio:.2f}×",
                      "[red]REGRESSION[/red]" if c.regression else "")
    console.print(table)


def html_page(run: dict[str, Any]) -> str:
    """A self-contained page: the table and a bar chart (matplotlib PNG, base64-embedded); without
    matplotlib (the plots extra), the line saying how to get it in place of the chart."""
    suite = run.get("ddex_suite") or {}
    no_charts = charts_missing()
    chart = f"<p>{html.escape(no_charts)}</p>" if no_charts else f"<img alt='medians' src='{_chart(run)}'>"
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(r.get('what', ''))}</td><td>{_ms(r.get('median_s'))}</td>"
        f"<td>{r.get('mb_per_s', 0):.1f}</td><td>{_mib(r.get('peak_rss_bytes'))}</td>"
        f"<td>{html.escape(_suite_text(suite.get(n)))}</td></tr>"
        for n, r in run["results"].items()
    )
    bars = "".join(f"<li>{html.escape(b['label'])}: {_ms(b['median_s'])} ms — {'ok' if b['ok'] else 'FAILED'}</li>"
                   for b in run["bars"])
    machine = html.escape(", ".join(f"{k}: {v}" for k, v in run["machine"].items()))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ddex-otel bench</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>ddex-otel bench</h1><p>{machine}</p>{chart}"
        "<table><tr><th>case</th><th>what</th><th>ms</th><th>MB/s</th><th>peak RSS</th><th>DDEX Suite</th></tr>"
        f"{rows}</table><ul>{bars}</ul></body></html>"
    )


def _chart(run: dict[str, Any]) -> str:
    """The medians as a horizontal bar chart, ours and the DDEX Suite's: a PNG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [n for n, r in run["results"].items() if r.get("median_s")]
    ours = [run["results"][n]["median_s"] * 1e3 for n in names]
    suite = run.get("ddex_suite") or {}
    theirs = [suite.get(n, {}).get("median_s", 0) * 1e3 for n in names]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    positions = range(len(names))
    ax.barh([p + 0.2 for p in positions], ours, height=0.4, label="ddex-otel")
    if any(theirs):
        ax.barh([p - 0.2 for p in positions], theirs, height=0.4, label="DDEX Suite")
    ax.set_yticks(list(positions), names)
    ax.set_xscale("log")
    ax.set_xlabel("ms per operation (median, log scale)")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _suite_text(figure: dict[str, Any] | None) -> str:
    if not figure:
        return ""
    if "error" in figure:
        return "error: " + figure["error"]
    return f"{_ms(figure['median_s'])} ms"
