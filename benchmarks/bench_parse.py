"""Parse and stream benchmark (not a timed test): run ``.venv/bin/python benchmarks/bench_parse.py``.

1. ``parse`` vs a bare ``lxml.etree.fromstring`` of the same bytes (daddykev__Samples43_1_Audio.xml,
   75 KB): runs interleaved, many repetitions, medians and their ratio (target: ≤ 1.5×). Beside it,
   what the lazy model defers: "parse + read every field" (every field of every party, resource,
   release and deal read, ``bench.cases.read_every_field``; target ≤ 2×) and the eager extraction
   (``extract_message(lazy=False)``) + the same reads.
2. ``parse`` of generated ERN 4.3 messages of about 1 KB … 10 MB (target: ≤ 2× fromstring; the
   generator's smallest valid message is a few KB, so the 1 KB row shows that size); ``+fill``:
   parse + read every field, as a ratio to fromstring (target ≤ 2×).
3. ``stream`` of a generated 1 GB message in a child process, interleaved with a bare tag-filtered
   ``iterparse`` of the same file (each reported element cleared, its finished siblings deleted: the
   floor of any flat-memory reader) in another: throughputs, their ratio (target ≥ 0.8×) and peak
   RSS (target < 150 MB), measured by a launcher whose only child is the streaming process
   (RUSAGE_CHILDREN).

Parts 1 and 2 time the thread's CPU time (``--wall``: wall-clock time), part 3 each child's CPU time.
Options: ``--stream-mb N`` (default 1024), ``--stream-rounds N`` (interleaved pairs, default 2),
``--skip-stream``, ``--stream-only`` (part 3 alone), ``--repeat N``, ``--workdir DIR``, ``--wall``.
Generated files go to a temporary directory that is removed afterwards. Figures and the machine
they were measured on: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from ddex_otel.bench.cases import read_every_field
from ddex_otel.bench.runner import ITERPARSE_CHILD
from ddex_otel.ern import Message, extract, lazy, parse, safexml
from ddex_otel.ern.generator import write_message

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZES = (("1 KB", 1_000), ("10 KB", 10_000), ("100 KB", 100_000), ("1 MB", 1_000_000), ("10 MB", 10_000_000))


def samples_dir() -> Path:
    return Path(os.environ.get("DDEX_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "ddex-samples"))


# -------------------------------------------------------------------------------------- timing


#: What parts 1 and 2 time: the thread's CPU time (``--wall``: wall-clock time). On a shared machine the
#: wall clock also counts the time other jobs hold the cores, which swamps a millisecond figure.
CLOCK = time.thread_time


def interleaved(funcs: dict[str, Callable[[], object]], repeat: int, warmup: int = 20) -> dict[str, list[float]]:
    """Run the functions round-robin ``repeat`` times; per-function lists of seconds (``CLOCK``)."""
    for _ in range(warmup):
        for func in funcs.values():
            func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(repeat):
            for name, func in funcs.items():
                start = CLOCK()
                func()
                times[name].append(CLOCK() - start)
            if i % 50 == 49:
                gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f} ms"


materialised = read_every_field


def eager_parse(data: bytes, huge_tree: bool = False) -> Message:
    """``parse`` with every object read at once (``extract_message(lazy=False)``): the pre-lazy parse."""
    root = safexml.parse_xml(data, huge_tree=huge_tree)
    return lazy.extract_message(root, *extract.detect_version(root), lazy=False)


def bench_ratio(repeat: int) -> float:
    path = samples_dir() / "daddykev__Samples43_1_Audio.xml"
    data = path.read_bytes()
    times = interleaved(
        {"lxml": lambda: etree.fromstring(data), "parse": lambda: parse(data),
         "filled": lambda: materialised(parse(data)), "eager": lambda: materialised(eager_parse(data))},
        repeat,
    )
    lxml_median, parse_median = statistics.median(times["lxml"]), statistics.median(times["parse"])
    pair_ratios = [p / x for p, x in zip(times["parse"], times["lxml"], strict=True)]
    ratio = parse_median / lxml_median
    print(f"\n## parse vs lxml.etree.fromstring — {path.name} ({len(data)} bytes), {repeat} interleaved runs each")
    print(f"{'':40}{'median':>12}{'p10':>12}{'p90':>12}{'ratio':>8}")
    for name, label in (("lxml", "lxml.etree.fromstring"), ("parse", "ddex_otel.ern.parse"),
                        ("filled", "parse + read every field"), ("eager", "eager extraction + read every field")):
        q = statistics.quantiles(times[name], n=10)
        median = statistics.median(times[name])
        print(f"{label:40}{_ms(median)}{_ms(q[0])}{_ms(q[-1])}{median / lxml_median:>7.2f}x")
    print(f"ratio of medians: {ratio:.2f}x   median of pair ratios: {statistics.median(pair_ratios):.2f}x   (target <= 1.5x)")
    return ratio


def bench_sizes(workdir: Path) -> None:
    print("\n## parse of generated messages (ratios to lxml; target: parse <= 2x, +fill <= 2x)")
    print(f"{'target':>8}{'bytes':>12}{'releases':>10}{'parse':>14}{'lxml':>14}{'ratio':>8}{'MB/s':>9}{'+fill':>8}")
    for label, target in SIZES:
        path = workdir / f"gen_{target}.xml"
        size = write_message(path, target_bytes=target)
        data = path.read_bytes()
        releases = len(parse(data, huge_tree=True).releases)
        repeat = max(9, min(2000, int(2e7 / max(size, 1))))
        times = interleaved(
            {"lxml": lambda data=data: etree.fromstring(data, etree.XMLParser(huge_tree=True)),
             "parse": lambda data=data: parse(data, huge_tree=True),
             "filled": lambda data=data: materialised(parse(data, huge_tree=True))},
            repeat,
            warmup=min(20, repeat),
        )
        p, x = statistics.median(times["parse"]), statistics.median(times["lxml"])
        f = statistics.median(times["filled"])
        print(f"{label:>8}{size:>12}{releases:>10}{_ms(p):>14}{_ms(x):>14}{p / x:>7.2f}x{size / p / 1e6:>9.1f}{f / x:>7.2f}x")
        path.unlink()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from ddex_otel.ern import stream
    start = time.process_time()
    count = 0
    for _item in stream(sys.argv[1]):
        count += 1
    print(count, time.process_time() - start)
    """
)
_LAUNCHER = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run([sys.executable, "-c", *sys.argv[1:]], capture_output=True, text=True, check=True)
    print(done.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


def _child_run(child: str, path: Path, *args: str) -> tuple[int, float, int]:
    """(items or events, seconds, peak RSS in KiB) of one child process reading ``path``."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, child, str(path), *args], capture_output=True, text=True,
                          check=True)
    count, seconds, peak_kib = done.stdout.split()
    return int(count), float(seconds), int(peak_kib)


def bench_stream(workdir: Path, megabytes: int, rounds: int) -> None:
    path = workdir / f"stream_{megabytes}mb.xml"
    print(f"\n## stream of a generated {megabytes} MB message vs a bare tag-filtered iterparse "
          f"(child processes, {rounds} interleaved pairs)")
    start = time.perf_counter()
    size = write_message(path, target_bytes=megabytes * 1_000_000)
    print(f"generated {size} bytes in {time.perf_counter() - start:.1f} s")
    ours: list[float] = []
    bare: list[float] = []
    peak = items = 0
    try:
        for _ in range(rounds):
            events, seconds, _peak = _child_run(ITERPARSE_CHILD, path, "process_time")
            bare.append(seconds)
            print(f"  iterparse: {events} events  {seconds:.1f} s  {size / seconds / 1e6:.1f} MB/s")
            items, seconds, peak_kib = _child_run(_CHILD, path)
            ours.append(seconds)
            peak = max(peak, peak_kib)
            print(f"  stream:    {items} items  {seconds:.1f} s  {size / seconds / 1e6:.1f} MB/s  peak RSS {peak_kib / 1024:.1f} MiB")
    finally:
        path.unlink()
    s, b = statistics.median(ours), statistics.median(bare)
    pairs = [x / y for x, y in zip(bare, ours, strict=True)]
    print(f"items: {items}   stream {size / s / 1e6:.1f} MB/s   iterparse {size / b / 1e6:.1f} MB/s   "
          f"ratio of medians {b / s:.2f}x   pair ratios {', '.join(f'{p:.2f}' for p in pairs)} (target >= 0.8x)   "
          f"peak RSS: {peak / 1024:.1f} MiB (target < 150 MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000, help="interleaved runs for the ratio (default 2000)")
    parser.add_argument("--stream-mb", type=int, default=1024, help="size of the streamed message in MB")
    parser.add_argument("--stream-rounds", type=int, default=2, help="interleaved stream/iterparse pairs (default 2)")
    parser.add_argument("--skip-stream", action="store_true", help="skip the big streaming run")
    parser.add_argument("--stream-only", action="store_true", help="only the streaming run (no parse parts)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write generated files")
    parser.add_argument("--wall", action="store_true", help="time parts 1 and 2 in wall-clock, not CPU, time")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.thread_time
    print(f"python {sys.version.split()[0]}, lxml {etree.__version__}, libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}")
    if args.stream_only and args.skip_stream:
        parser.error("--stream-only and --skip-stream exclude each other")
    if not args.stream_only:
        bench_ratio(args.repeat)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="ddex-bench-") as tmp:
        if not args.stream_only:
            bench_sizes(Path(tmp))
        if not args.skip_stream:
            bench_stream(Path(tmp), args.stream_mb, args.stream_rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
