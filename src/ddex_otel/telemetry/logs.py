"""The logs signal for ``configure()``: the SDK's logger provider and a logging handler.

The library logs through the standard ``logging`` module under ``ddex_otel.*`` loggers (see
``records``) and adds no handler of its own. ``configure()`` calls ``install``, which

* makes a ``LoggerProvider`` with the same resource as the traces and metrics, and one
  ``BatchLogRecordProcessor`` per destination: the same choice as the other signals (OTLP gRPC or
  HTTP with the same endpoint, headers, TLS files and compression; ``OTEL_LOGS_EXPORTER``; else the
  offline ``logs-*.jsonl`` beside the ``traces-*``/``metrics-*`` files);
* attaches the SDK's ``LoggingHandler`` to the ``ddex_otel`` logger, so every record of the library
  becomes an OTLP log record, with the trace and span id of the operation it was emitted in.
  ``handle.logs.handler`` can be added to any other logger (the root logger, for the application's
  own records) by the application. Beside it, ``LastResortWhileUnconfigured`` keeps printing the
  library's warnings on stderr, as Python does for a record no handler takes, while the
  application has set up no logging of its own;
* lowers the ``ddex_otel`` logger to ``DDEX_OTEL_LOG_LEVEL`` (INFO) when the application gave it no
  level, so INFO findings reach the exporter; ``shutdown`` puts everything back.

An application that already set a global logger provider (``opentelemetry-instrument`` with
``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``) keeps it: its handler on the root logger
receives the library's records, which propagate.

OpenTelemetry Python publishes the logs signal only as ``opentelemetry._logs``,
``opentelemetry.sdk._logs`` and the exporters' ``_log_exporter`` modules (its documented way to
export logs): this module is the one place that imports them (telemetry contract, "API hygiene").
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry._logs import NoOpLoggerProvider, get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, LogRecordLimits
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter

from ddex_otel.telemetry import offline, tls
from ddex_otel.telemetry.delivery import bounded
from ddex_otel.telemetry.envvars import warn_env

_logger = logging.getLogger("ddex_otel.telemetry")

LIBRARY_LOGGER = "ddex_otel"
ENV_LOG_LEVEL = "DDEX_OTEL_LOG_LEVEL"
DEFAULT_LOG_LEVEL = logging.INFO
SIGNAL = "logs"


@dataclass(eq=False)
class LogsHandle:
    """What ``install`` set up: the provider, the handler on the ``ddex_otel`` logger, destinations."""

    provider: Any = None
    handler: logging.Handler | None = None
    stderr_handler: logging.Handler | None = None
    destinations: list[str] = field(default_factory=list)
    offline_files: offline.OfflineFiles | None = None
    owns_provider: bool = False
    _logger_level: int | None = None  # the level the ddex_otel logger had before (restored)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        flush = getattr(self.provider, "force_flush", None) if self.owns_provider else None
        return bool(flush(timeout_millis)) if flush is not None else True

    def shutdown(self, timeout: float = 2.0) -> None:
        """Detach the handler, then flush and shut the provider down within ``timeout`` seconds."""
        library = logging.getLogger(LIBRARY_LOGGER)
        for handler in (self.handler, self.stderr_handler):
            if handler is not None:
                library.removeHandler(handler)
        if self._logger_level is not None:
            library.setLevel(self._logger_level)
            self._logger_level = None
        if self.owns_provider and self.provider is not None:
            provider, self.owns_provider = self.provider, False
            # shutdown() exports what is queued; a dead collector must not hold the host past the timeout.
            bounded(provider.shutdown, max(0.05, timeout), "logger provider shutdown")


class LastResortWhileUnconfigured(logging.Handler):
    """Prints what Python itself would print for a library record no other handler takes.

    Without a handler anywhere on a record's way up, Python prints a WARNING or worse on stderr
    (``logging.lastResort``). The OTLP handler attached to ``ddex_otel`` would end that: an
    application with no logging set up would no longer see the library's warnings (spans dropped,
    a collector that cannot be reached) on its terminal, only in an export that may be failing.
    This handler passes such a record to ``logging.lastResort`` while no handler but ours would
    take it; once the application (or the CLI) adds its own, it does nothing.
    """

    def __init__(self, ours: logging.Handler) -> None:
        super().__init__(logging.WARNING)
        self._ours = ours

    def emit(self, record: logging.LogRecord) -> None:
        last = logging.lastResort
        if last is None or record.levelno < last.level or self._another_handler(record.name):
            return
        last.handle(record)

    def _another_handler(self, name: str) -> bool:
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None:
            if any(h is not self and h is not self._ours for h in logger.handlers):
                return True
            logger = logger.parent if logger.propagate else None
        return False


#: Limit variables the SDK's log record limits read (it raises ValueError on a bad one) -> argument.
_LIMIT_VARS = {
    "OTEL_ATTRIBUTE_COUNT_LIMIT": "max_attributes",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "max_attribute_length",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "max_log_record_attributes",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": "max_log_record_attribute_length",
}
_DEFAULT_COUNT_LIMIT = 128


def _provider(resource: Any) -> Any:
    """The SDK's LoggerProvider; a bad limit variable is one warning and the SDK default, never an exception."""
    try:
        LogRecordLimits()  # what the provider reads from the environment
        return LoggerProvider(resource=resource, shutdown_on_exit=False)
    except ValueError:
        pass
    explicit: dict[str, int] = {}
    for name, argument in _LIMIT_VARS.items():
        raw = os.environ.get(name, "").strip()
        if raw and not raw.isdigit():
            warn_env(name, raw, "ignoring %s=%r: not a non-negative integer; using the SDK default", name, raw)
            explicit[argument] = LogRecordLimits.UNSET if "length" in argument else _DEFAULT_COUNT_LIMIT
    return LoggerProvider(resource=resource, shutdown_on_exit=False, log_record_limits=LogRecordLimits(**explicit))


