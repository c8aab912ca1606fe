"""Draw docs/images/scale-out.png: the scale-out topology and, from a benchmark JSON, the measured curve.

    .venv/bin/python benchmarks/bench_scale_out.py --json scale-out.json
    .venv/bin/python scripts/draw_scale_out.py [--bench scale-out.json] [-o docs/images/scale-out.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

REPO = Path(__file__).resolve().parents[1]
COLORS = {"app": "#dbeafe", "queue": "#fde68a", "worker": "#bbf7d0", "agent": "#e9d5ff", "gateway": "#c4b5fd",
          "store": "#fecaca", "host": "#f8fafc"}


def box(ax, x, y, w, h, text, kind, size=8.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                fc=COLORS[kind], ec="#334155", lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)
    return (x, y, w, h)


def arrow(ax, a, b, text="", style="-|>", color="#334155", dashed=False, offset=(0, 0)):
    (x1, y1), (x2, y2) = a, b
    ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), arrowstyle=style, mutation_scale=11, color=color,
                                 lw=1.1, ls="--" if dashed else "-"))
    if text:
        ax.text((x1 + x2) / 2 + offset[0], (y1 + y2) / 2 + offset[1], text, fontsize=7, color=color,
                ha="center", va="center", bbox=dict(fc="white", ec="none", pad=0.5))


def topology(ax) -> None:
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 8)
    ax.axis("off")
    ax.set_title("ddex-otel scale-out: one trace per batch across Celery workers", fontsize=11)
    box(ax, 0.2, 6.4, 2.6, 1.1, "submitter\nddex-otel batch --celery\nddex.batch → ddex.file", "app")
    box(ax, 0.2, 3.6, 2.6, 1.0, "Redis\nbroker + results\n(acks late, redelivery)", "queue")
    hosts_y = [5.6, 3.4, 1.2]
    for i, y in enumerate(hosts_y):
        name = f"worker host {i + 1}" if i < 2 else "worker host N"
        ax.add_patch(FancyBboxPatch((3.6, y - 0.15), 3.9, 1.75, boxstyle="round,pad=0.02", fc=COLORS["host"],
                                    ec="#94a3b8", lw=0.8, ls="--"))
        ax.text(3.7, y + 1.45, f"{name}  (host.name)", fontsize=7, color="#475569")
        box(ax, 3.8, y, 1.9, 1.2, "Celery worker\nrun/… task span\nddex.parse/validate\n/build", "worker", 7.5)
        box(ax, 6.0, y + 0.2, 1.35, 0.8, "agent\ncollector\n(disk queue)", "agent", 7.5)
        arrow(ax, (5.7, y + 0.6), (6.0, y + 0.6))
        arrow(ax, (2.8, 4.1), (3.8, y + 0.6), "tasks" if i == 0 else "", dashed=True, offset=(0, 0.25))
        arrow(ax, (7.35, y + 0.6), (8.3, 3.9), "OTLP" if i == 0 else "", offset=(0.1, 0.25))
    arrow(ax, (1.5, 6.4), (1.5, 4.6), "apply_async\n(trace context\nin headers)", offset=(-0.05, 0))
    box(ax, 8.3, 3.2, 1.6, 1.4, "gateway\ncollector\nspanmetrics\nmemory_limiter\nbatch, disk queue", "gateway", 7.5)
    box(ax, 10.3, 5.0, 1.5, 1.0, "Jaeger\n(Badger store)", "store")
    box(ax, 10.3, 1.8, 1.5, 1.0, "Prometheus", "store")
    arrow(ax, (9.9, 4.3), (10.3, 5.4), "traces", offset=(-0.1, 0.2))
    arrow(ax, (9.9, 3.5), (10.3, 2.4), "metrics\n(scraped)", offset=(-0.1, -0.25))
    arrow(ax, (2.8, 7.35), (6.9, 6.6), "", dashed=False)
    ax.text(4.9, 7.6, "the submitter's spans go to its host's agent too", fontsize=7, color="#475569")


def results(ax, bench: dict) -> None:
    data = {k: v for k, v in bench["throughput"].items() if str(k).isdigit()}
    workers = sorted(int(n) for n in data)
    for workload, marker in (("small", "o"), ("large", "s")):
        rates = [data[str(n)][workload]["files_per_second"] for n in workers]
        base = rates[0]
        ax.plot(workers, [r / base for r in rates], marker=marker, label=f"{workload} files (1 worker: {base:.0f}/s)")
    ax.plot(workers, workers, ls=":", color="#64748b", label="linear")
    ax.axvline(bench.get("cpus") or 2, color="#ef4444", lw=0.8, ls="--")
    ax.text((bench.get("cpus") or 2) + 0.05, 0.3, f"{bench.get('cpus') or 2} cores", color="#ef4444", fontsize=7)
    ax.set_xticks(workers)
    ax.set_xlabel("Celery worker processes (one agent each)")
    ax.set_ylabel("speed-up over 1 worker")
    ax.set_ylim(0, max(workers) + 0.5)
    ax.set_title("measured on this machine", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, help="JSON written by benchmarks/bench_scale_out.py --json")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "images" / "scale-out.png")
    args = parser.parse_args()
    if args.bench:
        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [2.3, 1]})
        results(right, json.loads(args.bench.read_text()))
    else:
        fig, left = plt.subplots(figsize=(10, 5.6))
    topology(left)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
