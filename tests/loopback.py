"""Real servers on 127.0.0.1 and free ports, for tests that need something to talk to (importable as
``loopback``: pytest puts ``tests/`` on the path).

* ``GrpcOtlpReceiver``: an OTLP/gRPC endpoint (traces, metrics, logs) keeping every request;
* ``HttpReceiver``: an HTTP endpoint answering every POST with 200 and keeping path, headers and body
  (OTLP/HTTP exporters, the Slack and webhook notifiers);
* ``LoopbackController`` / ``Mailbox`` / ``authenticator``: aiosmtpd's SMTP server and what it received.
"""

from __future__ import annotations

import email
import email.policy
import threading
from concurrent import futures
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


class GrpcOtlpReceiver:
    """OTLP/gRPC traces, metrics and logs at ``endpoint``; ``received[signal]`` lists the requests."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        self.received: dict[str, list[Any]] = {"traces": [], "metrics": [], "logs": []}
        received = self.received

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):  # gRPC's method name
                received["traces"].append(request)
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):  # gRPC's method name
                received["metrics"].append(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request, context):  # gRPC's method name
                received["logs"].append(request)
                return logs_service_pb2.ExportLogsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
        port = self.server.add_insecure_port(f"{HOST}:0")
        self.server.start()
        self.endpoint = f"http://{HOST}:{port}"

    def close(self) -> None:
        self.server.stop(0)


class HttpReceiver:
    """Answers every POST at ``url`` with 200 (empty body); ``requests`` holds (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, _, body in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mailbox:
    """What the SMTP server received (aiosmtpd handler), with a deadline-bounded wait."""

    messages: list[tuple[EmailMessage, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.cond:
            self.messages.append((message, session))
            self.cond.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[tuple[EmailMessage, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= count, timeout), "no e-mail arrived"
            return list(self.messages)


def authenticator(user: str, password: str):  # aiosmtpd's callback type
    """Accepts exactly one login: ``user`` / ``password``."""
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            user.encode(), password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


class LoopbackController(Controller):
    """aiosmtpd's Controller on 127.0.0.1 and a free port (asks the OS, reads back the bound port)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def starttls_smtp(mailbox: Mailbox, server_tls: Any, user: str, password: str) -> LoopbackController:
    """SMTP with STARTTLS required, then AUTH required (one user/password); not yet started."""
    return LoopbackController(
        mailbox, hostname=HOST, port=0, tls_context=server_tls, require_starttls=True,
        auth_required=True, auth_require_tls=True, authenticator=authenticator(user, password),
    )