def log_level() -> int:
    """``DDEX_OTEL_LOG_LEVEL`` (a name such as ``WARNING``, or a number), else INFO; bad values warn."""
    raw = os.environ.get(ENV_LOG_LEVEL, "").strip()
    if not raw:
        return DEFAULT_LOG_LEVEL
    level = int(raw) if raw.isdigit() else logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        warn_env(ENV_LOG_LEVEL, raw, "ignoring %s=%r: not a logging level; using INFO", ENV_LOG_LEVEL, raw)
        return DEFAULT_LOG_LEVEL
    return level


# ----------------------------------------------------------------------------------- exporters


def otlp_log_exporter_class(protocol: str) -> type[LogRecordExporter]:
    """The OTLP log exporter class for ``protocol``: ``setup.otlp_exporter`` makes it with the options
    the span and metric exporters get."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

        return GrpcExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

    return HttpExporter


def file_log_exporter(path: os.PathLike[str] | str) -> LogRecordExporter:
    """OTLP JSON lines in ``path`` (rotated and pruned like the traces and metrics files)."""
    from opentelemetry.exporter.otlp.json.file._log_exporter import FileLogExporter

    # Its type hint asks for an IO[str]; it only writes, flushes, closes and reads .closed.
    return FileLogExporter(stream=offline.stream(Path(path), SIGNAL))  # type: ignore[call-overload]


# -------------------------------------------------------------------------------------- install


def install(
    *,
    resource: Any,
    endpoint: str | None,
    protocol: str | None,
    headers: dict[str, str] | None,
    timeout: float | None,
    transport: tls.TransportOptions | None,
    offline_dir: str | os.PathLike[str] | None = None,
    offline_files: offline.OfflineFiles | None = None,
    files_tried: bool = False,
    set_global: bool = True,
) -> LogsHandle:
    """Set up the logs signal (see the module docstring); never raises into the host.

    Offline files when ``offline_dir`` is given or nothing else is asked for logs (the rule of the
    other signals): in ``offline_files``, the traces' and metrics' set, or, when ``configure`` did
    not try to make one (``files_tried``), a set of their own.
    """
    handle = LogsHandle()
    try:
        _install(handle, resource, endpoint, protocol, headers, timeout, transport, offline_dir, offline_files,
                 files_tried, set_global)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the host
        _logger.warning("telemetry: logs are off: %s", exc)
        handle.shutdown(0.1)
    return handle


def _install(handle: LogsHandle, resource: Any, endpoint: str | None, protocol: str | None,
             headers: dict[str, str] | None, timeout: float | None, transport: tls.TransportOptions | None,
             offline_dir: str | os.PathLike[str] | None, offline_files: offline.OfflineFiles | None,
             files_tried: bool, set_global: bool) -> None:
    from ddex_otel.telemetry import setup

    current = get_logger_provider()
    if set_global and not _is_unset(current):
        handle.provider = current
        handle.destinations.append("logs → the application's logger provider")
        return
    if offline_dir is not None or setup.wants_offline_files(SIGNAL, endpoint):
        handle.offline_files = offline_files if files_tried else setup.offline_files_with_fallback(offline_dir)
    provider = _provider(resource)
    for exporter, _, where in setup.make_exporters(SIGNAL, endpoint=endpoint, protocol=protocol, headers=headers,
                                                   timeout=timeout, transport=transport,
                                                   offline_files=handle.offline_files):
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        handle.destinations.append(f"logs → {where}")
    if set_global:
        set_logger_provider(provider)
    handle.provider, handle.owns_provider = provider, True
    level = log_level()
    with warnings.catch_warnings():  # the SDK marks its handler deprecated for a contrib package
        warnings.simplefilter("ignore", DeprecationWarning)
        handle.handler = LoggingHandler(level=level, logger_provider=provider)
    library = logging.getLogger(LIBRARY_LOGGER)
    if library.level == logging.NOTSET:
        handle._logger_level = logging.NOTSET
        library.setLevel(level)
    library.addHandler(handle.handler)
    handle.stderr_handler = LastResortWhileUnconfigured(handle.handler)
    library.addHandler(handle.stderr_handler)


def _is_unset(provider: Any) -> bool:
    """No provider set yet: the API's proxy (or a no-op one)."""
    return isinstance(provider, NoOpLoggerProvider) or type(provider).__name__ == "ProxyLoggerProvider"
