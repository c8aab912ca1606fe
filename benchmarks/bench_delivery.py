"""Telemetry delivery under faults, against a real local collector (figures for docs/reliability.md).

    .venv/bin/python benchmarks/bench_delivery.py [--parses 2000] [--json out.json] [--only NAME ...]

Every scenario runs the workload (benchmarks/delivery_workload.py: the 75 KB sample parsed in its
own process with ``ddex_otel.configure()``) against real endpoints on 127.0.0.1:

  dead-*        a refusing port, a black hole (accepts, never answers), an HTTP server answering 503;
                gRPC and HTTP: shutdown() time, process exit after the work, spans counted
  cli-dead      ``ddex-otel parse FILE --endpoint <refusing>``: whole command time
  live          our collector build alone (collector-only): exported == its otelcol_receiver_accepted_spans
  outage        400 parses/s with stage spans, collector SIGKILLed for 5 s, restarted (default buffer,
                and OTEL_BSP_MAX_QUEUE_SIZE=2048: beyond the buffer, counted)
  small-queue   OTEL_BSP_MAX_QUEUE_SIZE=64, a burst: drops counted, exported == accepted
  fork-*        multiprocessing fork / os.fork / ProcessPoolExecutor workers: child spans that arrive
  cli-live      every ERN command with OTEL_EXPORTER_OTLP_ENDPOINT: spans that arrive
  auto-dead     an app under opentelemetry-instrument (the SDK's own processor, not ours) with a
                refusing endpoint: process time (the SDK's default export timeout is 10 s)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ddex_otel.stack.faults import BlackHole, CollectorOnly, Http503, refused_endpoint

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "benchmarks" / "delivery_workload.py"
SAMPLE = Path(os.environ.get("DDEX_SAMPLES_DIR") or REPO.parent / "shared" / "ddex-samples") / "daddykev__Samples43_1_Audio.xml"


def workload(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.time()
    done = subprocess.run([sys.executable, str(WORKLOAD), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    lines = done.stdout.strip().splitlines()
    work_done = float(next(line for line in lines if line.startswith("WORK_DONE")).split()[1])
    report = json.loads(lines[-1])
    report.update(process_s=ended - started, exit_after_work_s=ended - work_done,
                  warnings=sum(1 for line in done.stderr.splitlines() if "not delivered" in line))
    return report


def wait_accepted(col: CollectorOnly, at_least: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while (accepted := col.accepted_spans()) < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
    return accepted


def dead(kind: str, protocol: str, parses: int) -> dict[str, Any]:
    server: Any = {"refused": None, "black-hole": BlackHole, "http-503": Http503}[kind]
    server = server() if server else None
    try:
        endpoint = server.endpoint if server else refused_endpoint()
        return workload("--endpoint", endpoint, "--protocol", protocol, "--parses", str(parses))
    finally:
        if server is not None:
            server.close()


def cli_dead() -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ddex_otel.cli", "parse", str(SAMPLE), "--endpoint",
                           refused_endpoint()], capture_output=True, text=True, timeout=120)
    return {"process_s": time.monotonic() - started, "rc": done.returncode}


def live(col: CollectorOnly, protocol: str, parses: int) -> dict[str, Any]:
    before = col.accepted_spans()
    endpoint = col.grpc_endpoint if protocol == "grpc" else col.http_endpoint
    report = workload("--endpoint", endpoint, "--protocol", protocol, "--parses", str(parses), "--stage-spans")
    report["collector_accepted"] = wait_accepted(col, before + report["delivery"]["spans_exported"]) - before
    return report


def outage(run_dir: Path, queue: str | None, parses: int = 4000) -> dict[str, Any]:
    env = {**os.environ, **({"OTEL_BSP_MAX_QUEUE_SIZE": queue} if queue else {})}
    with CollectorOnly(run_dir) as col:
        proc = subprocess.Popen([sys.executable, str(WORKLOAD), "--endpoint", col.grpc_endpoint, "--parses",
                                 str(parses), "--rate", "400", "--stage-spans"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        wait_accepted(col, 1, timeout=15)
        col.kill()
        time.sleep(5.0)
        col.start()
        out, err = proc.communicate(timeout=600)
        report = json.loads(out.strip().splitlines()[-1])
        report["collector_accepted"] = wait_accepted(col, report["delivery"]["spans_exported"])
    return report


def small_queue(col: CollectorOnly, parses: int) -> dict[str, Any]:
    before = col.accepted_spans()
    report = workload("--endpoint", col.grpc_endpoint, "--parses", str(parses), "--stage-spans",
                      env={"OTEL_BSP_MAX_QUEUE_SIZE": "64"})
    report["collector_accepted"] = wait_accepted(col, before + report["delivery"]["spans_exported"]) - before
    return report


def forked(col: CollectorOnly, mode: str) -> dict[str, Any]:
    before = col.accepted_spans()
    report = workload("--endpoint", col.grpc_endpoint, "--parses", "400", "--workers", "4", "--mode", mode)
    report["collector_accepted"] = wait_accepted(col, before + report["expected_spans"]) - before
    return report


def cli_live(col: CollectorOnly, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": col.grpc_endpoint}
    out = {}
    for name, argv in {"parse": ["parse", str(SAMPLE)], "stream": ["stream", str(SAMPLE)],
                       "validate": ["validate", str(SAMPLE)],
                       "build": ["build", str(SAMPLE), "-o", str(tmp / "out.xml")],
                       "generate": ["generate", str(tmp / "g.xml"), "--size", "5KB"]}.items():
        before = col.accepted_spans()
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ddex_otel.cli", *argv], env=env, capture_output=True, timeout=120)
        out[name] = {"spans_arrived": col.accepted_spans() - before, "process_s": time.monotonic() - started}
    return out


def auto_dead() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=refused_endpoint(), OTEL_LOGS_EXPORTER="none")
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable,
                    str(REPO / "examples" / "auto_instrument_app.py"), str(SAMPLE)],
                   env=env, capture_output=True, timeout=120, cwd=REPO)
    return {"process_s": time.monotonic() - started}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parses", type=int, default=2000)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--only", nargs="*", help="scenario name prefixes to run")
    args = p.parse_args(argv)
    wanted = lambda name: not args.only or any(name.startswith(o) for o in args.only)  # noqa: E731
    results: dict[str, Any] = {}

    def record(name: str, value: dict[str, Any]) -> None:
        results[name] = value
        d = value.get("delivery", {})
        brief = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in value.items() if k != "delivery"}
        counts = (f" ended={d.get('spans_ended')} exported={d.get('spans_exported')} dropped={d.get('spans_dropped')}"
                  f" {json.dumps({k: v for k, v in d.items() if k.startswith('spans_dropped_') and v})}" if d else "")
        print(f"{name:<28}{counts} {json.dumps(brief)}", flush=True)

    for kind in ("refused", "black-hole", "http-503"):
        for protocol in ("grpc", "http/protobuf"):
            name = f"dead-{kind}-{protocol.split('/')[0]}"
            if wanted(name):
                record(name, dead(kind, protocol, args.parses))
    if wanted("cli-dead"):
        record("cli-dead", cli_dead())
    if wanted("auto-dead"):
        record("auto-dead", auto_dead())
    with tempfile.TemporaryDirectory() as tmp:
        with CollectorOnly(Path(tmp) / "col") as col:
            for protocol in ("grpc", "http/protobuf"):
                name = f"live-{protocol.split('/')[0]}"
                if wanted(name):
                    record(name, live(col, protocol, args.parses))
            if wanted("small-queue"):
                record("small-queue", small_queue(col, args.parses))
            for mode in ("fork", "os-fork", "pool"):
                if wanted(f"fork-{mode}"):
                    record(f"fork-{mode}", forked(col, mode))
            if wanted("cli-live"):
                results["cli-live"] = cli_live(col, Path(tmp))
                print(f"{'cli-live':<28} {json.dumps(results['cli-live'])}", flush=True)
        if wanted("outage"):
            record("outage-default-buffer", outage(Path(tmp) / "o1", None))
            record("outage-queue-2048", outage(Path(tmp) / "o2", "2048"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
