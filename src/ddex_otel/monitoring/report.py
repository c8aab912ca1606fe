"""One self-contained HTML report of a profiling run: plots, a summary, the slowest messages.

    from ddex_otel.monitoring.report import write_report
    write_report("profile.html", profiler.results, resource_monitor.snapshots())

Plots are made by matplotlib (Agg backend, no display needed) and embedded as base64 PNG data
URIs, so the file can be mailed or attached to a ticket: no scripts, no external resources.
Without matplotlib (the ``plots`` extra) the report has its tables and, in place of the plots, the
line saying how to install it (``extras.charts_missing``).
Trace ids link to the Jaeger page of the operation's trace (``jaeger_trace_url``) when the
spans went where a Jaeger can show them (``link_traces``). The file is written atomically.

Inputs are the monitoring package's records, read by attribute: ``ProfileResult`` (name, start,
duration_s, success, error, cpu_percent_avg, memory_peak, operations, metadata) and
``ResourceSnapshot`` (time, rss, cpu_percent).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddex_otel.extras import charts_missing
from ddex_otel.outputs import write_text
from ddex_otel.telemetry.summary import percentile

#: How many of the slowest profiled operations the report lists.
SLOWEST = 10
_MIB = 1024 * 1024


@dataclass(frozen=True)
class SummaryRow:
    """Durations (seconds) and resources of one profiled operation name."""

    name: str
    runs: int
    failed: int
    p50: float
    p95: float
    max: float
    mean: float
    cpu_avg: float
    memory_peak: int | None


def summary_rows(results: Sequence[Any]) -> list[SummaryRow]:
    """One row per operation name, in first-seen order (nearest-rank percentiles)."""
    groups: dict[str, list[Any]] = {}
    for r in results:
        groups.setdefault(r.name, []).append(r)
    rows = []
    for name, items in groups.items():
        durations = sorted(r.duration_s for r in items)
        cpus = [r.cpu_percent_avg for r in items if _finite(getattr(r, "cpu_percent_avg", None))]
        peaks = [r.memory_peak for r in items if isinstance(getattr(r, "memory_peak", None), int)]
        rows.append(SummaryRow(
            name=name, runs=len(items), failed=sum(1 for r in items if not r.success),
            p50=percentile(durations, 50), p95=percentile(durations, 95), max=durations[-1],
            mean=sum(durations) / len(durations),
            cpu_avg=sum(cpus) / len(cpus) if cpus else math.nan,
            memory_peak=max(peaks) if peaks else None,
        ))
    return rows


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def source_of(result: Any) -> str:
    """The file a result is about: its metadata's ``file``, else its first operation's ``file_path``."""
    meta = getattr(result, "metadata", None) or {}
    if meta.get("file"):
        return str(meta["file"])
    for op in getattr(result, "operations", None) or []:
        if op.get("file_path"):
            return str(op["file_path"])
    return ""


def trace_id_of(result: Any) -> str | None:
    for op in getattr(result, "operations", None) or []:
        if op.get("trace_id"):
            return str(op["trace_id"])
    return None


# ----------------------------------------------------------------------------------- plots


def _figure(width: float = 7.5, height: float = 3.2) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png_data_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def duration_plot(results: Sequence[Any]) -> str | None:
    """Box plot of the durations (ms) per operation."""
    groups: dict[str, list[float]] = {}
    for r in results:
        groups.setdefault(r.name, []).append(r.duration_s * 1000)
    if not groups:
        return None
    fig = _figure(7.5, 0.6 + 0.5 * len(groups) + 1.2)
    ax = fig.add_subplot()
    ax.boxplot(list(groups.values()), vert=False, showmeans=True)
    ax.set_yticks(range(1, len(groups) + 1), list(groups))
    ax.invert_yaxis()  # first operation on top, as in the tables
    ax.set_xscale("log")  # one slow outlier (a cold first parse) would squash the boxes
    ax.set_xlabel("duration (ms, log scale)")
    ax.set_title("duration per operation")
    ax.grid(axis="x", alpha=0.3)
    return _png_data_uri(fig)


def stage_plot(results: Sequence[Any]) -> str | None:
    """Box plot of the stage durations (ms), ``operation › stage``, from the operation spans."""
    groups: dict[str, list[float]] = {}
    for r in results:
        for op in getattr(r, "operations", None) or []:
            for stage, seconds in (op.get("stages") or {}).items():
                groups.setdefault(f"{op.get('name', r.name)} › {stage}", []).append(float(seconds) * 1000)
    if not groups:
        return None
    fig = _figure(7.5, 0.6 + 0.35 * len(groups) + 1.2)
    ax = fig.add_subplot()
    ax.boxplot(list(groups.values()), vert=False, showmeans=True)
    ax.set_yticks(range(1, len(groups) + 1), list(groups))
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("duration (ms, log scale)")
    ax.set_title("duration per stage")
    ax.grid(axis="x", alpha=0.3)
    return _png_data_uri(fig)


def resource_plot(snapshots: Sequence[Any]) -> str | None:
    """CPU % and resident memory (MiB) over time, from the resource monitor's snapshots."""
    if len(snapshots) < 2:
        return None
    t0 = snapshots[0].time
    times = [s.time - t0 for s in snapshots]
    fig = _figure(7.5, 4.2)
    cpu_ax, mem_ax = fig.subplots(2, 1, sharex=True)
    marker = "." if len(snapshots) < 60 else None
    cpu_ax.plot(times, [s.cpu_percent for s in snapshots], color="tab:red", linewidth=1.2, marker=marker)
    cpu_ax.set_ylabel("CPU %")
    cpu_ax.set_title("process CPU and memory over time")
    cpu_ax.grid(alpha=0.3)
    mem_ax.plot(times, [s.rss / _MIB for s in snapshots], color="tab:blue", linewidth=1.2, marker=marker)
    mem_ax.set_ylabel("RSS (MiB)")
    mem_ax.set_xlabel("seconds since start")
    mem_ax.grid(alpha=0.3)
    return _png_data_uri(fig)


