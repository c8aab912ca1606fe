"""``ddex-otel demo``: parse → build → parse over real samples with telemetry on, then a summary.

Registered into the top-level ``ddex-otel`` command by ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddex_otel.telemetry.attributes import DEFAULT_SERVICE_NAME

ENV_SAMPLES_DIR = "DDEX_SAMPLES_DIR"
BROKEN_LABEL = "generated-truncated (deliberately broken)"
BROKEN_LABELS = frozenset({BROKEN_LABEL})

_DESCRIPTION = """\
Run the ERN engine over real DDEX sample messages with OpenTelemetry on: for each message
parse → build → parse again, plus a few generated messages (one streamed, one deliberately
truncated to show an error span), all inside one ddex.batch trace. A message that fails is
counted and shown; the batch goes on. Prints a per-message table, a per-operation / per-stage
summary (count, p50, p95, max, CPU, memory) and where the telemetry went: with an OTLP
endpoint, the link of the batch trace in the Jaeger UI ($DDEX_OTEL_JAEGER_URL, else the
Jaeger of the running `ddex-otel stack`, else http://127.0.0.1:16686).

Where telemetry goes: with --endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) to that OTLP collector,
otherwise to OTLP JSON lines files in --offline-dir ($DDEX_OTEL_OFFLINE_DIR, default ./telemetry)
that the collector's otlpjsonfile receiver can replay. Every standard OTEL_* variable applies.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``ddex-otel`` command."""
    p = subparsers.add_parser(
        "demo",
        help="parse → build → parse the bundled samples with telemetry on and print a summary",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--samples", metavar="DIR",
        help=f"directory of ERN *.xml samples (default: ${ENV_SAMPLES_DIR}; generated messages only if there is none)",
    )
    p.add_argument("--generated", type=int, default=3, metavar="N",
                   help="generated messages to add, of growing size (default: 3)")
    p.add_argument("--endpoint", metavar="URL",
                   help="OTLP collector base URL, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318 "
                   "(http/protobuf); default: OTEL_EXPORTER_OTLP_ENDPOINT, else offline files")
    p.add_argument("--protocol", choices=("grpc", "http/protobuf"),
                   help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)")
    p.add_argument("--offline-dir", metavar="DIR",
                   help="write OTLP JSON lines files here (default without an endpoint: $DDEX_OTEL_OFFLINE_DIR or ./telemetry)")
    p.add_argument("--service-name", metavar="NAME",
                   help=f"service.name (default: OTEL_SERVICE_NAME, else {DEFAULT_SERVICE_NAME})")
    p.add_argument("--stage-spans", action="store_true",
                   help="emit ddex.parse.read … stage child spans (stage timings are always span attributes and metrics)")
    p.add_argument("--no-broken", action="store_true", help="leave out the deliberately truncated message")
    p.set_defaults(func=run_demo)


def default_samples_dir() -> Path | None:
    """``$DDEX_SAMPLES_DIR`` (``make demo`` sets it to the team's samples), else None."""
    env = os.environ.get(ENV_SAMPLES_DIR)
    return Path(env) if env else None


@dataclass
class Outcome:
    label: str
    version: str = ""
    releases: int = 0
    size_in: int = 0
    size_out: int = 0
    seconds: float = 0.0
    error: str = ""


def _inputs(args: argparse.Namespace) -> tuple[list[tuple[str, Any]], str]:
    """[(label, source)] and a note on where they came from."""
    folder = Path(args.samples) if args.samples else default_samples_dir()
    inputs: list[tuple[str, Any]] = []
    note = ""
    if folder is not None:
        if not folder.is_dir():
            raise SystemExit(f"ddex-otel: error: samples directory not found: {folder}")
        inputs = [(p.stem, str(p)) for p in sorted(folder.glob("*.xml"))]
        note = f"{len(inputs)} samples from {folder}"
    generated = _generated(max(0, args.generated) if inputs else max(3, args.generated), not args.no_broken)
    inputs.extend(generated)
    note = (note + " + " if note else "no samples directory: ") + f"{len(generated)} generated messages"
    return inputs, note


