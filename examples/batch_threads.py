"""A multi-threaded batch: one ``ddex.batch`` trace, each message's spans its children.

    .venv/bin/python examples/batch_threads.py [--workers 4] [--generated 20] [--endpoint URL]

Thread pools do not carry the current span into their workers: ``Batch.bind`` does (it attaches
the batch's context around each task), so every ``ddex.parse`` / ``ddex.build`` span is a child
of the batch span whatever thread runs it. Failures are counted and recorded as
``ddex.batch.failure`` events; the batch goes on.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import ddex_otel
from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.ern.generator import generate_message
from ddex_otel.telemetry import batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--generated", type=int, default=20)
    parser.add_argument("--endpoint")
    parser.add_argument("--protocol", choices=("grpc", "http/protobuf"))
    args = parser.parse_args()

    handle = ddex_otel.configure(endpoint=args.endpoint, protocol=args.protocol,
                                 service_name="batch-threads-example", summary=True)
    messages = [generate_message(releases=1 + i % 5, tracks_per_release=4, seed=i) for i in range(args.generated)]
    messages.append(messages[0][: len(messages[0]) // 2])  # one broken message: counted, not fatal

    with batch("batch-threads-example") as b:
        def work(data: bytes) -> None:
            try:
                ern.build(ern.parse(data))
                b.succeeded()
            except DDEXError as exc:
                b.failed(exc, f"message of {len(data)} bytes")

        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(b.bind(work), messages))

    handle.shutdown()
    from rich.console import Console

    from ddex_otel.telemetry.summary import render

    Console().print(render(handle.summary.rows()))
    print(f"{b.messages} messages, {b.failures} failed; telemetry → {', '.join(handle.destinations)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
