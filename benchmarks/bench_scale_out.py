"""Scale-out on Celery workers, measured (a benchmark, not a timed test).

    .venv/bin/python benchmarks/bench_scale_out.py [--workers 1 2 4] [--rounds 3] [--no-flush-variant] [--json out.json]

All real, on 127.0.0.1 (``ddex_otel.stack.fleet``): Redis, N Celery worker processes (``--pool
solo``, each its own host.name and agent collector), the gateway collector, Jaeger on Badger.

1. throughput: files per second for 1, 2 and 4 worker processes on the same inputs, two
   workloads: ``small`` (the DDEX samples, repeated: 1-75 KB, ~2 ms of engine time each; the
   per-task cost of Celery and telemetry dominates) and ``large`` (generated 2 MB ERN 4.3
   messages, ~80 ms each; the engine dominates). ``--rounds`` rounds, each starting a fresh fleet
   per worker count in a shuffled order (a shared machine's drifting load hits all alike); one
   batch per visit after a warm-up batch; the figure is the median over rounds;
   efficiency = rate(N) / (N x rate(1)).
2. gateway: spans per second accepted by the gateway during the largest run, and what it
   refused, failed to send or failed to enqueue (its own ``otelcol_*`` metrics): must be zero.
3. latency: submit of a one-file batch → its worker's task span visible in Jaeger's API (median
   and max of ``--latency-samples``), with the shipped batching (agent 200 ms, gateway 1 s,
   Jaeger 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ddex_otel.stack.fleet import Fleet  # noqa: E402
from ddex_otel.stack.query import get_json  # noqa: E402

SAMPLES = Path(os.environ.get("DDEX_SAMPLES_DIR", REPO.parent / "shared" / "ddex-samples"))


class SwitchableExporter:
    """A span exporter whose target changes with each fleet (one global provider per process)."""

    target: Any = None

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        return self.target.export(spans) if self.target is not None else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def submitter_provider(exporter: SwitchableExporter):
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "ddex-bench-submitter"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    return provider


def gateway_counters(fleet: Fleet) -> dict[str, float]:
    """Sum of each otelcol_* span counter the gateway exposes about itself."""
    with urllib.request.urlopen(fleet.gateway_metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    wanted = ("otelcol_receiver_accepted_spans", "otelcol_receiver_refused_spans",
              "otelcol_exporter_sent_spans", "otelcol_exporter_send_failed_spans",
              "otelcol_exporter_enqueue_failed_spans", "otelcol_processor_refused_spans",
              "otelcol_processor_dropped_spans")
    out = dict.fromkeys(wanted, 0.0)
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0].removesuffix("_total")
        if name in out:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


def make_inputs(root: Path) -> dict[str, list[Path]]:
    from ddex_otel.ern.generator import write_message

    samples = sorted(SAMPLES.glob("*.xml"))
    if not samples:
        raise SystemExit(f"no DDEX samples in {SAMPLES} (set DDEX_SAMPLES_DIR)")
    small = []
    for i in range(10):  # the samples, 10 times over (distinct paths, same bytes)
        for s in samples:
            target = root / "small" / f"{i:02d}-{s.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s, target)
            small.append(target)
    large = []
    for i in range(24):
        target = root / "large" / f"catalogue-{i:02d}.xml"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_message(target, target_bytes=2_000_000, seed=i)
        large.append(target)
    return {"small": small, "large": large}


def run_batch(fleet: Fleet, paths: list[Path]) -> tuple[float, Any]:
    from ddex_otel.distributed import submit_batch

    t0 = time.perf_counter()
    result = submit_batch(paths, fleet.broker_url, timeout=600)
    seconds = time.perf_counter() - t0
    if result.failed:
        raise SystemExit(f"{result.failed} files failed: {[f.error for f in result.files if not f.ok][:3]}")
    return seconds, result


def _load_process(endpoint: str, spans: int) -> None:
    """Send ``spans`` small spans to ``endpoint`` as fast as the SDK's batch processor allows."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "ddex-bench-load"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True),
                                                   max_queue_size=spans + 1, max_export_batch_size=min(2048, spans),
                                                   schedule_delay_millis=100))
    tracer = provider.get_tracer("bench")
    for i in range(spans):
        with tracer.start_as_current_span("ddex.parse", attributes={"ddex.operation.name": "parse", "i": i}):
            pass
    provider.force_flush(120_000)
    provider.shutdown()


def saturate_gateway(fleet: Fleet, spans: int, processes: int = 2) -> dict[str, float]:
    """Two processes flood the gateway's OTLP port; accepted spans/s and every drop counter."""
    import multiprocessing

    endpoint = f"http://127.0.0.1:{fleet.ports['gateway_otlp_grpc']}"
    before = gateway_counters(fleet)
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_load_process, args=(endpoint, spans)) for _ in range(processes)]
    for p in procs:
        p.start()
    target = before["otelcol_receiver_accepted_spans"] + spans * processes
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        now = gateway_counters(fleet)
        if now["otelcol_receiver_accepted_spans"] + now["otelcol_receiver_refused_spans"] >= target:
            break
        if not any(p.is_alive() for p in procs) and any(p.exitcode for p in procs):
            raise SystemExit("a load process failed (see its traceback above)")
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join(60)
    time.sleep(2)
    after = gateway_counters(fleet)
    delta = {k.removeprefix("otelcol_"): after[k] - before[k] for k in after}
    return {"spans_sent": spans * processes, "seconds": seconds,
            "spans_per_second": delta["receiver_accepted_spans"] / seconds, **delta}


