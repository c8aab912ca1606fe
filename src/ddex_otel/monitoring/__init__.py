"""The operator's toolkit: performance monitor, profiler, resource monitor, alerting, reports.

One measurement path: everything here reads what the telemetry layer measures (the ``ddex.*``
spans as they end, the same process readings as the ``process.*`` gauges), so the numbers agree
with Jaeger and Prometheus. The engine (``ddex_otel.ern``) imports nothing from here.

Names are loaded lazily so ``import ddex_otel.monitoring`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module (inside this package) that defines it
_EXPORTS: dict[str, str] = {
    "PerformanceMonitor": "monitor",
    "Profiler": "profiler",
    "ProfileResult": "profiler",
    "ResourceMonitor": "resource_monitor",
    "ResourceSnapshot": "resource_monitor",
    "monitored": "resource_monitor",
    "process_with_monitoring": "resource_monitor",
    "Alerting": "threshold_alerts",
    "Alert": "threshold_alerts",
    "Threshold": "threshold_alerts",
    "EmailNotifier": "notifiers",
    "SlackNotifier": "notifiers",
    "WebhookNotifier": "notifiers",
    "NotificationError": "notifiers",
    "load_alerts": "alerts_config",
    "AlertsConfigError": "alerts_config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
