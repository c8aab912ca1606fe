"""Links an operator can click: the Jaeger page of a trace made by a CLI run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV_JAEGER_URL = "DDEX_OTEL_JAEGER_URL"
DEFAULT_JAEGER_URL = "http://127.0.0.1:16686"


def jaeger_base_url(run_dir: Path | None = None) -> str:
    """``$DDEX_OTEL_JAEGER_URL``, else the Jaeger of the running local stack, else the default port."""
    env = os.environ.get(ENV_JAEGER_URL, "").strip()
    if env:
        return env.rstrip("/")
    from . import paths

    state = (run_dir or paths.default_run_dir()) / "state.json"
    try:
        ports = json.loads(state.read_text())["ports"]
        return f"http://127.0.0.1:{int(ports['jaeger_query'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_JAEGER_URL


def jaeger_trace_url(trace_id: int | str, base_url: str | None = None) -> str:
    """The Jaeger UI page of one trace (``trace_id`` as an int or 32 hex digits)."""
    hex_id = format(trace_id, "032x") if isinstance(trace_id, int) else trace_id.lower()
    return f"{(base_url or jaeger_base_url()).rstrip('/')}/trace/{hex_id}"


def spans_went_to_otlp(handle: Any) -> bool:
    """True when a telemetry handle (``configure()``) exported spans over OTLP: to a collector
    that can hand them to Jaeger. Offline files, the console, a dead or refusing endpoint: False,
    so no link is printed that would lead nowhere."""
    if handle is None or not getattr(handle, "enabled", False):
        return False
    return any(str(p.destination).startswith("OTLP") and p.stats().spans_exported > 0
               for p in handle.span_processors)


def trace_link(handle: Any, trace_id: int | str | None) -> str | None:
    """The Jaeger page of ``trace_id`` when its spans went over OTLP (``spans_went_to_otlp``), else None."""
    if trace_id is None or not spans_went_to_otlp(handle):
        return None
    return jaeger_trace_url(trace_id)
