"""The one place that reads a private name of an OpenTelemetry package (contract, "API hygiene").

``GuardedMetricExporter`` wraps a metric exporter, and the reader asks the wrapper, not the
exporter, which aggregation temporality and aggregation it prefers. ``MetricExporter`` takes them
as public constructor arguments but offers no public way to read them back, so the wrapper reads
the wrapped exporter's ``_preferred_temporality`` / ``_preferred_aggregation`` here. Public
fallback, should a release move them: None, i.e. the SDK's defaults (cumulative temporality, the
default aggregations) — what an OTLP exporter prefers unless
``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`` says otherwise. The tests run this module on
the lowest and the newest SDK of the supported range (tests/telemetry/test_api_hygiene.py).

``global_providers_unset`` tells whether an application has set a global tracer provider or meter
provider yet. The public getters (``trace.get_tracer_provider()``, ``metrics.get_meter_provider()``)
answer too, but while none is set each call looks its environment variable up in ``os.environ``,
which raises and catches a KeyError: paid on every operation of an app that instruments without
configuring an SDK, it costs more than the parse of a small message is allowed to. The API keeps the set
providers in module globals, ``opentelemetry.trace._TRACER_PROVIDER`` and
``opentelemetry.metrics._internal._METER_PROVIDER`` (what its own proxies read); reading them costs
nothing. Public fallback, should a release move them or a provider come from
``OTEL_PYTHON_TRACER_PROVIDER`` / ``OTEL_PYTHON_METER_PROVIDER`` (the getters build it on first
call): None, "ask the public getters".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics as metrics_api
from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_PYTHON_METER_PROVIDER, OTEL_PYTHON_TRACER_PROVIDER


def metric_exporter_preferences(exporter: Any) -> tuple[dict | None, dict | None]:
    """(preferred temporality, preferred aggregation) of ``exporter``, None where unknown."""
    temporality = getattr(exporter, "_preferred_temporality", None)
    aggregation = getattr(exporter, "_preferred_aggregation", None)
    return (temporality if isinstance(temporality, dict) else None,
            aggregation if isinstance(aggregation, dict) else None)


#: Where the API keeps the global providers (None when this release keeps them elsewhere).
_TRACE_GLOBALS: Any = trace if hasattr(trace, "_TRACER_PROVIDER") else None
_METRICS_GLOBALS: Any = getattr(metrics_api, "_internal", None)
if not hasattr(_METRICS_GLOBALS, "_METER_PROVIDER"):
    _METRICS_GLOBALS = None
#: A provider named by environment variable is built by the getters on their first call: only they know.
_FROM_ENVIRONMENT = OTEL_PYTHON_TRACER_PROVIDER in os.environ or OTEL_PYTHON_METER_PROVIDER in os.environ


def _unset_in_globals() -> bool | None:
    return _TRACE_GLOBALS._TRACER_PROVIDER is None and _METRICS_GLOBALS._METER_PROVIDER is None


def _unknown() -> bool | None:
    return None


#: ``global_providers_unset()``: True while no global tracer provider and no global meter provider
#: is set; False once either is; None when this release of the API cannot be read that way (ask the
#: public getters). Chosen once: the check runs on every operation of an app without an SDK.
global_providers_unset: Callable[[], bool | None] = (
    _unknown if _TRACE_GLOBALS is None or _METRICS_GLOBALS is None or _FROM_ENVIRONMENT else _unset_in_globals
)
