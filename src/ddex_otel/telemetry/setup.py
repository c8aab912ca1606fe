"""``configure()``: OpenTelemetry providers for an application that has none, in one call.

    import ddex_otel
    handle = ddex_otel.configure()            # offline files in ./telemetry/ unless an endpoint is set
    handle = ddex_otel.configure(endpoint="http://127.0.0.1:4317", protocol="grpc")
    ...
    handle.shutdown()                         # flushes everything; also registered with atexit

Configuration comes from the standard ``OTEL_*`` variables, read by the SDK and the exporters
themselves (endpoint, headers, compression, certificates, timeout, ``OTEL_TRACES_SAMPLER`` and
its argument, ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_BSP_*``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``, ``OTEL_SDK_DISABLED``);
keyword arguments override them. Providers the application already installed are left alone
(only instrumented). Telemetry never breaks the host: see ``exporters``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ddex_otel.telemetry import sdkimport  # noqa: F401 - first: tolerate a bad span limit variable

# isort: split
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider

from ddex_otel.telemetry import offline, secrets, tls
from ddex_otel.telemetry.apitypes import is_api_placeholder
from ddex_otel.telemetry.attributes import DEFAULT_SERVICE_NAME
from ddex_otel.telemetry.delivery import (
    DeliverySettings,
    DeliverySpanProcessor,
    DeliveryStats,
    MetricDelivery,
    bounded,
    register_delivery_metrics,
    total_stats,
)
from ddex_otel.telemetry.envvars import sdk_disabled, warn_env
from ddex_otel.telemetry.exporters import (
    ExportFailures,
    ExportLogFilter,
    GuardedMetricExporter,
    GuardedSpanExporter,
)
from ddex_otel.telemetry.version import __version__

_logger = logging.getLogger("ddex_otel.telemetry")

DEFAULT_PROTOCOL = "grpc"  # what opentelemetry-distro defaults to, so both setups agree
PROTOCOLS = ("grpc", "http/protobuf")
_SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


# ------------------------------------------------------------------------------------ resource


#: What OTEL_EXPERIMENTAL_RESOURCE_DETECTORS means when it is unset (the SDK's detector entry points).
DEFAULT_RESOURCE_DETECTORS = "process,os,host"
_RESOURCE_DETECTORS_VAR = "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"


def build_resource(
    service_name: str | None = None,
    service_version: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Resource:
    """Defaults < the SDK's resource detectors and OTEL_* variables < keyword arguments.

    Detection is the SDK's own ``Resource.create()``, with the detectors
    ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`` names; unset, it is set to ``process,os,host`` for
    this process (and the processes it starts). Naming them there is also what makes the SDK's
    providers refresh ``process.pid`` in a forked child: they re-run the process-dependent
    detectors that variable names.
    """
    if not os.environ.get(_RESOURCE_DETECTORS_VAR, "").strip():
        os.environ[_RESOURCE_DETECTORS_VAR] = DEFAULT_RESOURCE_DETECTORS
    from_env = Resource.create()  # detectors, telemetry.sdk.*, service.instance.id, OTEL_* variables
    env_named = bool(os.environ.get("OTEL_SERVICE_NAME")) or "service.name" in OTELResourceDetector().detect().attributes
    if not env_named:  # drop the SDK's "unknown_service:…" so our default shows
        from_env = Resource(
            {k: v for k, v in from_env.attributes.items() if k != "service.name"}, from_env.schema_url
        )
    overrides: dict[str, Any] = dict(attributes or {})
    if service_name:
        overrides["service.name"] = service_name
    if service_version:
        overrides["service.version"] = service_version
    defaults = Resource({"service.name": DEFAULT_SERVICE_NAME, "service.version": __version__})
    return defaults.merge(from_env).merge(Resource(overrides))


# ----------------------------------------------------------------------------------- exporters


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def resolve_protocol(signal: str, protocol: str | None = None) -> str:
    """keyword > OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL > OTEL_EXPORTER_OTLP_PROTOCOL > grpc."""
    chosen = protocol or _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    chosen = (chosen or DEFAULT_PROTOCOL).strip().lower()
    if chosen == "http/json":
        warn_env("OTEL_EXPORTER_OTLP_PROTOCOL", chosen,
                 "OTLP http/json is not supported by the Python exporters; using http/protobuf")
        chosen = "http/protobuf"
    if chosen not in PROTOCOLS:
        if protocol:  # an explicit argument is a programming error
            raise ValueError(f"unknown OTLP protocol {chosen!r}; use one of {', '.join(PROTOCOLS)}")
        warn_env("OTEL_EXPORTER_OTLP_PROTOCOL", chosen, "ignoring OTLP protocol %r from the environment "
                 "(use one of %s); using %s", chosen, ", ".join(PROTOCOLS), DEFAULT_PROTOCOL)
        chosen = DEFAULT_PROTOCOL
    return chosen


def env_endpoint(signal: str) -> str | None:
    return _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def _headers_dict(headers: Mapping[str, str] | str | None) -> dict[str, str] | None:
    if headers is None:
        return None
    if isinstance(headers, str):
        from opentelemetry.util.re import parse_env_headers

        return dict(parse_env_headers(headers, liberal=True))
    return dict(headers)


def otlp_exporter(
    signal: str,
    protocol: str,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    transport: tls.TransportOptions | None = None,
) -> tuple[Any, str]:
    """An OTLP exporter for ``signal``; what is not given is read from OTEL_* by the exporter.

    TLS files and compression come from ``transport`` (see ``tls``); the description names the
    endpoint with any password or query value masked, and the header names only (``secrets``).

    ``endpoint`` is a base URL like OTEL_EXPORTER_OTLP_ENDPOINT: for http/protobuf the signal
    path (``/v1/traces``) is appended here, since the exporters' ``endpoint=`` takes a full URL.
    """
    exporter_class = _otlp_exporter_class(signal, protocol)
    return (exporter_class(**otlp_options(signal, protocol, endpoint, headers, timeout, transport)),
            _otlp_where(signal, protocol, endpoint, headers))


def _otlp_exporter_class(signal: str, protocol: str) -> Any:
    """The OTLP exporter class of ``signal`` for ``protocol`` (``grpc`` or ``http/protobuf``)."""
    if signal == "logs":  # its modules are imported in ``logs`` alone (API hygiene)
        from ddex_otel.telemetry import logs

        return logs.otlp_log_exporter_class(protocol)
    if protocol == "grpc":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            return OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        return OTLPMetricExporter
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
        return HttpSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
    return HttpMetricExporter


def otlp_options(signal: str, protocol: str, endpoint: str | None = None, headers: dict[str, str] | None = None,
                 timeout: float | None = None, transport: tls.TransportOptions | None = None) -> dict[str, Any]:
    """Keyword arguments of the OTLP exporter of ``signal`` (see ``otlp_exporter``)."""
    kwargs: dict[str, Any] = _exporter_options(signal, protocol)
    if headers is not None:
        kwargs["headers"] = headers
    if timeout is not None:
        kwargs["timeout"] = timeout
    kwargs.update(tls.exporter_options(signal, protocol, transport))
    if endpoint:
        kwargs["endpoint"] = endpoint if protocol == "grpc" else f"{endpoint.rstrip('/')}/{_SIGNAL_PATHS[signal]}"
    return kwargs


def _named_exporter(signal: str, name: str) -> Any:
    """An exporter from OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER names, via entry points."""
    group = f"opentelemetry_{signal}_exporter"
    found = list(entry_points(group=group, name=name))
    if not found:
        raise ValueError(f"no {signal} exporter named {name!r} (entry point group {group})")
    if name == "console":  # telemetry is a diagnostic: stderr, never into a command's data on stdout
        return found[0].load()(out=sys.stderr)
    return found[0].load()()


#: An exporter factory (called again in a forked child: channels and files do not survive fork).
ExporterFactory = Callable[[], Any]

#: OTEL_*_EXPORTER names that mean "the offline OTLP JSON files" (the README's table).
_FILE_EXPORTER_NAMES = frozenset({"otlp_json_file", "otlp_file", "file"})


def _exporter_names(signal: str) -> list[str] | None:
    """Valid names from OTEL_<SIGNAL>_EXPORTER; unknown ones are one warning each and ignored.

    None when the variable is unset or names nothing usable (the caller falls back).
    """
    raw = _env(f"OTEL_{signal.upper()}_EXPORTER")
    if raw is None:
        return None
    valid: list[str] = []
    for name in (n.strip().lower() for n in raw.split(",")):
        if not name:
            continue
        if name in ("none", "otlp") or name in _FILE_EXPORTER_NAMES:
            valid.append(name)
        elif list(entry_points(group=f"opentelemetry_{signal}_exporter", name=name)):
            valid.append(name)
        else:
            warn_env(f"OTEL_{signal.upper()}_EXPORTER", name, "ignoring unknown exporter %r in OTEL_%s_EXPORTER",
                     name, signal.upper())
    return valid or None


def _plan_exporters(
    signal: str,
    *,
    endpoint: str | None,
    protocol: str | None,
    headers: dict[str, str] | None,
    timeout: float | None,
    offline_files: offline.OfflineFiles | None,
    transport: tls.TransportOptions | None = None,
) -> list[tuple[ExporterFactory, str]]:
    """[(exporter factory, description)] for one signal (see ``configure`` for the rules)."""
    planned: list[tuple[ExporterFactory, str]] = []

    def otlp(base: str | None) -> None:
        chosen = resolve_protocol(signal, protocol)
        planned.append((lambda: otlp_exporter(signal, chosen, base, headers, timeout, transport)[0],
                        _otlp_where(signal, chosen, base, headers)))

    names = _exporter_names(signal)
    if endpoint:
        otlp(endpoint)
    elif names is not None:
        for name in names:
            if name == "none" or name in _FILE_EXPORTER_NAMES:
                continue  # files: added below (configure asked for them)
            if name == "otlp":
                otlp(None)
            else:
                planned.append((functools.partial(_named_exporter, signal, name), name))
    elif env_endpoint(signal):
        otlp(None)
    if offline_files is not None:
        path = getattr(offline_files, signal)
        factory = _offline_exporters()[signal]
        planned.append((lambda: factory(path), str(path)))
    return planned


def make_exporters(signal: str, **plan: Any) -> Iterator[tuple[Any, ExporterFactory, str]]:
    """(exporter, its factory, description) for each exporter ``_plan_exporters`` plans for ``signal``
    (same keyword arguments); one that cannot be made is a warning and left out."""
    for factory, where in _plan_exporters(signal, **plan):
        try:
            exporter = factory()
        except Exception as exc:  # noqa: BLE001 - a broken exporter is a warning
            _logger.warning("telemetry: %s → %s is off: %s", signal, where, exc)
            continue
        yield exporter, factory, where


def _offline_exporters() -> dict[str, Callable[[Path], Any]]:
    from ddex_otel.telemetry import logs

    return {"traces": offline.span_exporter, "metrics": offline.metric_exporter, "logs": logs.file_log_exporter}


def _otlp_where(signal: str, protocol: str, endpoint: str | None, headers: dict[str, str] | None = None) -> str:
    """Where OTLP goes, for ``handle.destinations``: URL password and query masked, header names only."""
    shown = headers if headers is not None else _headers_dict(_env(
        f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"))
    note = f" ({secrets.describe_headers(shown)})" if shown else ""
    if protocol == "grpc":
        return f"OTLP gRPC {secrets.mask_url(endpoint or env_endpoint(signal) or 'http://localhost:4317')}{note}"
    if endpoint:
        where = f"{endpoint.rstrip('/')}/{_SIGNAL_PATHS[signal]}"
    else:
        where = env_endpoint(signal) or "http://localhost:4318"
    return f"OTLP HTTP {secrets.mask_url(where)}{note}"


def wants_offline_files(signal: str, endpoint: str | None) -> bool:
    """Files when nothing else is asked for, or when OTEL_<SIGNAL>_EXPORTER names the file exporter."""
    names = _exporter_names(signal)
    if names is not None and any(n in _FILE_EXPORTER_NAMES for n in names):
        return True
    return not (endpoint or names is not None or env_endpoint(signal))


# --------------------------------------------------------------------- tolerant OTEL_* variables

#: SpanLimits argument for each limit variable the SDK reads (it raises ValueError on a bad one).
_SPAN_LIMIT_VARS = {
    "OTEL_ATTRIBUTE_COUNT_LIMIT": "max_attributes",
    "OTEL_SPAN_EVENT_COUNT_LIMIT": "max_events",
    "OTEL_SPAN_LINK_COUNT_LIMIT": "max_links",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "max_span_attributes",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "max_event_attributes",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "max_link_attributes",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "max_attribute_length",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "max_span_attribute_length",
}


def _span_limits() -> Any:
    """SpanLimits from the environment; a bad value is a warning and the SDK default."""
    from opentelemetry.sdk.trace import SpanLimits

    explicit: dict[str, int] = {}
    for name, argument in _SPAN_LIMIT_VARS.items():
        raw = os.environ.get(name, "").strip()
        if raw and not (raw.isdigit()):
            fallback = SpanLimits.UNSET if "length" in argument else 128
            if name != "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT":  # sdkimport already said so
                warn_env(name, raw, "ignoring %s=%r: not a non-negative integer; using the SDK default", name, raw)
            explicit[argument] = fallback
    return SpanLimits(**explicit)


def _exporter_options(signal: str, protocol: str) -> dict[str, Any]:
    """Keyword arguments that replace bad OTEL_EXPORTER_OTLP_* timeout/compression values."""
    options: dict[str, Any] = {}
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                if float(raw) <= 0:
                    raise ValueError(raw)
            except ValueError:
                warn_env(name, raw, "ignoring %s=%r: not a positive number of seconds; using 10", name, raw)
                options["timeout"] = 10.0
            break
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"):
        raw = os.environ.get(name, "").strip().lower()
        if raw:
            valid = ("gzip", "none") if protocol == "grpc" else ("gzip", "deflate", "none")
            if raw not in valid:
                warn_env(name, raw, "ignoring %s=%r: use one of %s; sending uncompressed", name, raw, ", ".join(valid))
                if protocol == "grpc":
                    from grpc import Compression
                else:
                    from opentelemetry.exporter.otlp.proto.http import Compression
                options["compression"] = Compression.NoCompression
            break
    return options


# -------------------------------------------------------------------------------------- handle


@dataclass(eq=False)
class TelemetryHandle:
    """What ``configure`` set up; ``shutdown()`` flushes and releases it (idempotent, bounded)."""

    tracer_provider: Any = None
    meter_provider: Any = None
    owns_tracer_provider: bool = False
    owns_meter_provider: bool = False
    destinations: list[str] = field(default_factory=list)
    offline_files: offline.OfflineFiles | None = None
    summary: Any = None
    failures: ExportFailures = field(default_factory=ExportFailures)
    instrumented: bool = False
    process_metrics: Any = None
    enabled: bool = True
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    span_processors: list[DeliverySpanProcessor] = field(default_factory=list)
    metric_delivery: list[MetricDelivery] = field(default_factory=list)
    logs: Any = None  # logs.LogsHandle: the logger provider and the handler on the ddex_otel logger
    _log_filter: ExportLogFilter | None = None
    _redactor: secrets.SecretRedactor | None = field(default=None, repr=False)
    _filtered_loggers: list[logging.Logger] = field(default_factory=list)
    _redacted_loggers: list[logging.Logger] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _shut_down: bool = False
    #: Gives back the summary's request for stage attributes and resource usage (its stage rows, CPU and memory).
    _release_details: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def export_failures(self) -> int:
        """Failed (or dropped) exports so far, across traces and metrics."""
        return self.failures.count

    @property
    def delivery(self) -> DeliveryStats:
        """Spans ended / exported / dropped (by reason) and metric exports, now (see ``delivery``)."""
        return total_stats(self.span_processors, self.metric_delivery)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything pending now; False if something did not make it in time."""
        ok = self.logs.force_flush(timeout_millis) if self.logs is not None else True
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is None:
                continue
            try:
                ok = bool(flush(timeout_millis)) and ok
            except Exception:
                _logger.debug("force_flush failed", exc_info=True)
                ok = False
        return ok

    def shutdown(self, timeout: float | None = None) -> None:
        """Uninstrument, flush and shut down owned providers within ``timeout`` seconds.

        Default: ``DDEX_OTEL_SHUTDOWN_TIMEOUT`` (2 s). Spans not exported by then are counted as
        dropped (``delivery``); a dead or silent collector never holds the caller longer.
        """
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        budget = self.settings.shutdown_timeout if timeout is None else max(0.0, timeout)
        deadline = time.monotonic() + budget
        # Exports get the budget minus a reserve for counting and reporting what did not make it.
        export_deadline = deadline - min(0.3, budget / 4)
        try:
            atexit.unregister(self.shutdown)
        except Exception:  # noqa: BLE001  # pragma: no cover
            pass
        if self._release_details is not None:
            self._release_details()
            self._release_details = None
        if self.instrumented:
            from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

            try:
                DDEXInstrumentor().uninstrument()
            except Exception:
                _logger.debug("uninstrument failed", exc_info=True)
        if self.process_metrics is not None:
            try:
                self.process_metrics.stop()
            except Exception:
                _logger.debug("process metrics stop failed", exc_info=True)
        # Traces (each destination) and metrics shut down in parallel, all against one deadline.
        steps: list[threading.Thread] = []

        def start(fn: Callable[[], Any], name: str) -> None:
            thread = threading.Thread(target=_quiet(fn, name), name=f"ddex-otel-{name}", daemon=True)
            thread.start()
            steps.append(thread)

        if self.owns_tracer_provider:
            for processor in self.span_processors:
                start(functools.partial(_shutdown_by, processor, export_deadline), "span-shutdown")
        if self.owns_meter_provider and self.meter_provider is not None:
            millis = max(1.0, (export_deadline - time.monotonic()) * 1000)
            start(lambda: self.meter_provider.shutdown(timeout_millis=millis), "metric-shutdown")
        if self.logs is not None:
            start(lambda: self.logs.shutdown(max(0.0, export_deadline - time.monotonic())), "log-shutdown")
        for thread in steps:
            thread.join(max(0.0, deadline - time.monotonic()))
        for counters in self.metric_delivery:
            counters.abandon_inflight()  # a metric export still running past the deadline is lost
        if self.owns_tracer_provider and self.tracer_provider is not None:
            # Our processors are done (or abandoned); this shuts down the others (summary …).
            bounded(self.tracer_provider.shutdown, max(0.05, deadline - time.monotonic()), "tracer provider shutdown")
        if self._log_filter is not None:
            self._log_filter.uninstall(self._filtered_loggers)
        if self._redactor is not None:
            secrets.SecretRedactor.uninstall(self._redacted_loggers, self._redactor)

    def _after_fork_in_child(self) -> None:
        """In a forked child: fresh lock and counters; the processors re-initialise themselves."""
        self._lock = threading.Lock()
        for counters in self.metric_delivery:
            counters.reset()
        # The SDK's providers give the child its own process.pid and service.instance.id themselves.
        if self.process_metrics is not None:
            reinit = getattr(self.process_metrics, "after_fork", None)
            if reinit is not None:
                reinit()

    def _flush_at_worker_exit(self) -> None:
        """multiprocessing workers leave through ``os._exit`` (no atexit): flush from its finalizers."""
        from multiprocessing import util

        util.Finalize(self, self.shutdown, exitpriority=100)


