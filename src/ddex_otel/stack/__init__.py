"""The bundled telemetry stack: OpenTelemetry Collector, Jaeger and Prometheus as local processes.

`ddex-otel stack up|down|status` on the command line; `LocalStack` from Python::

    with LocalStack(free_ports=True, run_dir=tmp) as stack:
        print(stack.endpoints.otlp_grpc, stack.endpoints.jaeger, stack.endpoints.prometheus)
"""

from .errors import StackError
from .local import ComponentStatus, Endpoints, LocalStack
from .ports import Ports

__all__ = ["ComponentStatus", "Endpoints", "LocalStack", "Ports", "StackError"]
