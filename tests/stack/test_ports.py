"""The port check of `stack up`: a port left in TIME_WAIT by `stack down` is free, a listener is not."""

from __future__ import annotations

import socket

from ddex_otel.stack.ports import HOST, port_is_free
from support import tcp_time_wait_ports


def _plain_bind_works(port: int) -> bool:
    """What the port check did before: bind without SO_REUSEADDR."""
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _time_wait_on_server_port() -> int:
    """A port whose listener is gone but whose accepted connection sits in TIME_WAIT.

    The server side closes first, as a component does with its keep-alive connections when
    `stack down` stops it: the TIME_WAIT entry then holds the server's own port. (A client that
    closes first leaves TIME_WAIT on its ephemeral port instead, which never blocks the server's.)
    """
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the Go servers do
        server.bind((HOST, 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection((HOST, port), timeout=5)
        accepted, _ = server.accept()
        accepted.close()                       # active close on the server side → TIME_WAIT
        client.settimeout(5)
        assert client.recv(1) == b""           # the client saw the FIN ...
        client.close()                         # ... and answers with its own
    return port


def test_port_in_time_wait_is_reported_free():
    port = _time_wait_on_server_port()
    assert port in tcp_time_wait_ports(), "the test did not leave the port in TIME_WAIT"
    assert not _plain_bind_works(port), "a bind without SO_REUSEADDR should trip on TIME_WAIT here"
    assert port_is_free(port)


def test_listening_port_is_still_busy():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((HOST, 0))
        server.listen()
        assert not port_is_free(server.getsockname()[1])


def test_port_bound_on_all_interfaces_is_busy():
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))
        server.listen()
        assert not port_is_free(server.getsockname()[1])
