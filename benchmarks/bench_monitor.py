"""Cost of ``PerformanceMonitor`` on ``ern.parse`` (a benchmark, not a timed test).

    .venv/bin/python benchmarks/bench_monitor.py [--rounds 15] [--ops 60] [--json out.json]

Same set-up and method as ``bench_overhead.py`` (its providers, variants and timing loop are
imported, not copied): interleaved rounds in shuffled order, the figure per variant is the median
over rounds of the mean process CPU time per parse, on the 75 KB sample Samples43_1_Audio.xml and
on a 1 KB message (where the fixed cost per operation dominates).

  baseline   not instrumented
  default    instrumented, SDK providers exporting to discarding exporters (default options)
  default-bis  the same as default again: the difference between the two is the run's noise
  monitored  default + a PerformanceMonitor attached to the same TracerProvider
  floor      not instrumented; one hand-written span + one histogram record per parse
             (the contract's cost-budget reference)

Then the monitor's span-processor cost alone: ``OperationSpanFeed.on_end`` with the monitor
subscribed, called on a real ended ``ddex.parse`` span (µs per call, median of repeats), and the
same with no subscriber (what stays registered after ``detach()``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_overhead import Variant, run_variants, samples_dir  # type: ignore[import-not-found]
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ddex_otel import ern
from ddex_otel.monitoring import PerformanceMonitor
from ddex_otel.monitoring.spanfeed import OperationSpanFeed
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor


class MonitoredVariant(Variant):
    """``default`` plus a PerformanceMonitor attached to the variant's TracerProvider."""

    def setup(self) -> Callable[[Any], Any]:
        parse = super().setup()
        self.monitor = PerformanceMonitor().attach(self.tp)
        return parse

    def teardown(self) -> None:
        self.monitor.detach()
        super().teardown()


def real_parse_span(source: str) -> Any:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    DDEXInstrumentor().instrument(tracer_provider=tp)
    try:
        ern.parse(source)
    finally:
        DDEXInstrumentor().uninstrument()
    return next(s for s in exporter.get_finished_spans() if s.name == "ddex.parse")


def on_end_cost(span: Any, subscribed: bool, calls: int = 20_000, repeats: int = 15) -> float:
    """Median µs per ``on_end`` call (process CPU time)."""
    feed = OperationSpanFeed()
    monitor = PerformanceMonitor()
    if subscribed:
        feed.add(monitor._on_span)  # what attach() subscribes
    on_end = feed.on_end
    per_call = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(calls):
            on_end(span)
        per_call.append((time.process_time() - t0) / calls * 1e6)
    if subscribed:
        assert monitor.count("parse") == min(calls * repeats, monitor.max_per_name)
    return statistics.median(per_call)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=60, help="parses per variant per round")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    sample = samples_dir() / "daddykev__Samples43_1_Audio.xml"
    if not sample.is_file():
        print(f"sample not found: {sample} (set DDEX_SAMPLES_DIR)", file=sys.stderr)
        return 2
    tiny = samples_dir() / "AudiusProject__03_delete.xml"
    print(f"python {sys.version.split()[0]}, rounds={args.rounds}, clock=process CPU; medians of per-round means")
    results: dict[str, Any] = {}
    for source, ops in ((sample, args.ops), (tiny, args.ops * 5)):
        if not source.is_file():
            continue
        variants = [
            Variant("baseline", instrument=False, sdk=False),
            Variant("default"),
            Variant("default-bis"),  # control: a second, identical default shows the run's noise
            MonitoredVariant("monitored"),
            Variant("floor", instrument=False, floor=True),
        ]
        print(f"\n{source.name} ({source.stat().st_size} B), {ops} parses/round")
        samples = run_variants(variants, str(source), args.rounds, ops, time.process_time)
        medians = {name: statistics.median(values) for name, values in samples.items()}
        base = medians["baseline"]
        for name, seconds in medians.items():
            print(f"  {name:<10} {seconds * 1e6:>9.1f} µs/parse  {(seconds / base - 1) * 100:+6.2f}% vs baseline")
        ratio = medians["monitored"] / medians["default"]
        extra_us = (medians["monitored"] - medians["default"]) * 1e6
        floor_us = (medians["floor"] - base) * 1e6
        noise_us = (medians["default-bis"] - medians["default"]) * 1e6
        print(f"  monitored / default = {ratio:.4f} ({(ratio - 1) * 100:+.2f}%), {extra_us:+.1f} µs/parse; "
              f"control default-bis − default: {noise_us:+.1f} µs/parse; "
              f"the floor's span + histogram: {floor_us:.1f} µs/parse")
        results[source.name] = {
            "us_per_parse": {k: v * 1e6 for k, v in medians.items()},
            "monitored_over_default": ratio,
            "extra_us_per_parse": extra_us,
            "floor_us_per_parse": floor_us,
            "control_noise_us_per_parse": noise_us,
        }

    span = real_parse_span(str(sample))
    subscribed_us = on_end_cost(span, subscribed=True)
    idle_us = on_end_cost(span, subscribed=False)
    print(f"\nspan processor on_end (real ddex.parse span): {subscribed_us:.2f} µs/span with the monitor "
          f"subscribed, {idle_us:.3f} µs/span with no subscriber")
    results["on_end_us"] = subscribed_us
    results["on_end_idle_us"] = idle_us
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
