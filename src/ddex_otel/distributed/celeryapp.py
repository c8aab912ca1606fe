"""The Celery app of ddex-otel: Redis broker and result backend, at-least-once delivery.

Settings come from the environment so workers start the standard way (``celery -A
ddex_otel.distributed.worker worker``) on any host:

* ``DDEX_CELERY_BROKER_URL`` (else ``CELERY_BROKER_URL``, else ``redis://127.0.0.1:6379/0``);
* ``DDEX_CELERY_RESULT_BACKEND`` (else ``CELERY_RESULT_BACKEND``, else the broker URL);
* ``DDEX_CELERY_VISIBILITY_TIMEOUT`` seconds (default 3600, Celery's): how long a message taken by
  a worker that died without acknowledging it stays invisible before another worker gets it.
  It must exceed the longest file's processing time, or a slow file runs twice.

A file is never silently lost: tasks are acknowledged after they ran (``acks_late``), a worker
process lost mid-task gives the message back (``reject_on_worker_lost``), each worker reserves
one message at a time (``prefetch_multiplier=1``), and a whole worker killed mid-task leaves its
message unacknowledged in Redis, redelivered to another worker after the visibility timeout.
"""

from __future__ import annotations

import os

from celery import Celery

from ddex_otel.telemetry.envvars import env_number

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
TASK_NAME = "ddex_otel.process_file"
QUEUE = "ddex"


def broker_url() -> str:
    return os.environ.get("DDEX_CELERY_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL


def result_backend(broker: str | None = None) -> str:
    return (os.environ.get("DDEX_CELERY_RESULT_BACKEND") or os.environ.get("CELERY_RESULT_BACKEND")
            or broker or broker_url())


def visibility_timeout() -> float:
    return env_number("DDEX_CELERY_VISIBILITY_TIMEOUT", 3600.0)


def make_app(broker: str | None = None, backend: str | None = None) -> Celery:
    """A Celery app with ddex-otel's delivery settings (the worker's and the submitter's)."""
    broker = broker or broker_url()
    app = Celery("ddex_otel", broker=broker, backend=backend or result_backend(broker))
    timeout = visibility_timeout()
    # Workers sweep for abandoned messages every interval (kombu's default: every 100 s).
    transport = {"visibility_timeout": timeout, "unacked_restore_interval": min(10.0, max(1.0, timeout / 5)),
                 "unacked_restore_throttle": 1}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app