def _shutdown_by(processor: Any, deadline: float) -> None:
    """Shut a span processor down with what is left until ``deadline`` (``time.monotonic()``)."""
    processor.shutdown(max(0.0, deadline - time.monotonic()))


def _quiet(fn: Callable[[], Any], what: str) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except Exception:  # telemetry never raises into the host
            _logger.debug("%s failed", what, exc_info=True)

    return run


def _is_unset(provider: Any) -> bool:
    """True while the global provider is still the API's proxy (a no-op one set on purpose is a choice)."""
    return is_api_placeholder(provider) and not isinstance(provider, (trace.NoOpTracerProvider,
                                                                      metrics.NoOpMeterProvider))


def _register_fork_hooks(handle: TelemetryHandle) -> None:
    """Re-initialise in forked children and flush at a multiprocessing worker's exit."""
    weak = weakref.ref(handle)

    def after_in_child() -> None:
        h = weak()
        if h is not None:
            h._after_fork_in_child()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_in_child)
    from multiprocessing import util

    util.register_after_fork(handle, TelemetryHandle._flush_at_worker_exit)


def offline_files_with_fallback(offline_dir: str | os.PathLike[str] | None) -> offline.OfflineFiles | None:
    """This process's offline files; an unwritable directory is one warning and a fallback."""
    first = offline.offline_dir(offline_dir)
    try:
        return offline.plan_files(offline_dir)
    except OSError as err:
        exc = err
    fallback = offline.fallback_dir()
    try:
        files = offline.plan_files(fallback)
    except OSError as exc2:
        _logger.warning("telemetry: cannot write offline files in %s (%s) nor in %s (%s); telemetry is not "
                        "exported (set DDEX_OTEL_OFFLINE_DIR or an OTLP endpoint)",
                        first, exc.strerror or exc, fallback, exc2.strerror or exc2)
        return None
    _logger.warning("telemetry: cannot write offline files in %s (%s); writing them to %s instead",
                    first, exc.strerror or exc, fallback)
    return files


