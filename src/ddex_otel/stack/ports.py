"""Port layout of the local stack: defaults, free-port picking, and availability checks."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    """TCP ports the stack's components listen on (all bound to 127.0.0.1)."""

    collector_otlp_grpc: int = 4317
    collector_otlp_http: int = 4318
    collector_prometheus: int = 8889  # the collector's prometheus exporter, scraped by Prometheus
    collector_health: int = 13133
    collector_metrics: int = 8888  # the collector's own telemetry
    jaeger_query: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    prometheus: int = 9090
    alertmanager: int = 9093  # clustering disabled: no cluster port
    victorialogs: int = 9428  # VictoriaLogs: OTLP logs in, LogsQL API and its web UI out

    @classmethod
    def free(cls) -> Ports:
        """Ports the OS reports free right now, one per component."""
        names = [f.name for f in fields(cls)]
        with ExitStack() as stack:
            socks = []
            for _ in names:
                s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                s.bind((HOST, 0))
                socks.append(s)
            return cls(**{n: s.getsockname()[1] for n, s in zip(names, socks, strict=True)})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def busy(self) -> list[tuple[str, int]]:
        """(name, port) pairs that something already listens on."""
        return [(name, port) for name, port in self.as_dict().items() if not port_is_free(port)]


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on host:port, so a server could bind it now.

    SO_REUSEADDR, as the components' servers set it: connections they closed on `stack down` linger
    in TIME_WAIT for a minute on the old port, and must not block an immediate `stack up`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
