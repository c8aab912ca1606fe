"""Links an operator can click: the Jaeger page of a trace made by a CLI run, and its log records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

ENV_JAEGER_URL = "DDEX_OTEL_JAEGER_URL"
DEFAULT_JAEGER_URL = "http://127.0.0.1:16686"
ENV_LOGS_URL = "DDEX_OTEL_LOGS_URL"
DEFAULT_LOGS_URL = "http://127.0.0.1:9428"
DEFAULT_LOGS_URL_COMPOSE = "http://localhost:9428"  # in the shipped Jaeger UI config (compose's published port)
#: The logs store's web UI showing one trace's records (VictoriaLogs' vmui, LogsQL ``trace_id:"…"``).
#: ``{trace_id}`` is filled here; Jaeger's UI config (link patterns) uses the same with ``#{traceID}``.
LOGS_QUERY_PATH = "/select/vmui/#/?query=" + quote('trace_id:"', safe="") + "{trace_id}" + quote('"', safe="")


def _base_url(env_name: str, port_name: str, default: str, run_dir: Path | None) -> str:
    """``$env_name``, else the local stack's component on its recorded port, else ``default``."""
    env = os.environ.get(env_name, "").strip()
    if env:
        return env.rstrip("/")
    from . import paths

    state = (run_dir or paths.default_run_dir()) / "state.json"
    try:
        ports = json.loads(state.read_text())["ports"]
        return f"http://127.0.0.1:{int(ports[port_name])}"
    except (OSError, ValueError, KeyError, TypeError):
        return default


def jaeger_base_url(run_dir: Path | None = None) -> str:
    """``$DDEX_OTEL_JAEGER_URL``, else the Jaeger of the running local stack, else the default port."""
    return _base_url(ENV_JAEGER_URL, "jaeger_query", DEFAULT_JAEGER_URL, run_dir)


def logs_base_url(run_dir: Path | None = None) -> str:
    """``$DDEX_OTEL_LOGS_URL``, else the VictoriaLogs of the running local stack, else the default port."""
    return _base_url(ENV_LOGS_URL, "victorialogs", DEFAULT_LOGS_URL, run_dir)


def _hex(trace_id: int | str) -> str:
    return format(trace_id, "032x") if isinstance(trace_id, int) else trace_id.lower()


def jaeger_trace_url(trace_id: int | str, base_url: str | None = None) -> str:
    """The Jaeger UI page of one trace (``trace_id`` as an int or 32 hex digits)."""
    return f"{(base_url or jaeger_base_url()).rstrip('/')}/trace/{_hex(trace_id)}"


def logs_trace_url(trace_id: int | str, base_url: str | None = None) -> str:
    """The logs UI showing the log records of one trace (``trace_id`` as an int or 32 hex digits)."""
    return (base_url or logs_base_url()).rstrip("/") + LOGS_QUERY_PATH.format(trace_id=_hex(trace_id))


def spans_went_to_otlp(handle: Any) -> bool:
    """True when a telemetry handle (``configure()``) exported spans over OTLP: to a collector
    that can hand them to Jaeger. Offline files, the console, a dead or refusing endpoint: False,
    so no link is printed that would lead nowhere."""
    if handle is None or not getattr(handle, "enabled", False):
        return False
    return any(str(p.destination).startswith("OTLP") and p.stats().spans_exported > 0
               for p in handle.span_processors)


class TraceLinks(NamedTuple):
    """The pages of one trace a command prints: None where a link would lead nowhere."""

    jaeger: str | None = None
    logs: str | None = None


def trace_links(handle: Any, trace_id: int | str | None) -> TraceLinks:
    """The Jaeger page of ``trace_id`` when its spans went over OTLP (``spans_went_to_otlp``), and
    the logs UI query of it when its log records went over OTLP too; no trace id: no links."""
    if trace_id is None or not spans_went_to_otlp(handle):
        return TraceLinks()
    logs_over_otlp = any(str(d).startswith("logs → OTLP") for d in getattr(handle, "destinations", ()))
    return TraceLinks(jaeger_trace_url(trace_id), logs_trace_url(trace_id) if logs_over_otlp else None)