def configure(
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | str | None = None,
    certificate_file: str | os.PathLike[str] | None = None,
    client_certificate_file: str | os.PathLike[str] | None = None,
    client_key_file: str | os.PathLike[str] | None = None,
    compression: str | None = None,
    service_name: str | None = None,
    service_version: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    offline_dir: str | os.PathLike[str] | None = None,
    export_timeout: float | None = None,
    metric_export_interval_millis: float | None = None,
    instrument: bool = True,
    instrument_options: Mapping[str, Any] | None = None,
    process_metrics: bool = True,
    summary: bool = False,
    set_global: bool = True,
    failure_cooldown: float = 5.0,
    shutdown_timeout: float | None = None,
) -> TelemetryHandle:
    """Set up traces and metrics (and instrument the engine); see the module docstring.

    Where telemetry goes, per signal:
      * ``endpoint=`` given: OTLP there (``protocol=`` or OTEL_EXPORTER_OTLP_*PROTOCOL, default
        grpc; for http/protobuf ``/v1/traces`` and ``/v1/metrics`` are appended);
      * else ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` set: those exporters
        (``otlp``, ``console``, ``otlp_json_file`` = the offline files, ``none`` …; unknown
        names are a warning and ignored);
      * else an OTLP endpoint variable set: OTLP, configured by the exporter from OTEL_*;
      * else offline OTLP JSON files in ``offline_dir`` / ``$DDEX_OTEL_OFFLINE_DIR`` / ./telemetry
        (an unwritable directory: one warning, then a per-user temporary directory).
    ``offline_dir=`` given explicitly adds the files to any of the above.

    ``headers`` (a mapping or ``"k=v,k2=v2"``), ``certificate_file`` (CA), ``client_certificate_file``
    / ``client_key_file`` (mTLS) and ``compression`` (``gzip``) override the matching
    ``OTEL_EXPORTER_OTLP_*`` variables; header values and URL passwords never appear in
    ``handle.destinations``, its repr or the SDK's and our log records (``secrets``).

    Spans go through ``DeliverySpanProcessor`` (``handle.delivery`` counts them);
    ``shutdown_timeout`` (default ``DDEX_OTEL_SHUTDOWN_TIMEOUT``, 2 s) bounds ``shutdown()``.
    ``set_global=False`` keeps the providers local (tests, libraries); ``summary=True`` adds a
    ``SummarySpanProcessor`` (``handle.summary``) for the CLI's table, and with it per-operation
    resource usage until ``shutdown()`` (the table's CPU and memory columns).

    A bad environment value is a warning and a fallback, never an exception; only invalid
    keyword arguments raise ``ValueError``.
    """
    handle = TelemetryHandle()
    if sdk_disabled():
        handle.enabled = False
        return handle
    handle.settings = DeliverySettings.from_env(shutdown_timeout)
    current_tp = trace.get_tracer_provider()
    current_mp = metrics.get_meter_provider()
    own_traces = not set_global or _is_unset(current_tp)
    own_metrics = not set_global or _is_unset(current_mp)
    header_map = _headers_dict(headers)
    if protocol is not None:
        resolve_protocol("traces", protocol)  # an invalid argument raises here, before anything starts
    transport = tls.TransportOptions.of(certificate_file, client_certificate_file, client_key_file, compression)
    # Before any exporter can log: every header value and URL password is masked from here on.
    redactor = _install_redactor(handle, header_map, endpoint)

    wants_files = {sig: offline_dir is not None or wants_offline_files(sig, endpoint) for sig in ("traces", "metrics")}
    files = None
    if (own_traces and wants_files["traces"]) or (own_metrics and wants_files["metrics"]):
        files = offline_files_with_fallback(offline_dir)
    handle.offline_files = files
    resource = build_resource(service_name, service_version, resource_attributes) if (own_traces or own_metrics) else None
    plan: dict[str, Any] = dict(endpoint=endpoint, protocol=protocol, headers=header_map, timeout=export_timeout,
                                transport=transport)

    if own_traces:
        _own_traces(handle, resource, files if wants_files["traces"] else None, plan, set_global)
    else:
        handle.tracer_provider = current_tp
        handle.destinations.append("traces → the application's tracer provider")
    if own_metrics:
        _own_metrics(handle, resource, files if wants_files["metrics"] else None, plan, set_global,
                     failure_cooldown, metric_export_interval_millis)
    else:
        handle.meter_provider = current_mp
        handle.destinations.append("metrics → the application's meter provider")
    if own_traces or own_metrics:  # the logs signal follows the same choices (see ``logs``)
        _own_logs(handle, resource, set_global, offline_dir, files,
                  files is not None or any(wants_files.values()), plan)
    if summary:
        _add_summary(handle)

    _install_log_filters(handle, redactor)

    if instrument:
        _instrument(handle, instrument_options)
    if process_metrics and own_metrics:
        _start_process_metrics(handle)

    _register_fork_hooks(handle)
    atexit.register(handle.shutdown)
    return handle


