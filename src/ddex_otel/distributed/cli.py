"""``ddex-otel batch DIR --celery BROKER_URL``: the batch command's runner for Celery workers.

``celery_runner(broker)`` returns a callable with the signature of ``monitoring.batch_runner.run_batch``
(paths, options, on_result) that submits the files with ``submit_batch`` and returns the local
batch's ``BatchResult``, so the command prints the same progress, summary and JSON; what only a
distributed run has (which host ran each file, redeliveries, the broker) is in ``details()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ddex_otel.distributed.results import DistributedBatchResult, FileOutcome
from ddex_otel.distributed.submitter import submit_batch


class CeleryRunner:
    """Run a batch on Celery; keeps the distributed result for the command's extra output."""

    def __init__(self, broker_url: str, *, backend_url: str | None = None, timeout: float = 3600.0) -> None:
        self.broker_url = broker_url
        self.backend_url = backend_url
        self.timeout = timeout
        self.result: DistributedBatchResult | None = None

    def __call__(self, paths: Sequence[Path], options: Any, on_result: Callable[[Any], None] | None = None) -> Any:
        def each(outcome: FileOutcome) -> None:
            if on_result is not None:
                on_result(outcome.to_file_result())

        self.result = submit_batch(
            paths, self.broker_url, backend_url=self.backend_url, name=options.name,
            to_version=options.to_version, out_dir=options.out_dir, timeout=self.timeout, on_result=each,
        )
        return self.result.to_batch_result()

    def details(self) -> dict[str, Any]:
        """Per file: host, Celery node, redelivered, latency; totals: hosts, redelivered, lost."""
        r = self.result
        if r is None:
            return {}
        keep = ("path", "status", "worker", "host", "instance", "redelivered", "task_id", "latency_s")
        return {
            "broker": r.broker, "hosts": r.workers, "redelivered": r.redelivered,
            "lost": sum(1 for f in r.files if f.status == "lost"),
            "files": [{k: getattr(f, k) for k in keep} for f in r.files],
        }

    def summary_line(self) -> str:
        r = self.result
        if r is None:
            return ""
        lost = sum(1 for f in r.files if f.status == "lost")
        return (f"celery: {len(r.workers)} worker host(s) ({', '.join(r.workers) or '-'}), "
                f"{r.redelivered} redelivered after a lost worker, {lost} without an outcome; broker {r.broker}")


def celery_runner(broker_url: str, **kwargs: Any) -> CeleryRunner:
    return CeleryRunner(broker_url, **kwargs)
