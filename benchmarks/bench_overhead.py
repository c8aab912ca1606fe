"""Overhead of the ddex_otel instrumentation on ``ern.parse`` (a benchmark, not a timed test).

    .venv/bin/python benchmarks/bench_overhead.py [--rounds 101] [--ops 12] [--json out.json]

Variants, run in interleaved rounds (each round runs every variant once, in a shuffled order, so
drift in machine speed hits all of them alike):

  baseline        not instrumented
  default         instrumented, SDK TracerProvider (always-on sampler) + our DeliverySpanProcessor
                  and MeterProvider + PeriodicExportingMetricReader, both exporting to discarding
                  exporters; default options (one span with its attributes, one duration histogram
                  record, stage timings into the observable totals; no stage attributes, no
                  per-operation CPU/memory)
  resource-usage  default with per-operation CPU time and memory growth (``resource_usage=True``,
                  what an attached performance monitor or profiler turns on)
  stage-attributes default + the ddex.stage.<stage>.duration span attributes (``stage_attributes=True``)
  stage-spans     default + stage child spans (ddex.parse.read …)
  lean            default without the stage totals (``stage_metrics=False``)
  ratio-10%       default with a 10 % TraceIdRatioBased sampler
  non-sampled     SDK with the always-off sampler (spans not recorded; metrics still on)
  disabled        instrumented with the API's no-op providers (no SDK)
  no-sdk          instrumented with no providers given and none set globally: what an application that
                  instruments without configuring an SDK runs (the API's proxies, waiting for one)
  floor           not instrumented; around each parse, through the public API only, one span
                  (``start_as_current_span``, the SDK's BatchSpanProcessor) and one histogram record:
                  the least any span-and-metric instrumentation can cost (the contract's reference)
  floor+attrs     the floor plus, set once per parse with ``span.set_attributes`` inside the floor's
                  span, the attributes default puts on the same input's ``ddex.parse`` span (taken at
                  setup from one instrumented parse recorded by an InMemorySpanExporter). The SDK
                  checks each attribute in Python, so this is what the contract's attributes cost on
                  their own, through the public API: the share of the floor they take, and default
                  measured against a reference that carries the same attributes
  floor-ratio-10% the floor under the 10 % TraceIdRatioBased sampler (the reference for ratio-10%)
  floor+attrs-ratio-10% floor+attrs under the same sampler (the attributes set on the sampled tenth)
  floor-manual    the floor hand-bracketed (start_span, attach, record, detach, end), for reference

Two inputs: the DDEX sample Samples43_1_Audio.xml (75 KB) and a 1 KB message, where the fixed
cost per operation dominates. A variant's cost is the median over rounds of (its block's time per
parse − the baseline block's in the same round): paired, so drift in machine speed cancels.
Against the floor: the ratio of median costs with its 95 % bootstrap interval over rounds; the same
for floor+attrs against the floor and for default against floor+attrs, with the number of attributes.
Budget (telemetry contract, "Cost budget"): default ≤ 1.2× the floor with the interval's upper end
≤ 1.3×; ratio-10% ≤ 1.2× floor-ratio-10%; disabled ≤ 1 % over the baseline; resource-usage
reported against the floor (goal ≤ 1.5×). Measured figures: docs/benchmarks.md.

The same costs counted in instructions, which load does not change: ``--probe VARIANT --calls N
[--inputs tiny|sample]`` only makes N parses under one variant (no metric collection during the run),
for ``valgrind --tool=callgrind``; instructions per parse = (I refs at N − I refs at 0) / N:

    for v in baseline floor floor+attrs default; do for n in 0 2000; do
      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python benchmarks/bench_overhead.py --probe $v --calls $n --inputs tiny 2>&1 | grep refs; done; done

And in Python bytecodes, counted by a tracer, without valgrind: ``--bytecodes [--only …]`` counts
the bytecodes one parse executes under each variant, by where the code lives (our telemetry, our
engine, OpenTelemetry, the rest), and each variant's added count against the floor's. Bytecodes are
not equal in cost (C calls inside them are not counted), so this says where the Python work is,
not what it costs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, TraceIdRatioBased

from ddex_otel import ern
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

REPO = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    return Path(os.environ.get("DDEX_SAMPLES_DIR") or REPO.parent / "shared" / "ddex-samples")


class DiscardSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DiscardMetrics(MetricExporter):
    def __init__(self) -> None:
        super().__init__()

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


#: "batch": the SDK's BatchSpanProcessor; "delivery": ours (what configure() installs). Set by --span-processor.
SPAN_PROCESSOR = "delivery"


def span_processor(kind: str | None = None, queue: int | None = None) -> Any:
    if (kind or SPAN_PROCESSOR) == "delivery":
        from ddex_otel.telemetry.delivery import DeliverySettings, DeliverySpanProcessor

        return DeliverySpanProcessor(DiscardSpans(), DeliverySettings(max_queue_size=queue) if queue else None)
    return BatchSpanProcessor(DiscardSpans(), max_queue_size=queue)


#: Milliseconds between the metric reader's collections (``--probe``: none during the run, whose
#: length under callgrind would otherwise decide how many are counted).
EXPORT_INTERVAL_MS = 5_000


def sdk_providers(sampler: Any = ALWAYS_ON, processor: str | None = None) -> tuple[TracerProvider, MeterProvider]:
    tp = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    tp.add_span_processor(span_processor(processor))
    reader = PeriodicExportingMetricReader(DiscardMetrics(), export_interval_millis=EXPORT_INTERVAL_MS)
    mp = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    return tp, mp


def operation_attributes(instrumentor: Any, call: Callable[[], Any], span_name: str = "ddex.parse") -> dict[str, Any]:
    """The attributes of the ``span_name`` span that ``call()`` makes under ``instrumentor`` with its default
    options, on the instrumented variants' SDK providers plus an InMemorySpanExporter (``call`` must look
    the instrumented function up when it runs)."""
    exporter = InMemorySpanExporter()
    tp, mp = sdk_providers()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor.instrument(tracer_provider=tp, meter_provider=mp)
    try:
        call()
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
        mp.shutdown()
    spans = [span for span in exporter.get_finished_spans() if span.name == span_name]
    if len(spans) != 1:
        raise RuntimeError(f"expected one {span_name} span, got {len(spans)}")
    return dict(spans[0].attributes or {})


def parse_attributes(source: Any) -> dict[str, Any]:
    """The attributes default puts on the ``ddex.parse`` span of ``ern.parse(source)``."""
    return operation_attributes(DDEXInstrumentor(), lambda: ern.parse(source))


def floor(call: Callable[[Any], Any], tracer: Any, histogram: Any,
          span_attributes: dict[str, Any] | None = None) -> Callable[[Any], Any]:
    """``call`` inside the contract's floor: one span (``start_as_current_span``) and one histogram
    record, through the public API; with ``span_attributes``, also set on the span once per call."""
    attrs = {"ddex.operation.name": "parse"}
    perf_counter = time.perf_counter
    if span_attributes is not None:
        def floor_attrs_call(source: Any) -> Any:
            t0 = perf_counter()
            with tracer.start_as_current_span("floor") as span:
                span.set_attributes(span_attributes)
                result = call(source)
                histogram.record(perf_counter() - t0, attrs)
            return result

        return floor_attrs_call

    def floor_call(source: Any) -> Any:
        t0 = perf_counter()
        with tracer.start_as_current_span("floor"):
            result = call(source)
            histogram.record(perf_counter() - t0, attrs)
        return result

    return floor_call


class Variant:
    """Sets itself up before a timed block and tears down after it."""

    def __init__(self, name: str, options: dict[str, Any] | None = None, sampler: Any = ALWAYS_ON,
                 sdk: bool = True, instrument: bool = True, floor: bool = False, manual: bool = False,
                 span_attributes: dict[str, Any] | None = None, global_providers: bool = False) -> None:
        """``span_attributes`` (floor only): set on the floor's span once per call.
        ``global_providers``: instrument without giving providers (the API's global proxies)."""
        self.name = name
        self.global_providers = global_providers
        self.options = options or {}
        self.floor = floor
        self.manual = manual
        self.span_attributes = span_attributes
        self.instrument = instrument
        if sdk:
            # The floor is always the SDK's own span + histogram (BatchSpanProcessor): the budget's reference.
            self.tp, self.mp = sdk_providers(sampler, "batch" if floor else None)
        else:
            self.tp, self.mp = trace_api.NoOpTracerProvider(), metrics_api.NoOpMeterProvider()
        tracer = self.tp.get_tracer("floor")
        histogram = self.mp.get_meter("floor").create_histogram("floor.duration", unit="s")
        self._floor_tracer, self._floor_histogram = tracer, histogram

    def setup(self) -> Callable[[Any], Any]:
        if self.instrument and self.global_providers:
            DDEXInstrumentor().instrument(**self.options)
        elif self.instrument:
            DDEXInstrumentor().instrument(tracer_provider=self.tp, meter_provider=self.mp, **self.options)
        if not self.floor:
            return ern.parse
        tracer, histogram, parse = self._floor_tracer, self._floor_histogram, ern.parse
        attrs = {"ddex.operation.name": "parse"}
        perf_counter = time.perf_counter
        if self.manual:
            attach, detach, in_context = otel_context.attach, otel_context.detach, trace_api.set_span_in_context

            def manual_parse(source: Any) -> Any:
                t0 = perf_counter()
                span = tracer.start_span("floor")
                token = attach(in_context(span))
                try:
                    return parse(source)
                finally:
                    detach(token)
                    histogram.record(perf_counter() - t0, attrs)
                    span.end()

            return manual_parse

        return floor(parse, tracer, histogram, self.span_attributes)

    def teardown(self) -> None:
        if self.instrument:
            DDEXInstrumentor().uninstrument()

    def close(self) -> None:
        for provider in (self.tp, self.mp):
            shutdown = getattr(provider, "shutdown", None)
            if shutdown is not None:
                shutdown()


def variants(span_attributes: dict[str, Any] | None = None) -> list[Variant]:
    """``span_attributes``: those of the input's ``ddex.parse`` span, for floor+attrs (left out without them)."""
    floor_attrs = [] if span_attributes is None else [
        Variant("floor+attrs", instrument=False, floor=True, span_attributes=span_attributes),
        Variant("floor+attrs-ratio-10%", instrument=False, floor=True, sampler=TraceIdRatioBased(0.1),
                span_attributes=span_attributes)]
    return [
        Variant("baseline", instrument=False, sdk=False),
        Variant("default"),
        Variant("resource-usage", {"resource_usage": True}),
        Variant("stage-attributes", {"stage_attributes": True}),
        Variant("stage-spans", {"stage_spans": True}),
        Variant("lean", {"stage_metrics": False}),
        Variant("ratio-10%", sampler=TraceIdRatioBased(0.1)),
        Variant("non-sampled", sampler=ALWAYS_OFF),
        Variant("disabled", sdk=False),
        Variant("no-sdk", sdk=False, global_providers=True),
        Variant("floor", instrument=False, floor=True),
        *floor_attrs,
        Variant("floor-ratio-10%", instrument=False, floor=True, sampler=TraceIdRatioBased(0.1)),
        Variant("floor-manual", instrument=False, floor=True, manual=True),
    ]


def time_block(parse: Callable[[Any], Any], source: Any, ops: int, clock: Callable[[], float]) -> float:
    """Mean seconds per parse over ``ops`` calls (after two warm-up calls)."""
    parse(source)
    parse(source)
    gc.collect()
    t0 = clock()
    for _ in range(ops):
        parse(source)
    return (clock() - t0) / ops


def run(source: Any, rounds: int, ops: int, clock: Callable[[], float], seed: int = 1,
        only: Sequence[str] = (), span_attributes: dict[str, Any] | None = None) -> dict[str, list[float]]:
    """``only``: names of the variants to run (baseline and floor always run: every figure needs them).
    ``span_attributes``: see ``variants``."""
    chosen = [v for v in variants(span_attributes) if not only or v.name in only or v.name in ("baseline", "floor")]
    return run_variants(chosen, source, rounds, ops, clock, seed)


def run_variants(
    vs: list[Variant], source: Any, rounds: int, ops: int, clock: Callable[[], float], seed: int = 1
) -> dict[str, list[float]]:
    """Each variant's mean seconds per parse in each of ``rounds`` interleaved rounds (same order for all)."""
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {v.name: [] for v in vs}
    try:
        for _ in range(rounds):
            order = vs[:]
            rng.shuffle(order)
            for v in order:
                parse = v.setup()
                try:
                    samples[v.name].append(time_block(parse, source, ops, clock))
                finally:
                    v.teardown()
    finally:
        for v in vs:
            v.close()
    return samples


def bootstrap_ratio(costs: list[float], floor_costs: list[float], resamples: int = 2000,
                    seed: int = 7) -> tuple[float, float]:
    """95 % interval of median(costs) / median(floor_costs), resampling whole rounds (pairs stay paired)."""
    rng = random.Random(seed)
    n = len(costs)
    ratios = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        floor = statistics.median(floor_costs[i] for i in idx)
        if floor > 0:
            ratios.append(statistics.median(costs[i] for i in idx) / floor)
    ratios.sort()
    if not ratios:
        return float("nan"), float("nan")
    return ratios[int(0.025 * len(ratios))], ratios[min(len(ratios) - 1, int(0.975 * len(ratios)))]


def report(title: str, samples: dict[str, list[float]], span_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Medians per variant, paired costs (variant − baseline of the same round) and, against the
    floor, the ratio of median costs with its 95 % bootstrap interval over rounds; the same for default
    against floor+attrs (``span_attributes``: what floor+attrs set)."""
    base_runs = samples["baseline"]
    base = statistics.median(base_runs)
    print(f"\n{title}")
    print(f"  {'variant':<22} {'µs/parse':>10} {'cost µs/op':>11} {'vs baseline':>12} {'vs floor':>9}  {'95 % CI':>13}")
    per_round = {name: [v - b for v, b in zip(values, base_runs, strict=True)] for name, values in samples.items()}
    costs = {name: statistics.median(values) for name, values in per_round.items()}
    floor = costs.get("floor") or float("nan")
    rows = {}
    for name, values in samples.items():
        seconds = statistics.median(values)
        cost = costs[name]
        row: dict[str, Any] = {"us_per_op": seconds * 1e6, "overhead": cost / base, "extra_us": cost * 1e6,
                               "vs_floor": cost / floor if floor > 0 else None}
        vs_floor = f"{'':>9}  {'':>13}"
        if floor > 0 and name not in ("baseline", "floor"):
            low, high = bootstrap_ratio(per_round[name], per_round["floor"])
            row["vs_floor_ci95"] = [low, high]
            vs_floor = f"{cost / floor:>8.2f}×  {low:>5.2f}–{high:.2f}×"
        elif name == "floor":
            vs_floor = f"{1.0:>8.2f}×  {'':>13}"
        rows[name] = row
        print(f"  {name:<22} {seconds * 1e6:>10.1f} {cost * 1e6:>11.1f} {cost / base * 100:>+11.2f}% {vs_floor}")
    ratio_floor = costs.get("floor-ratio-10%")
    if "ratio-10%" in rows and ratio_floor and ratio_floor > 0:  # against the floor under the same sampler
        low, high = bootstrap_ratio(per_round["ratio-10%"], per_round["floor-ratio-10%"])
        rows["ratio-10%"]["vs_floor-ratio-10%"] = costs["ratio-10%"] / ratio_floor
        rows["ratio-10%"]["vs_floor-ratio-10%_ci95"] = [low, high]
        print(f"  ratio-10% vs floor-ratio-10%: {costs['ratio-10%'] / ratio_floor:.2f}×  {low:.2f}–{high:.2f}×")
    if "floor+attrs" in rows:
        count = len(span_attributes or {})
        rows["floor+attrs"]["attributes"] = count
        rows["floor+attrs"]["attribute_keys"] = sorted(span_attributes or {})
        if "vs_floor_ci95" in rows["floor+attrs"]:
            low, high = rows["floor+attrs"]["vs_floor_ci95"]
            print(f"  floor+attrs vs floor: {rows['floor+attrs']['vs_floor']:.2f}×  {low:.2f}–{high:.2f}×  "
                  f"({count} span attributes, set once per parse)")
        attrs_floor = costs["floor+attrs"]
        if "default" in rows and attrs_floor > 0:
            low, high = bootstrap_ratio(per_round["default"], per_round["floor+attrs"])
            rows["default"]["vs_floor+attrs"] = costs["default"] / attrs_floor
            rows["default"]["vs_floor+attrs_ci95"] = [low, high]
            print(f"  default vs floor+attrs: {costs['default'] / attrs_floor:.2f}×  {low:.2f}–{high:.2f}×")
    attrs_ratio_floor = costs.get("floor+attrs-ratio-10%")
    if "ratio-10%" in rows and attrs_ratio_floor and attrs_ratio_floor > 0:
        low, high = bootstrap_ratio(per_round["ratio-10%"], per_round["floor+attrs-ratio-10%"])
        rows["ratio-10%"]["vs_floor+attrs-ratio-10%"] = costs["ratio-10%"] / attrs_ratio_floor
        rows["ratio-10%"]["vs_floor+attrs-ratio-10%_ci95"] = [low, high]
        print(f"  ratio-10% vs floor+attrs-ratio-10%: {costs['ratio-10%'] / attrs_ratio_floor:.2f}×  {low:.2f}–{high:.2f}×")
    return rows


def bench_on_end(spans: int = 20_000, rounds: int = 7) -> dict[str, float]:
    """ns per ``on_end`` call of each processor, on already-ended sampled spans (the hot-path part we own)."""
    tp = TracerProvider(shutdown_on_exit=False)
    tracer = tp.get_tracer("bench")
    ended = []
    for _ in range(spans):
        span = tracer.start_span("s")
        span.end()
        ended.append(span)
    out: dict[str, float] = {}
    for kind in ("batch", "delivery"):
        samples = []
        for _ in range(rounds):
            processor = span_processor(kind, queue=spans)  # the same room in both: no "queue full" path
            on_end = processor.on_end
            t0 = time.perf_counter()
            for span in ended:
                on_end(span)
            samples.append((time.perf_counter() - t0) / spans * 1e9)
            processor.shutdown()
        out[kind] = statistics.median(samples)
    print(f"on_end: BatchSpanProcessor {out['batch']:.0f} ns, DeliverySpanProcessor {out['delivery']:.0f} ns "
          f"(median of {rounds} rounds of {spans} spans)")
    return out


def verdict(name: str, rows: dict[str, Any], variant: str = "default", floor: str = "floor",
            budget: float = 1.2, ceiling: float | None = 1.3) -> str:
    """One line on the budget: the median ratio ≤ ``budget`` and the 95 % interval's upper end ≤ ``ceiling``."""
    row, ref = rows.get(variant), rows.get(floor)
    if not row or not ref or row.get(f"vs_{floor}") is None:
        return ""
    ratio = row[f"vs_{floor}"]
    low, high = row.get(f"vs_{floor}_ci95", [float("nan")] * 2)
    met = ratio <= budget and (ceiling is None or high <= ceiling)
    limit = f"≤ {budget}×" + (f", upper end ≤ {ceiling}×" if ceiling is not None else "")
    return (f"{name}: {variant} {row['extra_us']:.1f} µs/op = {ratio:.2f}× {floor}'s {ref['extra_us']:.1f} µs "
            f"(95 % CI {low:.2f}–{high:.2f}×; goal {limit}: {'met' if met else 'not met'})")


def probe(name: str, source: str, calls: int) -> int:
    """Only ``calls`` parses of ``source`` under variant ``name`` (after 20 unmeasured ones), for
    callgrind: instructions per parse = (I refs at N − I refs at 0) / N."""
    global EXPORT_INTERVAL_MS
    EXPORT_INTERVAL_MS = 10**9
    attrs = parse_attributes(source) if name.startswith("floor+attrs") else None
    (variant,) = [v for v in variants(attrs) if v.name == name]
    parse = variant.setup()
    for _ in range(20):
        parse(source)
    for _ in range(calls):
        parse(source)
    variant.teardown()
    os._exit(0)  # no shutdown: its exports would be counted too


def _code_owner(filename: str) -> str:
    """Where a code object lives, for ``count_bytecodes``."""
    path = filename.replace("\\", "/")
    for marker, owner in (("ddex_otel/telemetry/", "ddex_otel.telemetry"), ("ddex_otel/ern/", "ddex_otel.ern"),
                          ("opentelemetry/", "opentelemetry")):
        if marker in path:
            return owner
    return "other"


def count_bytecodes(call: Callable[[Any], Any], source: Any, calls: int = 20) -> dict[str, float]:
    """Python bytecodes per ``call(source)``, by where the code lives (after 20 uncounted calls)."""
    for _ in range(20):
        call(source)
    counts: dict[str, int] = {}
    owners: dict[Any, str] = {}

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            owner = owners.get(code)
            if owner is None:
                owner = owners[code] = _code_owner(code.co_filename)
            counts[owner] = counts.get(owner, 0) + 1
        return tracer

    sys.settrace(tracer)
    try:
        for _ in range(calls):
            call(source)
    finally:
        sys.settrace(None)
    return {owner: n / calls for owner, n in sorted(counts.items())}


def report_bytecodes(only: Sequence[str], inputs: dict[str, Path]) -> dict[str, Any]:
    """``--bytecodes``: each variant's bytecodes per parse (and by owner), and against the floor."""
    owners = ("ddex_otel.telemetry", "ddex_otel.ern", "opentelemetry", "other")
    results: dict[str, Any] = {}
    for label, path in inputs.items():
        source = str(path)
        attrs = parse_attributes(source)
        chosen = [v for v in variants(attrs) if v.name in ("baseline", "floor") or v.name in only]
        counted: dict[str, dict[str, float]] = {}
        try:
            for v in chosen:
                call = v.setup()
                try:
                    counted[v.name] = count_bytecodes(call, source)
                finally:
                    v.teardown()
        finally:
            for v in chosen:
                v.close()
        base = sum(counted["baseline"].values())
        floor_added = sum(counted["floor"].values()) - base
        print(f"\n{path.name}: Python bytecodes per parse")
        print(f"  {'variant':<22} {'total':>7} {'added':>7} {'vs floor':>9}  " + "".join(f"{o:>20}" for o in owners))
        for name, counts in counted.items():
            total = sum(counts.values())
            added = total - base
            vs = f"{added / floor_added:>8.2f}×" if name not in ("baseline",) and floor_added > 0 else f"{'':>9}"
            print(f"  {name:<22} {total:>7.0f} {added:>7.0f} {vs}  " + "".join(f"{counts.get(o, 0):>20.0f}" for o in owners))
        results[label] = counted
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=101)
    parser.add_argument("--ops", type=int, default=12, help="parses per variant per round (sample input; ×10 for 1 KB)")
    parser.add_argument("--only", default="", help="comma-separated variants to run (baseline and floor always run)")
    parser.add_argument("--inputs", default="sample,tiny", help="comma-separated: sample (75 KB), tiny (1 KB)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--clock", choices=("cpu", "wall"), default="cpu",
        help="cpu: process CPU time (all our threads, immune to other processes on a shared box; default); "
        "wall: perf_counter",
    )
    parser.add_argument("--span-processor", choices=("delivery", "batch"), default="delivery",
                        help="processor of the instrumented variants: delivery (ours, configure()'s default) "
                        "or batch (the SDK's BatchSpanProcessor); the floor always uses batch")
    parser.add_argument("--on-end-only", action="store_true", help="only the on_end micro-benchmark")
    parser.add_argument("--probe", metavar="VARIANT",
                        help="only make --calls parses of one input under VARIANT (for callgrind; see the docstring)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--bytecodes", action="store_true",
                        help="only count the Python bytecodes of one parse under each variant (see the docstring)")
    args = parser.parse_args(argv)
    global SPAN_PROCESSOR
    SPAN_PROCESSOR = args.span_processor
    if args.probe:
        name = "daddykev__Samples43_1_Audio.xml" if args.inputs.startswith("sample") else "AudiusProject__03_delete.xml"
        return probe(args.probe, str(samples_dir() / name), args.calls)
    if args.bytecodes:
        wanted = [name for name in args.inputs.split(",") if name]
        files = {"sample": "daddykev__Samples43_1_Audio.xml", "tiny": "AudiusProject__03_delete.xml"}
        counted = report_bytecodes(tuple(name for name in args.only.split(",") if name),
                                   {name: samples_dir() / files[name] for name in wanted})
        if args.json:
            Path(args.json).write_text(json.dumps(counted, indent=2))
        return 0
    results_on_end = bench_on_end()
    if args.on_end_only:
        return 0

    only = tuple(name for name in args.only.split(",") if name)
    inputs = {name for name in args.inputs.split(",") if name}
    sample = samples_dir() / "daddykev__Samples43_1_Audio.xml"
    tiny = samples_dir() / "AudiusProject__03_delete.xml"
    if not sample.is_file():
        print(f"sample not found: {sample} (set DDEX_SAMPLES_DIR)", file=sys.stderr)
        return 2
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"python {sys.version.split()[0]}, rounds={args.rounds}, clock={args.clock}; medians of per-round "
          "means; 95 % CI: bootstrap over rounds")
    results: dict[str, Any] = {"clock": args.clock, "span_processor": args.span_processor, "on_end": results_on_end}
    if "sample" in inputs:
        attrs = parse_attributes(str(sample))
        results["sample"] = report(f"{sample.name} ({sample.stat().st_size} B), {args.ops} parses/round",
                                   run(str(sample), args.rounds, args.ops, clock, only=only, span_attributes=attrs),
                                   attrs)
    if "tiny" in inputs and tiny.is_file():
        attrs = parse_attributes(str(tiny))
        results["tiny"] = report(f"{tiny.name} ({tiny.stat().st_size} B), {args.ops * 10} parses/round",
                                 run(str(tiny), args.rounds, args.ops * 10, clock, only=only, span_attributes=attrs),
                                 attrs)
    print()
    for key, label in (("sample", f"{sample.name}"), ("tiny", "1 KB message")):
        rows = results.get(key)
        if not rows:
            continue
        for line in (verdict(label, rows), verdict(label, rows, "ratio-10%", "floor-ratio-10%"),
                     verdict(label, rows, "resource-usage", budget=1.5, ceiling=None)):
            if line:
                print(line)
        for name in ("disabled", "no-sdk"):
            if name in rows:
                print(f"{label}: {name} {rows[name]['overhead'] * 100:+.2f}% over the baseline (goal ≤ +1 %)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
