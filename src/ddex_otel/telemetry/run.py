"""``ddex-otel run -- python app.py ARGS``: an existing app, unchanged, with DDEX telemetry.

The command runs as a child process whose Python loads ``runboot/sitecustomize.py`` first (that
directory heads its PYTHONPATH, as ``opentelemetry-instrument`` does with its own). There,
``start_in_child`` calls ``configure()`` — our defaults: offline OTLP JSON files, or OTLP with
``--endpoint`` / ``OTEL_*`` — and instruments the XML layer beside the engine, before the app
imports lxml. At the child's exit it writes a small JSON report (what was traced, where it went,
a trace id) that the parent prints on stderr once the app has ended: the app's own stdout and
stderr are left alone, and its exit code is ``run``'s.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ddex_otel.telemetry.offline import ENV_OFFLINE_DIR

#: Where the child writes its report (JSON); removed from the child's environment once read, so
#: Python programs it starts in turn are instrumented too but do not overwrite the report.
ENV_REPORT = "DDEX_OTEL_RUN_REPORT"
BOOT_DIR = Path(__file__).resolve().parent / "runboot"

_DESCRIPTION = """\
Run an existing Python program unchanged with DDEX telemetry: its lxml, xml.etree, xmltodict and
defusedxml calls on DDEX documents become ddex.parse / ddex.stream / ddex.serialize spans (and the
engine's own operations their spans), then a summary says what was traced, where it went and, with
an OTLP endpoint, the trace's link in the Jaeger UI.

    ddex-otel run -- python their_app.py ARGS...
    ddex-otel run --endpoint http://127.0.0.1:4317 -- python their_app.py ARGS...

Where telemetry goes: as for `ddex-otel demo` — --endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT), else
OTLP JSON lines files in --offline-dir ($DDEX_OTEL_OFFLINE_DIR, default ./telemetry). Every standard
OTEL_* variable applies. The program's exit code is returned.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run an existing Python program (-- python app.py ARGS) with DDEX telemetry and summarise it",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--endpoint", metavar="URL",
                   help="OTLP collector base URL (default: OTEL_EXPORTER_OTLP_ENDPOINT, else offline files)")
    p.add_argument("--protocol", choices=("grpc", "http/protobuf"),
                   help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)")
    p.add_argument("--offline-dir", metavar="DIR",
                   help="write OTLP JSON lines files here (default without an endpoint: $DDEX_OTEL_OFFLINE_DIR or ./telemetry)")
    p.add_argument("--service-name", metavar="NAME",
                   help="service.name (default: OTEL_SERVICE_NAME, else the program's file name)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command, e.g. -- python app.py ARGS")
    p.set_defaults(func=run_command)


def child_environment(args: argparse.Namespace, command: list[str], report: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BOOT_DIR), env.get("PYTHONPATH", "")) if p)
    env[ENV_REPORT] = report
    if args.endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
    if args.protocol:
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = args.protocol
    if args.offline_dir:
        env[ENV_OFFLINE_DIR] = args.offline_dir
    if args.service_name:
        env["OTEL_SERVICE_NAME"] = args.service_name
    elif not env.get("OTEL_SERVICE_NAME"):
        script = next((a for a in command[1:] if a.endswith(".py")), command[0])
        env["OTEL_SERVICE_NAME"] = Path(script).stem or "ddex-otel-run"
    return env


def run_command(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("ddex-otel: error: run needs a command after --, e.g. ddex-otel run -- python app.py", file=sys.stderr)
        return 2
    fd, report = tempfile.mkstemp(prefix="ddex-otel-run-", suffix=".json")
    os.close(fd)
    try:
        try:
            child = subprocess.Popen(command, env=child_environment(args, command, report))
        except OSError as exc:
            print(f"ddex-otel: error: cannot run {command[0]!r}: {exc}", file=sys.stderr)
            return 127
        try:
            code = child.wait()
        except KeyboardInterrupt:  # the child had the same Ctrl-C: let it finish its exit (bounded)
            try:
                code = child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
            code = code if code else 130
        print_report(Path(report))
        return code if code >= 0 else 128 + abs(code)
    finally:
        Path(report).unlink(missing_ok=True)


def print_report(path: Path) -> None:
    """What the child traced and where it went, on stderr (the app's stdout stays its own)."""
    from rich.console import Console

    from ddex_otel.telemetry.summary import render

    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=110)
    try:
        report = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        report = {}
    if not report:
        console.print("ddex-otel run: no telemetry report from the program (not a Python program with "
                      "ddex-otel installed for its interpreter, or it left through os._exit)")
        return
    rows = report.get("rows") or []
    if rows:
        console.print(render(rows, title="what was traced (DDEX operations, from the spans)"))
    else:
        console.print("ddex-otel run: no DDEX operation was traced (no DDEX document read or written)")
    console.print("[bold]telemetry went to:[/bold]")
    for line in report.get("destinations", []):
        console.print(f"  {line}", soft_wrap=True)
    if report.get("spans_ended"):
        console.print(f"spans: {report['spans_ended']} ended, {report.get('spans_exported', 0)} exported, "
                      f"{report.get('spans_dropped', 0)} dropped")
    if report.get("trace_link"):  # only when the spans went over OTLP (``stack.links.trace_links``)
        console.print(f"first trace in Jaeger: {report['trace_link']}", soft_wrap=True)


# ------------------------------------------------------------------------------------- in the child


def _first_trace_processor() -> Any:
    """An SDK span processor keeping the trace id of the first ended ``ddex.*`` span (``.trace_id``)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class FirstTrace(SpanProcessor):
        trace_id: str | None = None

        def on_end(self, span: Any) -> None:
            if self.trace_id is None and span.name.startswith("ddex."):
                self.trace_id = format(span.context.trace_id, "032x")

    return FirstTrace()


def start_in_child() -> None:
    """Configure telemetry and instrument the XML layer; write the report at exit. Never raises."""
    report = os.environ.pop(ENV_REPORT, None)
    try:
        from ddex_otel.telemetry.setup import configure, describe
        from ddex_otel.telemetry.xmllayer import XMLLayerInstrumentor

        handle = configure(summary=report is not None)
        XMLLayerInstrumentor().instrument()
        first = _first_trace_processor()
        add = getattr(handle.tracer_provider, "add_span_processor", None)
        if add is not None:
            add(first)
    except Exception as exc:  # noqa: BLE001 - never stop the program from running
        print(f"ddex-otel run: telemetry not started: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    if report is None:
        return

    def write_report() -> None:
        try:
            from ddex_otel.stack.links import trace_links

            handle.shutdown()
            delivery = handle.delivery
            data = {
                "rows": handle.summary.rows() if handle.summary is not None else [],
                "destinations": describe(handle),
                "trace_link": trace_links(handle, first.trace_id).jaeger,
                "spans_ended": delivery.spans_ended,
                "spans_exported": delivery.spans_exported,
                "spans_dropped": delivery.spans_dropped,
            }
            Path(report).write_text(json.dumps(data, default=str))
        except Exception as exc:  # noqa: BLE001 - the program has finished; say it, do not raise
            print(f"ddex-otel run: could not write the telemetry report: {exc}", file=sys.stderr)

    atexit.register(write_report)