def _install_redactor(handle: TelemetryHandle, header_map: dict[str, str] | None,
                      endpoint: str | None) -> secrets.SecretRedactor:
    """Mask the header values and endpoint passwords in every log record (the SDK's and ours)."""
    redactor = secrets.SecretRedactor(secrets.secrets_from(
        header_map, [endpoint, env_endpoint("traces"), env_endpoint("metrics")]))
    handle._redactor, handle._redacted_loggers = redactor, redactor.install()
    return redactor


def _install_log_filters(handle: TelemetryHandle, redactor: secrets.SecretRedactor) -> None:
    """Rate-limit the exporters' failure records (noting causes in ``handle.failures``); mask secrets in their loggers."""
    handle._log_filter = ExportLogFilter(failures=handle.failures)
    handle._filtered_loggers = handle._log_filter.install()
    handle._redacted_loggers = redactor.install()  # again: exporter modules imported meanwhile


def _own_logs(handle: TelemetryHandle, resource: Any, set_global: bool, offline_dir: str | os.PathLike[str] | None,
              files: offline.OfflineFiles | None, files_tried: bool, plan: dict[str, Any]) -> None:
    """The logs signal, by the traces' and metrics' choices; its files and destinations join the handle's."""
    from ddex_otel.telemetry import logs

    handle.logs = logs.install(resource=resource, set_global=set_global, offline_dir=offline_dir,
                               offline_files=files, files_tried=files_tried, **plan)
    handle.offline_files = handle.offline_files or handle.logs.offline_files
    handle.destinations.extend(handle.logs.destinations)