# ------------------------------------------------------------------------------------ HTML


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child, .text { text-align: left; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: .9em; }
.failed { color: #b00020; } .meta { color: #666; } ul.meta { padding-left: 1.2em; } img { max-width: 100%; }
"""


def _ms(seconds: float) -> str:
    return "—" if not _finite(seconds) else f"{seconds * 1000:.2f}"


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / _MIB:.1f}"


def _pct(value: float) -> str:
    return "—" if not _finite(value) else f"{value:.0f}"


def _image(uri: str | None, alt: str) -> str:
    if uri is None:
        return f'<p class="meta">No data for “{html.escape(alt)}”.</p>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def render_report(
    results: Sequence[Any],
    snapshots: Sequence[Any] = (),
    *,
    title: str = "ddex-otel profile",
    trace_url: Callable[[str], str] | None = None,
    notes: Sequence[str] = (),
    link_traces: bool = True,
) -> str:
    """The report as one HTML string (see the module docstring).

    ``link_traces=False`` shows trace ids without links (the spans went to no Jaeger).
    """
    if trace_url is None:
        from ddex_otel.stack.links import jaeger_trace_url

        trace_url = jaeger_trace_url
    e = html.escape
    rows = summary_rows(results)
    failed = [r for r in results if not r.success]
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">{len(results)} profiled operations, {len(failed)} failed; generated {generated}.</p>',
    ]
    if notes:
        parts.append('<ul class="meta">' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    parts += ["<h2>Summary</h2>", "<table><thead><tr><th>operation</th><th>runs</th><th>failed</th>"
              "<th>p50 ms</th><th>p95 ms</th><th>max ms</th><th>mean ms</th><th>avg CPU %</th>"
              "<th>peak RSS MiB</th></tr></thead><tbody>"]
    for row in rows:
        parts.append(
            f"<tr><td>{e(row.name)}</td><td>{row.runs}</td><td>{row.failed}</td><td>{_ms(row.p50)}</td>"
            f"<td>{_ms(row.p95)}</td><td>{_ms(row.max)}</td><td>{_ms(row.mean)}</td>"
            f"<td>{_pct(row.cpu_avg)}</td><td>{_mib(row.memory_peak)}</td></tr>"
        )
    parts.append("</tbody></table>")
    no_charts = charts_missing()
    if no_charts:
        parts += ["<h2>Charts</h2>", f'<p class="meta">{e(no_charts)}</p>']
    else:
        parts += ["<h2>Durations</h2>", _image(duration_plot(results), "duration per operation"),
                  _image(stage_plot(results), "duration per stage"),
                  "<h2>CPU and memory</h2>", _image(resource_plot(snapshots), "CPU and memory over time")]
    parts += ["<h2>Slowest messages</h2>", "<table><thead><tr><th>file</th><th class=\"text\">operation</th><th>ms</th>"
              "<th class=\"text\">result</th><th class=\"text\">trace</th></tr></thead><tbody>"]
    for r in sorted(results, key=lambda r: r.duration_s, reverse=True)[:SLOWEST]:
        trace_id = trace_id_of(r)
        if not trace_id:
            link = "—"
        elif link_traces:
            link = f'<a class="mono" href="{e(trace_url(trace_id))}">{e(trace_id)}</a>'
        else:
            link = f'<span class="mono">{e(trace_id)}</span>'

        status = "ok" if r.success else f'<span class="failed">{e(r.error or "failed")}</span>'
        parts.append(
            f'<tr><td class="text">{e(os.path.basename(source_of(r)) or "—")}</td><td>{e(r.name)}</td>'
            f'<td>{_ms(r.duration_s)}</td><td class="text">{status}</td><td class="text">{link}</td></tr>'
        )
    parts.append("</tbody></table>")
    if failed:
        parts += ["<h2>Failures</h2>", "<ul>"]
        parts += [f'<li><span class="mono">{e(source_of(r))}</span> ({e(r.name)}): '
                  f'<span class="failed">{e(r.error or "failed")}</span></li>' for r in failed]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | os.PathLike[str], results: Sequence[Any], snapshots: Sequence[Any] = (),
                 **options: Any) -> Path:
    """Write ``render_report(...)`` to ``path`` (UTF-8, atomically); return the path."""
    target = Path(path)
    write_text(target, render_report(results, snapshots, **options))
    return target