def _generated(count: int, broken: bool) -> list[tuple[str, Any]]:
    from ddex_otel.ern.generator import generate_message  # only the demo needs it

    out: list[tuple[str, Any]] = []
    for i in range(count):
        releases, tracks = (1, 4) if i == 0 else (2 * i, 8 * i)
        version = ("4.3", "4.2", "3.8.2")[i % 3]
        out.append((f"generated-{version}-{releases}x{tracks}", generate_message(releases, tracks, version, seed=i)))
    if broken:
        data = generate_message(2, 5, "4.3", seed=99)
        out.append((BROKEN_LABEL, data[: len(data) // 2]))
    return out


def _round_trip(ern: Any, label: str, source: Any) -> Outcome:
    from ddex_otel.ern.builder import BUILD_VERSIONS

    t0 = time.perf_counter()
    message = ern.parse(source)
    target = message.ern_version if message.ern_version in BUILD_VERSIONS else "4.3"
    built = ern.build(message, target)
    again = ern.parse(built)
    size_in = len(source) if isinstance(source, (bytes, bytearray)) else os.path.getsize(source)
    return Outcome(label, message.ern_version, len(again.releases), size_in, len(built), time.perf_counter() - t0)


def run_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ddex_otel.telemetry.clisetup import report_undelivered, show_telemetry_warnings
    from ddex_otel.telemetry.setup import configure

    console = Console()
    if not console.is_terminal:  # piped or captured: rich would assume 80 columns
        console = Console(width=110)
    show_telemetry_warnings()
    try:
        handle = configure(
            endpoint=args.endpoint,
            protocol=args.protocol,
            service_name=args.service_name,
            offline_dir=args.offline_dir,
            summary=True,
            instrument_options={"stage_spans": bool(args.stage_spans)},
        )
    except ValueError as exc:
        print(f"ddex-otel: error: {exc}", file=sys.stderr)
        return 2
    inputs, note = _inputs(args)
    console.print(f"[bold]ddex-otel demo[/bold]: {note}")
    outcomes, streamed, batch_context = _round_trips(inputs)
    handle.shutdown()
    report_undelivered(handle)
    failed = _print_outcomes(console, outcomes, streamed, handle)
    _print_where_telemetry_went(console, handle, batch_context)
    return 0 if len(outcomes) > failed else 1


def _round_trips(inputs: list[tuple[str, Any]]) -> tuple[list[Outcome], int, Any]:
    """Each input through parse → build → parse under one ``ddex.batch`` trace, then a stream of the
    largest generated message: the outcomes, the streamed item count and the batch's span context."""
    from ddex_otel import ern
    from ddex_otel.ern.errors import DDEXError
    from ddex_otel.telemetry.batch_spans import batch, file_span
    from ddex_otel.telemetry.spans import mark_error

    outcomes: list[Outcome] = []
    streamed = 0
    with batch("demo") as b:
        for label, source in inputs:
            # one ddex.file span per message: its parse → build → parse spans sit under it
            with file_span(source if isinstance(source, str) else None, label=label) as message_span:
                try:
                    outcomes.append(_round_trip(ern, label, source))
                    b.succeeded()
                except (DDEXError, OSError) as exc:
                    mark_error(message_span, exc)
                    outcomes.append(Outcome(label, error=f"{type(exc).__name__}: {exc}"))
                    b.failed(exc, source if isinstance(source, str) else label)
        generated = [s for label, s in inputs if isinstance(s, bytes) and label not in BROKEN_LABELS]
        biggest = max(generated, key=len, default=None)
        if biggest is not None:
            try:
                streamed = sum(1 for _ in ern.stream(biggest))
                b.succeeded()
            except DDEXError as exc:
                b.failed(exc, "stream of the largest generated message")
    return outcomes, streamed, b.span.get_span_context()


def _print_outcomes(console: Any, outcomes: list[Outcome], streamed: int, handle: Any) -> int:
    """The round-trip table, each failure's cause, the in-process telemetry summary; the failed count."""
    from rich.table import Table

    from ddex_otel.telemetry.summary import render

    table = Table(title="parse → build → parse", title_justify="left")
    table.add_column("message", no_wrap=True, overflow="ellipsis", max_width=30)
    for column in ("ERN", "releases", "in B", "out B", "ms"):
        table.add_column(column, justify="left" if column == "ERN" else "right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for o in outcomes:
        if o.error:
            table.add_row(o.label, "", "", "", "", "", "[red]failed[/red]")
        else:
            table.add_row(o.label, o.version, str(o.releases), str(o.size_in), str(o.size_out),
                          f"{o.seconds * 1000:.1f}", "[green]ok[/green]")
    console.print(table)
    for o in outcomes:
        if o.error:
            console.print(f"[red]failed[/red] {o.label}: {o.error}", overflow="fold")
    if streamed:
        console.print(f"streamed the largest generated message: {streamed} items")
    if handle.summary is not None:
        console.print(render(handle.summary.rows(), title="telemetry summary (from the spans, in process)"))
    failed = sum(1 for o in outcomes if o.error)
    console.print(f"messages: {len(outcomes)}, ok: {len(outcomes) - failed}, failed: {failed}")
    return failed


def _print_where_telemetry_went(console: Any, handle: Any, batch_context: Any) -> None:
    """Destinations, span delivery counts, the trace's links (when they lead somewhere), failures."""
    from ddex_otel.stack.links import trace_links
    from ddex_otel.telemetry.setup import describe

    console.print("[bold]telemetry went to:[/bold]")
    for line in describe(handle):
        console.print(f"  {line}")
    delivery = handle.delivery
    if delivery.spans_ended:
        dropped = ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in delivery.dropped_by_reason.items() if n)
        console.print(f"spans: {delivery.spans_ended} ended, {delivery.spans_exported} exported, "
                      f"{delivery.spans_dropped} dropped{f' ({dropped})' if dropped else ''}")
    # only when the spans went over OTLP: offline or undelivered, a link would lead nowhere
    links = trace_links(handle, batch_context.trace_id if batch_context.trace_flags.sampled else None)
    # soft_wrap: a link stays on one line, whole, however narrow the terminal
    if links.jaeger:
        console.print(f"trace in Jaeger: {links.jaeger}", soft_wrap=True)
    if links.logs:
        console.print(f"its log records: {links.logs}", soft_wrap=True)
    if handle.export_failures:
        console.print(
            f"[yellow]{handle.export_failures} telemetry export(s) failed[/yellow] "
            f"(first: {handle.failures.first_error}); the demo itself is unaffected"
        )