def _start_process_metrics(handle: TelemetryHandle) -> None:
    """This process's gauges (CPU, memory, threads, GC) through the handle's meter provider."""
    from ddex_otel.telemetry.resource_usage import ProcessMetrics

    handle.process_metrics = ProcessMetrics(handle.meter_provider)
    handle.process_metrics.start()


def _own_traces(handle: TelemetryHandle, resource: Any, files: offline.OfflineFiles | None, plan: dict[str, Any],
                set_global: bool) -> None:
    """A tracer provider of ours: one guarded exporter and ``DeliverySpanProcessor`` per destination."""
    tp = TracerProvider(resource=resource, shutdown_on_exit=False, span_limits=_span_limits())
    for inner, _, where in make_exporters("traces", offline_files=files, **plan):
        # No cooldown: DeliverySpanProcessor retries with backoff and counts what it cannot deliver.
        exporter = GuardedSpanExporter(inner, handle.failures, where, cooldown=0)
        processor = DeliverySpanProcessor(exporter, handle.settings, destination=where)
        tp.add_span_processor(processor)
        handle.span_processors.append(processor)
        handle.destinations.append(f"traces → {where}")
    if set_global:
        trace.set_tracer_provider(tp)
    handle.tracer_provider, handle.owns_tracer_provider = tp, True


