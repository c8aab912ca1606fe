"""The monitoring toolkit in one run: performance monitor, profiler (+ CSV), resource monitor.

    .venv/bin/python examples/monitoring_toolkit.py [FILE ...] [--endpoint http://127.0.0.1:4317] [--out DIR]

Telemetry is set up first (offline OTLP JSON files in ./telemetry/ unless --endpoint is given);
the monitor and the profiler then read the same ddex.* spans that are exported. Writes
profiles.csv and profiles.json to --out (default: the current directory).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import ddex_otel
from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.monitoring import PerformanceMonitor, Profiler, ResourceMonitor, monitored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--endpoint")
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    samples = Path(os.environ.get("DDEX_SAMPLES_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "ddex-samples"))
    files = args.files or [str(p) for p in sorted(samples.glob("*.xml"))]
    out = Path(args.out)

    # 1. Telemetry first, then the monitor on the same provider (the global one configure() set).
    handle = ddex_otel.configure(endpoint=args.endpoint, service_name="monitoring-example")
    monitor = PerformanceMonitor().attach()

    # 2. Work, watched by a resource monitor; some of it profiled.
    profiler = Profiler(sample_interval=0.05)
    with ResourceMonitor(interval=0.1) as resources:
        for path in files:
            try:
                with profiler.profile("parse", file=path):
                    message = ern.parse(path)
                profiler.profile_build(message, raise_errors=False)
            except DDEXError as exc:
                print(f"{path}: {type(exc).__name__}")
        try:  # your own measurement: a failure escaping the block is recorded as one
            with monitor.measure("bad-input", source="inline"):
                ern.parse(b"<NewReleaseMessage><unclosed></NewReleaseMessage>")
        except DDEXError:
            pass

    # 3. What the monitor saw.
    for name in monitor.names():
        s = monitor.stats(name)
        print(f"{name:<10} n={s['count']:<3} errors={s['errors']} mean={s['mean'] * 1e3:.2f} ms "
              f"p95={s['p95'] * 1e3:.2f} ms max={s['max'] * 1e3:.2f} ms")
    print("aggregates (last 5 min):", json.dumps(monitor.aggregates(start=time.time() - 300), indent=1))
    print("profiler summary:", json.dumps(profiler.summary(), indent=1))
    print("profiles:", profiler.export_csv(out / "profiles.csv"), profiler.export_json(out / "profiles.json"))
    print("resources:", resources.summary())

    # 4. A monitored function: (result, resource summary).
    count_releases = monitored(lambda p: len(ern.parse(p).releases))
    releases, summary = count_releases(files[0])
    print(f"monitored: {releases} releases, peak RSS {summary['peak_memory'] / 1e6:.1f} MB, {summary['samples']} samples")

    monitor.detach()
    profiler.close()
    handle.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
