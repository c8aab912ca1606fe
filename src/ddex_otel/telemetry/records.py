"""The library's log records (telemetry contract, "Logs"): plain ``logging`` calls, no handler.

Emitted by the instrumentation, inside the operation's span context, so the SDK's logging handler
(installed by ``configure()`` or ``opentelemetry-instrument``) gives each record the operation's
trace and span id. Never a record per successful operation: only findings, failures and losses.

| record                 | logger              | level                      | attributes |
|------------------------|---------------------|----------------------------|------------|
| a validation finding   | ``ddex_otel.ern``   | error/warning/info         | ``ddex.finding.code``, ``ddex.finding.path``, ``ddex.message.id``, ``ddex.operation.name`` |
| a failed operation     | ``ddex_otel.ern``   | ERROR                      | ``error.type``, ``ddex.operation.name``, ``file.path`` |
| a build's losses       | ``ddex_otel.ern``   | WARNING                    | ``ddex.build.dropped.count``, ``ddex.build.dropped.paths`` |
| a batch file's failure | ``ddex_otel.telemetry`` | ERROR                  | ``file.path``, ``error.type``, ``ddex.batch.name`` |
| spans dropped          | ``ddex_otel.telemetry`` | WARNING (rate-limited) | ``reason``, ``count`` (``delivery``) |

Every message is one readable line; the attributes carry the values to filter on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context

from ddex_otel.ern.lossless import DROPPED as DROPPED_CODE  # what a conversion does not carry
from ddex_otel.telemetry import attributes as A

ENGINE_LOGGER = logging.getLogger("ddex_otel.ern")
TELEMETRY_LOGGER = logging.getLogger("ddex_otel.telemetry")

DROPPED_COUNT = "ddex.build.dropped.count"
DROPPED_PATHS = "ddex.build.dropped.paths"
FIRST_PATHS = 5  # paths named in a losses record

_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


@contextmanager
def within(ctx: otel_context.Context | None) -> Iterator[None]:
    """Make ``ctx`` (an operation's span context) current while its records are emitted: a stream's
    span is not current between items, yet its failure record must carry its trace id."""
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


def _context(operation: str, message_id: Any, path: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {A.OPERATION_NAME: operation}
    if message_id:
        attrs[A.MESSAGE_ID] = str(message_id)
    if path:
        attrs[A.FILE_PATH] = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return attrs


def findings(operation: str, found: Sequence[Any], *, message_id: Any = None, path: Any = None,
             limit: int = 32) -> None:
    """One record per validation finding (at most ``limit``, then one record saying how many more);
    a build's dropped elements become a single ``build_losses`` record."""
    if not found:
        return
    base = _context(operation, message_id, path)
    losses = [f for f in found if getattr(f, "code", "") == DROPPED_CODE]
    shown = 0
    for finding in found:
        if getattr(finding, "code", "") == DROPPED_CODE:
            continue
        level = _LEVELS.get(str(getattr(finding, "severity", "")), logging.WARNING)
        if not ENGINE_LOGGER.isEnabledFor(level):
            continue
        shown += 1
        if shown > limit:
            continue
        attrs = {**base, A.FINDING_CODE: str(getattr(finding, "code", "")),
                 A.FINDING_PATH: str(getattr(finding, "path", ""))}
        ENGINE_LOGGER.log(level, "%s finding %s at %s: %s", operation, attrs[A.FINDING_CODE],
                          attrs[A.FINDING_PATH] or "the message", getattr(finding, "message", ""), extra=attrs)
    if shown > limit:
        ENGINE_LOGGER.warning("%s: %d more findings not logged (first %d logged)", operation, shown - limit, limit,
                              extra={**base, "ddex.finding.unlogged.count": shown - limit})
    if losses:
        build_losses([str(getattr(f, "path", "")) for f in losses], message_id=message_id, operation=operation)


def build_losses(paths: Sequence[str], *, message_id: Any = None, operation: str = A.OP_BUILD) -> None:
    """One WARNING for everything a build could not carry: the count and the first paths."""
    if not paths or not ENGINE_LOGGER.isEnabledFor(logging.WARNING):
        return
    first = list(paths[:FIRST_PATHS])
    more = f" and {len(paths) - len(first)} more" if len(paths) > len(first) else ""
    ENGINE_LOGGER.warning(
        "build dropped %d source element(s) the target version cannot carry: %s%s", len(paths), ", ".join(first),
        more, extra={**_context(operation, message_id, None), DROPPED_COUNT: len(paths), DROPPED_PATHS: first},
    )


def operation_failed(operation: str, exc: BaseException, *, message_id: Any = None, path: Any = None) -> None:
    """One ERROR for a failed parse/stream/build/validate (the exception's class as ``error.type``)."""
    if not ENGINE_LOGGER.isEnabledFor(logging.ERROR):
        return
    error_type = type(exc).__qualname__
    attrs = {**_context(operation, message_id, path), A.ERROR_TYPE: error_type}
    where = f" ({attrs[A.FILE_PATH]})" if A.FILE_PATH in attrs else ""
    ENGINE_LOGGER.error("%s failed%s: %s: %s", operation, where, error_type, _one_line(exc), extra=attrs)


def batch_file_failed(batch_name: str | None, error_type: str, message: str, item: Any = None) -> None:
    """One ERROR for a file a batch could not process (the batch goes on)."""
    if not TELEMETRY_LOGGER.isEnabledFor(logging.ERROR):
        return
    attrs: dict[str, Any] = {A.ERROR_TYPE: error_type}
    if batch_name:
        attrs[A.BATCH_NAME] = batch_name
    if isinstance(item, (str, os.PathLike)):
        attrs[A.FILE_PATH] = os.fspath(item)
    label = attrs.get(A.FILE_PATH) or (str(item)[:256] if item is not None else "an item")
    TELEMETRY_LOGGER.error("batch %s: %s failed: %s: %s", batch_name or "", label, error_type,
                           _one_line(message), extra=attrs)


def is_record(record: logging.LogRecord) -> bool:
    """True for a record this module emitted (the CLI keeps them off its stderr: it prints its own lines)."""
    return record.pathname == __file__


def _one_line(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
