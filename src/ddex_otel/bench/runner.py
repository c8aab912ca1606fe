"""Run the suite: interleaved rounds, medians, the regression bars, the stream child, machine info."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from ddex_otel import __version__
from ddex_otel.bench.cases import REFERENCE, Case, build_cases, sized_file, temp_workdir
from ddex_otel.bench.suite_engine import SuiteEngine, quiet_stdout

#: The seed's regression bars: (case, limit in seconds, what it says).
BARS: tuple[tuple[str, float, str], ...] = (
    ("parse_10kb", 0.010, "10 KB parse < 10 ms"),
    ("build_complex", 1.0, "100-release build < 1 s"),
)
#: Seconds one timed block aims at (a case runs enough calls to fill it, at least one).
BLOCK_SECONDS = 0.02

Progress = Callable[[str, int, int], None]


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPU, Python, lxml/libxml2, load at the start."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ddex_otel": __version__,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _calls_per_block(func: Callable[[], Any]) -> tuple[int, float]:
    """(calls that fill BLOCK_SECONDS, seconds of one call), from one warm-up call."""
    t0 = time.perf_counter()
    func()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, min(1000, int(BLOCK_SECONDS / one))), one


def _time_block(func: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - t0) / calls


def _suite_trial(func: Callable[[], Any]) -> str | None:
    """None if the Suite does the work, else the error it gives (one line)."""
    try:
        with quiet_stdout():
            func()
    except Exception as exc:  # noqa: BLE001 - the Suite raises its own types; all we report is the message
        text = " ".join(str(exc).split())
        return f"{type(exc).__name__}: {text}"[:300]
    return None


def run_cases(cases: list[Case], rounds: int, progress: Progress | None = None, seed: int = 1) -> dict[str, Any]:
    """Time every case (and its Suite twin) in ``rounds`` interleaved rounds; medians per call."""
    timed: list[tuple[str, Callable[[], Any], int]] = []
    results: dict[str, Any] = {}
    suite: dict[str, Any] = {}
    for case in cases:
        calls, _ = _calls_per_block(case.run)
        timed.append((case.name, case.run, calls))
        results[case.name] = {"what": case.what, "bytes": case.size, **case.extra}
        if case.suite is not None:
            error = _suite_trial(case.suite)
            if error is not None:
                suite[case.name] = {"error": error}
            else:
                quiet = _quiet(case.suite)
                calls, _ = _calls_per_block(quiet)
                timed.append(("suite:" + case.name, quiet, calls))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in timed}
    rng = random.Random(seed)
    for done in range(rounds):
        order = timed[:]
        rng.shuffle(order)
        for name, func, calls in order:
            samples[name].append(_time_block(func, calls))
        if progress is not None:
            progress("timing", done + 1, rounds)
    for name, values in samples.items():
        figure = _figure(values)
        if name.startswith("suite:"):
            case_name = name[len("suite:"):]
            suite[case_name] = figure
        else:
            results[name].update(figure)
            results[name]["mb_per_s"] = results[name]["bytes"] / figure["median_s"] / 1e6
    return {"results": results, "ddex_suite": suite}


def _quiet(func: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with quiet_stdout():
            return func()

    return run


def _figure(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    n = len(ordered)
    return {
        "median_s": statistics.median(ordered),
        "p25_s": ordered[n // 4],
        "p75_s": ordered[min(n - 1, (3 * n) // 4)],
        "rounds": n,
    }


# --------------------------------------------------------------------------------------- stream

_STREAM_CHILD = """
import json, resource, sys, time
from ddex_otel.ern import stream
t0 = time.perf_counter()
items = 0
for _ in stream(sys.argv[1]):
    items += 1
seconds = time.perf_counter() - t0
# VmHWM is this process's own peak; ru_maxrss also counts the parent's memory when the child was
# started by vfork/fork (Linux keeps the pre-exec high-water mark), so it is only the fallback.
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"seconds": seconds, "items": items, "peak_rss_bytes": peak}))
"""


# The floor of any flat-memory reader of the same file: lxml's iterparse with the tag filter
# ``stream`` uses, each reported element cleared and its finished previous siblings deleted.
# Prints "<events> <seconds>" (``clock``: the ``time`` function it times with); also run by
# benchmarks/bench_parse.py.
ITERPARSE_CHILD = """
import sys, time
from lxml import etree
from ddex_otel.ern.streaming import _FILTER_TAGS
clock = getattr(time, sys.argv[2] if len(sys.argv) > 2 else "perf_counter")
t0 = clock()
events = 0
for _event, element in etree.iterparse(sys.argv[1], events=("end",), tag=_FILTER_TAGS):
    events += 1
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
print(events, clock() - t0)
"""


def run_stream(path: Path, repeats: int) -> dict[str, Any]:
    """Stream ``path`` in fresh child processes, interleaved with a bare tag-filtered ``iterparse``
    of it: MB/s (median), the child's peak RSS (max) and the median ratio of the pairs' times."""
    size = path.stat().st_size
    runs, bare = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _STREAM_CHILD, str(path)], check=True,
                             capture_output=True, text=True, timeout=3600)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        out = subprocess.run([sys.executable, "-c", ITERPARSE_CHILD, str(path)], check=True,
                             capture_output=True, text=True, timeout=3600)
        bare.append(float(out.stdout.split()[-1]))
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "what": f"stream a generated {size / 1e6:.1f} MB message in a child process",
        "bytes": size,
        "items": runs[0]["items"],
        "median_s": seconds,
        "mb_per_s": size / seconds / 1e6,
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        "rounds": repeats,
        "iterparse_median_s": statistics.median(bare),
        # > 1: stream is slower than the bare iterparse; its inverse is the throughput ratio
        "iterparse_ratio": statistics.median(r["seconds"] / b for r, b in zip(runs, bare, strict=True)),
    }


# ------------------------------------------------------------------------------------------ all


def run_suite(*, quick: bool = False, rounds: int | None = None, stream_mb: float | None = None,
              progress: Progress | None = None, suite: bool = True) -> dict[str, Any]:
    """The whole suite as one JSON-serialisable dict (see the package docstring)."""
    rounds = rounds or (3 if quick else 15)
    stream_mb = stream_mb if stream_mb is not None else (2.0 if quick else 12.0)
    engine = SuiteEngine.load() if suite else None
    with temp_workdir() as tmp:
        workdir = Path(tmp)
        if progress is not None:
            progress("generating inputs", 0, 1)
        cases = build_cases(workdir, engine)
        out: dict[str, Any] = {"machine": machine_info(), "settings": {"quick": quick, "rounds": rounds}}
        out.update(run_cases(cases, rounds, progress))
        if progress is not None:
            progress("streaming", 0, 1)
        stream_path = sized_file(int(stream_mb * 1e6), workdir)
        out["results"]["stream_memory"] = run_stream(stream_path, 1 if quick else 3)
    out["ddex_suite_installed"] = engine.version if engine is not None else None
    out["reference"] = REFERENCE
    out["bars"] = check_bars(out["results"])
    return out


def check_bars(results: dict[str, Any]) -> list[dict[str, Any]]:
    bars = []
    for case, limit, label in BARS:
        value = results.get(case, {}).get("median_s")
        bars.append({"case": case, "limit_s": limit, "median_s": value, "label": label,
                     "ok": value is not None and value < limit})
    return bars
