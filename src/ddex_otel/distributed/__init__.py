"""Delivery batches on Celery workers, one trace per batch (docs/scale-out.md).

    from ddex_otel.distributed import submit_batch

    result = submit_batch(paths, "redis://127.0.0.1:6379/0")
    print(result.ok, result.failed, result.trace_id, result.workers)

Workers run the standard way, under ``opentelemetry-instrument`` or with our ``configure()``:

    celery -A ddex_otel.distributed.worker worker --pool solo -n w1@%h

Modules: ``celeryapp`` (the Celery app and its settings), ``tasks`` (the per-file task: parse →
validate → build/write), ``worker`` (what ``celery -A`` loads: app, task, worker telemetry),
``submitter`` (``submit_batch``: the ``ddex.batch`` / ``ddex.file`` spans and the results),
``results`` (what a batch returns). Needs the ``celery`` extra: ``pip install 'ddex-otel[celery]'``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DistributedBatchResult", "FileOutcome", "submit_batch"]


def __getattr__(name: str) -> Any:
    if name == "submit_batch":
        from ddex_otel.distributed.submitter import submit_batch

        return submit_batch
    if name in ("DistributedBatchResult", "FileOutcome"):
        from ddex_otel.distributed import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