def _own_metrics(handle: TelemetryHandle, resource: Any, files: offline.OfflineFiles | None, plan: dict[str, Any],
                 set_global: bool, failure_cooldown: float, export_interval_millis: float | None) -> None:
    """A meter provider of ours: a periodic reader over a guarded, counted exporter per destination,
    and the delivery counters of the spans as metrics."""
    readers = []
    for exporter, factory, where in make_exporters("metrics", offline_files=files, **plan):
        if not isinstance(exporter, MetricExporter):
            _logger.warning("ignoring metrics exporter %s: not a MetricExporter", where)
            continue
        counters = MetricDelivery()
        guarded_metrics = GuardedMetricExporter(exporter, handle.failures, where, failure_cooldown,
                                                delivery=counters, factory=factory)
        readers.append(PeriodicExportingMetricReader(guarded_metrics, export_interval_millis=export_interval_millis))
        handle.metric_delivery.append(counters)
        handle.destinations.append(f"metrics → {where}")
    mp = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    if set_global:
        metrics.set_meter_provider(mp)
    handle.meter_provider, handle.owns_meter_provider = mp, True
    if handle.span_processors:
        register_delivery_metrics(mp, lambda: total_stats(handle.span_processors))


def _add_summary(handle: TelemetryHandle) -> None:
    """The CLI's table: a ``SummarySpanProcessor``, and per-operation details until ``shutdown()``."""
    from ddex_otel.telemetry.spans import request_operation_details
    from ddex_otel.telemetry.summary import SummarySpanProcessor

    add = getattr(handle.tracer_provider, "add_span_processor", None)
    if add is not None:
        handle.summary = SummarySpanProcessor()
        add(handle.summary)
        handle._release_details = request_operation_details()  # the table's stages, CPU and memory


def _instrument(handle: TelemetryHandle, options: Mapping[str, Any] | None) -> None:
    """Instrument the engine with the handle's providers, unless something (``opentelemetry-instrument``) did."""
    from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

    instrumentor = DDEXInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        _logger.info("ddex_otel already instrumented (e.g. by opentelemetry-instrument); leaving it")
        return
    instrumentor.instrument(tracer_provider=handle.tracer_provider, meter_provider=handle.meter_provider,
                            **dict(options or {}))
    handle.instrumented = instrumentor.is_instrumented_by_opentelemetry


def describe(handle: TelemetryHandle) -> list[str]:
    """Human-readable lines saying where telemetry went (for the CLI)."""
    lines = list(handle.destinations)
    if handle.offline_files is not None:
        lines.append(
            f"offline files are OTLP JSON lines: replay them with the collector's otlpjsonfile receiver "
            f"(include: {Path(handle.offline_files.directory) / '*.jsonl'})"
        )
    return lines
