"""An application that knows nothing about OpenTelemetry: it only uses the ERN engine.

Run it under auto-instrumentation; ``opentelemetry-instrument`` finds ``DDEXInstrumentor``
through the ``opentelemetry_instrumentor`` entry point and configures the SDK from OTEL_*:

    OTEL_SERVICE_NAME=ingest-app OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=none \\
        .venv/bin/opentelemetry-instrument .venv/bin/python examples/auto_instrument_app.py [FILE_OR_DIR ...]

    # or to a collector:
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \\
        .venv/bin/opentelemetry-instrument .venv/bin/python examples/auto_instrument_app.py

Instrumentation options come from the environment here (there are no keyword arguments):
OTEL_PYTHON_DDEX_STAGE_SPANS=true, OTEL_PYTHON_DDEX_RESOURCE_USAGE=false, … (see docs/telemetry.md).
With no arguments it reads the bundled samples ($DDEX_SAMPLES_DIR or ../shared/ddex-samples).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ddex_otel import ern  # note: never imports ddex_otel.telemetry
from ddex_otel.ern.errors import DDEXError


def inputs(args: list[str]) -> list[Path]:
    if not args:
        default = Path(__file__).resolve().parents[1].parent / "shared" / "ddex-samples"
        args = [os.environ.get("DDEX_SAMPLES_DIR", str(default))]
    paths: list[Path] = []
    for arg in map(Path, args):
        paths.extend(sorted(arg.glob("*.xml")) if arg.is_dir() else [arg])
    return paths


def main(args: list[str]) -> int:
    ok = failed = 0
    for path in inputs(args):
        try:
            message = ern.parse(str(path))
            ern.build(message, message.ern_version if message.ern_version in ("4.3", "4.2", "4.1.1", "3.8.2") else "4.3")
            ok += 1
        except DDEXError as exc:
            failed += 1
            print(f"{path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"processed {ok + failed} messages, {failed} failed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
