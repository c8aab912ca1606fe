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
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import (
    OTELResourceDetector,
    OsResourceDetector,
    ProcessResourceDetector,
    Resource,
    ResourceDetector,
    get_aggregated_resources,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ddex_otel.telemetry import offline, secrets, tls
from ddex_otel.telemetry.exporters import (
    ExportFailures,
    ExportLogFilter,
    GuardedMetricExporter,
    GuardedSpanExporter,
)
from ddex_otel.telemetry.version import __version__

_logger = logging.getLogger("ddex_otel.telemetry")

DEFAULT_SERVICE_NAME = "ddex-otel"
DEFAULT_PROTOCOL = "grpc"  # what opentelemetry-distro defaults to, so both setups agree
PROTOCOLS = ("grpc", "http/protobuf")
_SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics"}


# ------------------------------------------------------------------------------------ resource


def build_resource(
    service_name: str | None = None,
    service_version: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Resource:
    """Defaults < host/os/process detectors < OTEL_* variables (via the SDK) < keyword arguments."""
    detectors: list[ResourceDetector] = [ProcessResourceDetector(), OsResourceDetector()]
    from opentelemetry.sdk import resources as sdk_resources

    host = getattr(sdk_resources, "_HostResourceDetector", None)  # private in SDK 1.45
    if host is not None:
        detectors.append(host())
    detected = get_aggregated_resources(detectors, Resource.get_empty())
    from_env = Resource.create()  # telemetry.sdk.*, service.instance.id, OTEL_* variables
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
    return defaults.merge(detected).merge(from_env).merge(Resource(overrides))


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
        _logger.warning("OTLP http/json is not supported by the Python exporters; using http/protobuf")
        chosen = "http/protobuf"
    if chosen not in PROTOCOLS:
        raise ValueError(f"unknown OTLP protocol {chosen!r}; use one of {', '.join(PROTOCOLS)}")
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
    kwargs: dict[str, Any] = {}
    if headers is not None:
        kwargs["headers"] = headers
    if timeout is not None:
        kwargs["timeout"] = timeout
    kwargs.update(tls.exporter_options(signal, protocol, transport))
    shown_headers = headers if headers is not None else _headers_dict(_env(
        f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"))
    note = f" ({secrets.describe_headers(shown_headers)})" if shown_headers else ""
    if protocol == "grpc":
        if endpoint:
            kwargs["endpoint"] = endpoint
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Exp
        else:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Exp
        where = endpoint or env_endpoint(signal) or "http://localhost:4317"
        return Exp(**kwargs), f"OTLP gRPC {secrets.mask_url(where)}{note}"
    if endpoint:
        kwargs["endpoint"] = f"{endpoint.rstrip('/')}/{_SIGNAL_PATHS[signal]}"
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HExp
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HExp
    exporter = HExp(**kwargs)
    where = getattr(exporter, "_endpoint", None) or kwargs.get("endpoint") or env_endpoint(signal)
    return exporter, f"OTLP HTTP {secrets.mask_url(str(where))}{note}"


def _named_exporter(signal: str, name: str) -> Any:
    """An exporter from OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER names, via entry points."""
    from opentelemetry.util._importlib_metadata import entry_points

    group = f"opentelemetry_{signal}_exporter"
    found = list(entry_points(group=group, name=name))
    if not found:
        raise ValueError(f"no {signal} exporter named {name!r} (entry point group {group})")
    return found[0].load()()


def _plan_exporters(
    signal: str,
    *,
    endpoint: str | None,
    protocol: str | None,
    headers: dict[str, str] | None,
    timeout: float | None,
    offline_files: offline.OfflineFiles | None,
    transport: tls.TransportOptions | None = None,
) -> list[tuple[Any, str]]:
    """[(exporter, description)] for one signal (see ``configure`` for the rules)."""
    planned: list[tuple[Any, str]] = []
    names_env = _env(f"OTEL_{signal.upper()}_EXPORTER")
    if endpoint:
        planned.append(otlp_exporter(signal, resolve_protocol(signal, protocol), endpoint, headers, timeout, transport))
    elif names_env:
        for name in (n.strip().lower() for n in names_env.split(",")):
            if name in ("", "none"):
                continue
            if name == "otlp":
                planned.append(otlp_exporter(signal, resolve_protocol(signal, protocol), None, headers, timeout, transport))
            else:
                planned.append((_named_exporter(signal, name), name))
    elif env_endpoint(signal):
        planned.append(otlp_exporter(signal, resolve_protocol(signal, protocol), None, headers, timeout, transport))
    if offline_files is not None:
        path = offline_files.traces if signal == "traces" else offline_files.metrics
        exporter = offline.span_exporter(path) if signal == "traces" else offline.metric_exporter(path)
        planned.append((exporter, str(path)))
    return planned


# -------------------------------------------------------------------------------------- handle


@dataclass
class TelemetryHandle:
    """What ``configure`` set up; ``shutdown()`` flushes and releases it (idempotent)."""

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
    _log_filter: ExportLogFilter | None = None
    _redactor: secrets.SecretRedactor | None = field(default=None, repr=False)
    _filtered_loggers: list[logging.Logger] = field(default_factory=list)
    _redacted_loggers: list[logging.Logger] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _shut_down: bool = False

    @property
    def export_failures(self) -> int:
        """Failed (or dropped) exports so far, across traces and metrics."""
        return self.failures.count

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything pending now; False if something did not make it in time."""
        ok = True
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is None:
                continue
            try:
                ok = bool(flush(timeout_millis)) and ok
            except Exception:  # noqa: BLE001
                _logger.debug("force_flush failed", exc_info=True)
                ok = False
        return ok

    def shutdown(self) -> None:
        """Uninstrument (if ``configure`` instrumented), flush and shut down owned providers."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        try:
            atexit.unregister(self.shutdown)
        except Exception:  # noqa: BLE001  # pragma: no cover
            pass
        if self.instrumented:
            from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

            try:
                DDEXInstrumentor().uninstrument()
            except Exception:  # noqa: BLE001
                _logger.debug("uninstrument failed", exc_info=True)
        if self.process_metrics is not None:
            self.process_metrics.stop()
        for owned, provider in (
            (self.owns_tracer_provider, self.tracer_provider),
            (self.owns_meter_provider, self.meter_provider),
        ):
            if owned and provider is not None:
                try:
                    provider.shutdown()
                except Exception:  # noqa: BLE001
                    _logger.debug("provider shutdown failed", exc_info=True)
        if self._log_filter is not None:
            self._log_filter.uninstall(self._filtered_loggers)
        if self._redactor is not None:
            secrets.SecretRedactor.uninstall(self._redacted_loggers, self._redactor)


def _is_unset(provider: Any, proxy_type: type) -> bool:
    return isinstance(provider, proxy_type)


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
) -> TelemetryHandle:
    """Set up traces and metrics (and instrument the engine); see the module docstring.

    Where telemetry goes, per signal:
      * ``endpoint=`` given: OTLP there (``protocol=`` or OTEL_EXPORTER_OTLP_*PROTOCOL, default
        grpc; for http/protobuf ``/v1/traces`` and ``/v1/metrics`` are appended);
      * else ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` set: those exporters
        (``otlp``, ``console``, ``otlp_json_file``, ``none`` …);
      * else an OTLP endpoint variable set: OTLP, configured by the exporter from OTEL_*;
      * else offline OTLP JSON files in ``offline_dir`` / ``$DDEX_OTEL_OFFLINE_DIR`` / ./telemetry.
    ``offline_dir=`` given explicitly adds the files to any of the above.

    ``headers`` (a mapping or ``"k=v,k2=v2"``), ``certificate_file`` (CA), ``client_certificate_file``
    / ``client_key_file`` (mTLS) and ``compression`` (``gzip``) override the matching
    ``OTEL_EXPORTER_OTLP_*`` variables; header values and URL passwords never appear in
    ``handle.destinations``, its repr or the SDK's and our log records (``secrets``).

    ``set_global=False`` keeps the providers local (tests, libraries); ``summary=True`` adds a
    ``SummarySpanProcessor`` (``handle.summary``) for the CLI's table.
    """
    handle = TelemetryHandle()
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        handle.enabled = False
        return handle
    from opentelemetry.metrics._internal import _ProxyMeterProvider
    from opentelemetry.trace import ProxyTracerProvider

    current_tp = trace.get_tracer_provider()
    current_mp = metrics.get_meter_provider()
    own_traces = not set_global or _is_unset(current_tp, ProxyTracerProvider)
    own_metrics = not set_global or _is_unset(current_mp, _ProxyMeterProvider)
    header_map = _headers_dict(headers)
    transport = tls.TransportOptions(
        *(os.fspath(f) if f is not None else None for f in (certificate_file, client_certificate_file, client_key_file)),
        compression=compression,
    )
    # Before any exporter can log: every header value and URL password is masked from here on.
    redactor = secrets.SecretRedactor(secrets.secrets_from(
        header_map, [endpoint, env_endpoint("traces"), env_endpoint("metrics")]))
    handle._redactor, handle._redacted_loggers = redactor, redactor.install()

    wants_files = {
        sig: offline_dir is not None
        or not (endpoint or _env(f"OTEL_{sig.upper()}_EXPORTER") or env_endpoint(sig))
        for sig in ("traces", "metrics")
    }
    files = None
    if (own_traces and wants_files["traces"]) or (own_metrics and wants_files["metrics"]):
        files = offline.plan_files(offline_dir)
    handle.offline_files = files
    resource = build_resource(service_name, service_version, resource_attributes) if (own_traces or own_metrics) else None
    plan = dict(endpoint=endpoint, protocol=protocol, headers=header_map, timeout=export_timeout, transport=transport)

    if own_traces:
        tp = TracerProvider(resource=resource, shutdown_on_exit=False)
        for exporter, where in _plan_exporters(
            "traces", offline_files=files if wants_files["traces"] else None, **plan
        ):
            guarded = GuardedSpanExporter(exporter, handle.failures, where, failure_cooldown)
            tp.add_span_processor(BatchSpanProcessor(guarded))
            handle.destinations.append(f"traces → {where}")
        if set_global:
            trace.set_tracer_provider(tp)
        handle.tracer_provider, handle.owns_tracer_provider = tp, True
    else:
        handle.tracer_provider = current_tp
        handle.destinations.append("traces → the application's tracer provider")

    if own_metrics:
        readers = []
        for exporter, where in _plan_exporters(
            "metrics", offline_files=files if wants_files["metrics"] else None, **plan
        ):
            if not isinstance(exporter, MetricExporter):
                _logger.warning("ignoring metrics exporter %s: not a MetricExporter", where)
                continue
            guarded_metrics = GuardedMetricExporter(exporter, handle.failures, where, failure_cooldown)
            readers.append(
                PeriodicExportingMetricReader(guarded_metrics, export_interval_millis=metric_export_interval_millis)
            )
            handle.destinations.append(f"metrics → {where}")
        mp = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
        if set_global:
            metrics.set_meter_provider(mp)
        handle.meter_provider, handle.owns_meter_provider = mp, True
    else:
        handle.meter_provider = current_mp
        handle.destinations.append("metrics → the application's meter provider")

    if summary:
        from ddex_otel.telemetry.summary import SummarySpanProcessor

        add = getattr(handle.tracer_provider, "add_span_processor", None)
        if add is not None:
            handle.summary = SummarySpanProcessor()
            add(handle.summary)

    handle._log_filter = ExportLogFilter()
    handle._filtered_loggers = handle._log_filter.install()
    handle._redacted_loggers = redactor.install()  # again: exporter modules imported meanwhile

    if instrument:
        from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

        instrumentor = DDEXInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(
                tracer_provider=handle.tracer_provider,
                meter_provider=handle.meter_provider,
                **dict(instrument_options or {}),
            )
            handle.instrumented = instrumentor.is_instrumented_by_opentelemetry
        else:
            _logger.info("ddex_otel already instrumented (e.g. by opentelemetry-instrument); leaving it")

    if process_metrics and own_metrics:
        from ddex_otel.telemetry.resources import ProcessMetrics

        handle.process_metrics = ProcessMetrics(handle.meter_provider)
        handle.process_metrics.start()

    atexit.register(handle.shutdown)
    return handle


def describe(handle: TelemetryHandle) -> list[str]:
    """Human-readable lines saying where telemetry went (for the CLI)."""
    lines = list(handle.destinations)
    if handle.offline_files is not None:
        lines.append(
            f"offline files are OTLP JSON lines: replay them with the collector's otlpjsonfile receiver "
            f"(include: {Path(handle.offline_files.directory) / '*.jsonl'})"
        )
    return lines
