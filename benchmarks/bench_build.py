"""Build benchmark (not a timed test): run ``.venv/bin/python benchmarks/bench_build.py``.

For 1 / 100 / 1000 releases (10 tracks each) and each target version, the median over several
repetitions of: the whole ``build``, and each of its stages alone — ``validation.check`` (with the
target checks), ``assemble`` (model → lxml tree) and ``serialize`` (indent + tostring) — to show
where the time goes. The models come from the generator, parsed: ERN 3.8.2 has N albums; ERN 4.x
allows one main Release per message, so there N×10 tracks form one album plus a TrackRelease each
(see ``ddex_otel.ern.generator``). Options: ``--releases 1 100 1000``, ``--versions 4.3 3.8.2``.

Recorded 2026-11-26 (shared dev VM, Python 3.11, lxml 6.1; medians, ms):
    version releases resources  out MB   build  check  assemble  serialize
        4.3        1        10    0.02    1.50   0.27      0.83       0.25
        4.3      100      1000    1.41  131.93  25.44     79.24      34.45
        4.3     1000     10000   14.16  767.54 142.88    448.49     284.50
      3.8.2        1        10    0.01    0.60   0.10      0.33       0.09
      3.8.2      100      1000    1.11   98.51   8.87     33.92      17.40
      3.8.2     1000     10000   11.15  563.66 103.29    341.92     176.40
Assembling the lxml tree (one SubElement per XML element) is about 60 % of a build, serializing
20–35 %, validation 15–20 %. For comparison the text generator writes ~55 MB/s (1 GB in 18 s,
30 MB peak RSS).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from ddex_otel.ern import builder, parse, validation
from ddex_otel.ern.generator import generate_message
from ddex_otel.ern.model import Message


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (one warm-up run first, GC off while timing)."""
    fn()
    times = []
    for _ in range(repeat):
        gc.disable()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        gc.enable()
    return statistics.median(times)


def repeats_for(releases: int) -> int:
    return 30 if releases <= 1 else 9 if releases <= 100 else 5


def row(message: Message, version: str, repeat: int) -> dict[str, float]:
    """Stage and whole-build medians for one model and target version."""
    root = builder.assemble(message, version)
    out = {
        "build": median_seconds(lambda: builder.build(message, version), repeat),
        "check": median_seconds(lambda: validation.check(message, "warn", target_version=version), repeat),
        "assemble": median_seconds(lambda: builder.assemble(message, version), repeat),
        "serialize": median_seconds(lambda: builder.serialize(root), repeat),
    }
    out["bytes"] = len(builder.build(message, version))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--versions", nargs="+", default=["4.3", "3.8.2"])
    parser.add_argument("--tracks", type=int, default=10)
    args = parser.parse_args()

    header = (f"{'version':>7} {'releases':>8} {'resources':>9} {'rel.el.':>7} {'out MB':>7} {'build ms':>9} "
              f"{'check ms':>9} {'assemble ms':>11} {'serialize ms':>12} {'ser/build':>9} {'MB/s':>6}")
    print(header)
    print("-" * len(header))
    for version in args.versions:
        for releases in args.releases:
            message = parse(generate_message(releases, args.tracks, version, seed=0), huge_tree=True)
            r = row(message, version, repeats_for(releases))
            mb = r["bytes"] / 1e6
            print(f"{version:>7} {releases:>8} {len(message.resources):>9} {len(message.releases):>7} {mb:>7.2f} "
                  f"{r['build'] * 1e3:>9.2f} {r['check'] * 1e3:>9.2f} {r['assemble'] * 1e3:>11.2f} "
                  f"{r['serialize'] * 1e3:>12.2f} {r['serialize'] / r['build']:>9.0%} {mb / r['build']:>6.1f}")


if __name__ == "__main__":
    main()
