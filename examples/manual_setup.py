"""Manual setup: one ``configure()`` call, then use the engine as usual.

    .venv/bin/python examples/manual_setup.py [FILE ...]
    .venv/bin/python examples/manual_setup.py --endpoint http://127.0.0.1:4317            # OTLP gRPC
    .venv/bin/python examples/manual_setup.py --endpoint http://127.0.0.1:4318 --protocol http/protobuf

Without an endpoint (and no OTEL_EXPORTER_OTLP_ENDPOINT) telemetry goes to OTLP JSON lines files
in ./telemetry/. Every standard OTEL_* variable applies; keyword arguments override them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import ddex_otel
from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry import batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--endpoint")
    parser.add_argument("--protocol", choices=("grpc", "http/protobuf"))
    args = parser.parse_args()

    # 1. Set up providers + exporters and instrument the engine. Do this before the code that
    #    does `from ddex_otel.ern.parser import parse` is imported (module attributes are wrapped).
    handle = ddex_otel.configure(
        endpoint=args.endpoint,
        protocol=args.protocol,
        service_name="manual-setup-example",
        instrument_options={"stage_spans": True},  # child spans per stage, for a closer look
    )

    samples = Path(os.environ.get("DDEX_SAMPLES_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "ddex-samples"))
    files = args.files or [str(p) for p in sorted(samples.glob("*Samples43*.xml"))]

    # 2. Use the engine. Each call is a span; the batch groups them under one trace.
    with batch("manual-setup-example") as b:
        for path in files:
            try:
                message = ern.parse(path)
                ern.build(message)
                b.succeeded()
            except DDEXError as exc:
                b.failed(exc, path)

    # 3. Flush and release (also registered with atexit).
    handle.shutdown()
    print(f"{b.messages} messages, {b.failures} failed; telemetry → {', '.join(handle.destinations)}")
    if handle.export_failures:
        print(f"{handle.export_failures} export(s) failed: {handle.failures.first_error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
