"""What ``celery -A ddex_otel.distributed.worker worker`` loads: the app, the task, worker telemetry.

Telemetry is set up once per process that runs tasks: the worker itself for the ``solo`` and
``threads`` pools, each child for ``prefork`` (``worker_process_init``: gRPC channels and exporter
threads do not survive a fork). Under ``opentelemetry-instrument`` the providers and both
instrumentations (Celery's, ours) are already there and are left alone; otherwise
``ddex_otel.configure()`` reads the standard OTEL_* variables (set ``host.name`` per worker with
``OTEL_RESOURCE_ATTRIBUTES``) and opentelemetry-instrumentation-celery is switched on.

After each task the worker flushes its spans (``DDEX_CELERY_FLUSH=0`` turns this off): a worker
killed later loses no finished file's spans, only the file in flight, which Celery redelivers.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import signals
from opentelemetry import trace

from ddex_otel.distributed import tasks
from ddex_otel.distributed.celeryapp import make_app
from ddex_otel.telemetry.envvars import env_bool

_logger = logging.getLogger(__name__)

app = make_app()
process_file = tasks.register(app)

_lock = threading.Lock()
_handle: Any = None
_ready = False
FLUSH_TIMEOUT_MS = 10_000


def setup_telemetry() -> None:
    """Providers (unless someone installed them) + Celery instrumentation + per-task flush; idempotent."""
    global _handle, _ready
    with _lock:
        if _ready:
            return
        _ready = True
        from opentelemetry.sdk.trace import TracerProvider

        try:
            if not isinstance(trace.get_tracer_provider(), TracerProvider):
                import ddex_otel

                _handle = ddex_otel.configure()
            from opentelemetry.instrumentation.celery import CeleryInstrumentor

            instrumentor = CeleryInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument()
        except Exception:  # telemetry never stops the worker
            _logger.warning("ddex-otel worker telemetry is off", exc_info=True)
            return
        try:  # the operation timings each outcome carries (the local batch's measurement path)
            from ddex_otel.monitoring import spanfeed
            from ddex_otel.monitoring.batch_runner import OperationLog

            tasks.operation_log = OperationLog()
            spanfeed.subscribe(tasks.operation_log)
        except Exception:
            _logger.debug("no operation timings in the outcomes", exc_info=True)
        if env_bool("DDEX_CELERY_FLUSH", True):
            # Connected after the instrumentation's own task_postrun: the task span has ended.
            signals.task_postrun.connect(_flush, weak=False)


def _flush(**_kwargs: Any) -> None:
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        try:
            flush(FLUSH_TIMEOUT_MS)
        except Exception:
            _logger.debug("span flush failed", exc_info=True)


def _shutdown(**_kwargs: Any) -> None:
    if _handle is not None:
        _handle.shutdown()


@signals.worker_init.connect(weak=False)
def _on_worker_init(sender: Any = None, **_kwargs: Any) -> None:
    pool = getattr(sender, "pool_cls", None)  # "solo" / "prefork" or, already resolved, the class
    if "prefork" not in str(pool if isinstance(pool, str) else getattr(pool, "__module__", "")):
        setup_telemetry()


@signals.worker_process_init.connect(weak=False)
def _on_worker_process_init(**_kwargs: Any) -> None:
    setup_telemetry()


signals.worker_shutdown.connect(_shutdown, weak=False)
signals.worker_process_shutdown.connect(_shutdown, weak=False)
