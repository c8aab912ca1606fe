"""The bundled telemetry stack: OpenTelemetry Collector, Jaeger, Prometheus and Alertmanager as local processes.

`ddex-otel stack up|down|status` on the command line; `LocalStack` from Python::

    with LocalStack(free_ports=True, run_dir=tmp) as stack:
        print(stack.endpoints.otlp_grpc, stack.endpoints.jaeger, stack.endpoints.prometheus)
"""

from .alert_settings import AlertSettings
from .errors import StackError
from .local import ComponentStatus, Endpoints, LocalStack
from .ports import Ports

__all__ = ["AlertSettings", "ComponentStatus", "Endpoints", "LocalStack", "Ports", "StackError"]