def wait_for_span(fleet: Fleet, trace_id: str, name: str, timeout: float = 30.0) -> float:
    """perf_counter() when Jaeger's API first returns span ``name`` of ``trace_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = get_json(f"{fleet.jaeger_url}/api/traces/{trace_id}")["data"]
            if data and any(s["operationName"] == name for s in data[0]["spans"]):
                return time.perf_counter()
        except urllib.error.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"span {name} of {trace_id} not in Jaeger within {timeout}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=3, help="each worker count once per round (shuffled)")
    parser.add_argument("--no-flush-variant", action="store_true",
                        help="also 1 worker with DDEX_CELERY_FLUSH=0 (the cost of the per-task span flush)")
    parser.add_argument("--latency-samples", type=int, default=10)
    parser.add_argument("--load-spans", type=int, default=60_000,
                        help="spans per load process sent straight to the gateway (2 processes)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--bin-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the fleet's processes on the way out

    report: dict[str, Any] = {"cpus": os.cpu_count(), "throughput": {}, "gateway": None, "latency": None}
    with tempfile.TemporaryDirectory(prefix="ddex-scale-out-") as tmp:
        root = Path(tmp)
        inputs = make_inputs(root)
        exporter = SwitchableExporter()
        provider = submitter_provider(exporter)
        # Rounds: every configuration once per round, in a shuffled order, so that the drift of a shared
        # machine's load hits them alike; the figure is the median over rounds.
        configs = [(n, {}) for n in args.workers] + ([(1, {"DDEX_CELERY_FLUSH": "0"})] if args.no_flush_variant else [])
        samples: dict[str, dict[str, list[float]]] = {}
        rng = random.Random(7)
        for round_index in range(args.rounds):
            order = configs[:]
            rng.shuffle(order)
            for n, env in order:
                key = f"{n}" + ("-noflush" if env else "")
                with Fleet(root / f"fleet-{key}-{round_index}", workers=n, bin_dir=args.bin_dir, prometheus=False,
                           worker_env=env) as fleet:
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

                    # The submitter's spans (ddex.batch, ddex.file, apply_async) go to host 1's agent.
                    exporter.target = OTLPSpanExporter(endpoint=fleet.agent_otlp(0), insecure=True)
                    for workload, paths in inputs.items():
                        if env and workload != "small":
                            continue
                        run_batch(fleet, paths[: max(4, len(paths) // 4)])  # warm-up: imports, connections
                        seconds, result = run_batch(fleet, paths)
                        samples.setdefault(key, {}).setdefault(workload, []).append(len(paths) / seconds)
                        print(f"round {round_index + 1} workers={key:<9} {workload:<5} {len(paths) / seconds:8.1f} files/s"
                              f" (hosts used: {len({f.host for f in result.files})})", flush=True)
                    provider.force_flush(10_000)
        for key, per in samples.items():
            report["throughput"][key] = {w: {"files": len(inputs[w]), "files_per_second": statistics.median(r),
                                             "runs": r} for w, r in per.items()}
        # Gateway (fleet load and saturation) and latency: one fleet of the largest size.
        n = max(args.workers)
        with Fleet(root / "fleet-gateway", workers=n, bin_dir=args.bin_dir, prometheus=False) as fleet:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter.target = OTLPSpanExporter(endpoint=fleet.agent_otlp(0), insecure=True)
            paths = inputs["small"]
            run_batch(fleet, paths[:20])
            time.sleep(3)
            before = gateway_counters(fleet)
            busy = 0.0
            for _ in range(3):
                seconds, _result = run_batch(fleet, paths)
                busy += seconds
            provider.force_flush(10_000)
            time.sleep(3)  # let the last spans pass the agent's and gateway's batching
            after = gateway_counters(fleet)
            delta = {k.removeprefix("otelcol_"): after[k] - before[k] for k in after}
            report["gateway"] = {"workers": n, "batch_seconds": busy,
                                 "spans_per_second": delta["receiver_accepted_spans"] / busy, **delta}
            print(f"gateway under the fleet's load: {report['gateway']}", flush=True)
            report["gateway_saturation"] = saturate_gateway(fleet, args.load_spans)
            print(f"gateway saturation: {report['gateway_saturation']}", flush=True)
            latencies = []
            for _ in range(args.latency_samples):
                t0 = time.perf_counter()
                _seconds, result = run_batch(fleet, inputs["small"][:1])
                seen = wait_for_span(fleet, result.trace_id, "run/ddex_otel.process_file")
                latencies.append(seen - t0)
            report["latency"] = {"workers": n, "median_s": statistics.median(latencies),
                                 "max_s": max(latencies), "samples": latencies}
            print(f"latency submit → task span in Jaeger: median {statistics.median(latencies):.2f} s, "
                  f"max {max(latencies):.2f} s", flush=True)
        provider.shutdown()
    base = report["throughput"].get("1")
    if base:
        for key, per in report["throughput"].items():
            n = int(key.split("-")[0])
            for workload, data in per.items():
                data["efficiency"] = data["files_per_second"] / (n * base[workload]["files_per_second"])
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report["throughput"], indent=1, default=str))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
