"""`ddex-otel stack up|status|down` as a user runs them, each test with its own stack on free ports.

A restart works at once (ports left in TIME_WAIT by `down` are not "in use"); `status` lists every
URL and whether the Jaeger UI is installed; a stack without a UI build still starts and says how to
add one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddex_otel.stack import Ports, jaegerui
from ddex_otel.stack.local import ORDER
from ddex_otel.stack.ports import HOST
from support import stack_binaries, tcp_time_wait_ports

CLI = Path(sys.executable).parent / "ddex-otel"


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return stack_binaries()


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "stack", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _port_flags(ports: Ports) -> list[str]:
    flags = []
    for name, port in ports.as_dict().items():
        flags += ["--" + name.replace("_", "-") + "-port", str(port)]
    return flags


class CliStack:
    """A stack started with `ddex-otel stack up` in its own run dir; always brought down."""

    def __init__(self, run_dir: Path, bin_dir: Path, env: dict[str, str] | None = None) -> None:
        self.run_dir = run_dir
        self.env = {"DDEX_OTEL_BIN_DIR": str(bin_dir), **(env or {})}
        self.ports = Ports.free()

    def up(self) -> subprocess.CompletedProcess:
        return _cli("up", "--run-dir", str(self.run_dir), *_port_flags(self.ports), env=self.env)

    def down(self) -> subprocess.CompletedProcess:
        return _cli("down", "--run-dir", str(self.run_dir), env=self.env)

    def status(self, *extra: str) -> subprocess.CompletedProcess:
        return _cli("status", "--run-dir", str(self.run_dir), *extra, env=self.env)


@pytest.fixture
def cli_stack(tmp_path, bin_dir):
    stacks: list[CliStack] = []

    def make(**env: str) -> CliStack:
        stacks.append(CliStack(tmp_path / f"run{len(stacks)}", bin_dir, env))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.down()


def _plain_bind_fails(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def test_down_then_up_at_once_works(cli_stack):
    stack = cli_stack()
    first = stack.up()
    assert first.returncode == 0, first.stdout + first.stderr
    assert stack.down().returncode == 0
    # `up` probed each component's health over fresh connections the servers closed: the ports
    # the servers held now sit in TIME_WAIT, the state that made the old port check refuse.
    lingering = tcp_time_wait_ports() & set(stack.ports.as_dict().values())
    assert lingering, "no stack port in TIME_WAIT after down: this test would prove nothing"
    assert any(_plain_bind_fails(port) for port in lingering)
    start = time.monotonic()
    again = stack.up()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ports already in use" not in again.stderr
    status = json.loads(stack.status("--json").stdout)
    assert [c["name"] for c in status["components"]] == list(ORDER)
    assert all(c["healthy"] for c in status["components"]), status["components"]
    assert time.monotonic() - start < 60


def test_status_lists_every_url_and_the_installed_ui(cli_stack):
    stack = cli_stack()
    up = stack.up()
    assert up.returncode == 0, up.stdout + up.stderr
    p = stack.ports
    urls = {
        "Jaeger UI": f"http://{HOST}:{p.jaeger_query}/search",
        "Prometheus": f"http://{HOST}:{p.prometheus}",
        "collector OTLP gRPC": f"http://{HOST}:{p.collector_otlp_grpc}",
        "collector OTLP HTTP": f"http://{HOST}:{p.collector_otlp_http}",
        "collector health": f"http://{HOST}:{p.collector_health}/",
        "collector metrics (DDEX, scraped)": f"http://{HOST}:{p.collector_prometheus}/metrics",
        "collector own metrics": f"http://{HOST}:{p.collector_metrics}/metrics",
    }
    text = stack.status()
    assert text.returncode == 0, text.stdout + text.stderr
    for label, url in urls.items():
        assert any(line.split() and label in line and line.rstrip().endswith(url)
                   for line in text.stdout.splitlines()), f"{label} {url} not in:\n{text.stdout}"
        assert url in up.stdout, f"`stack up` does not print {url}"
    assert "Jaeger UI: installed" in text.stdout
    assert f"export DDEX_OTEL_JAEGER_URL=http://{HOST}:{p.jaeger_query}\n" in up.stdout  # for demo links
    answer = json.loads(stack.status("--json").stdout)
    assert urls.items() <= answer["urls"].items()
    ui = answer["jaeger_ui"]
    assert ui["installed"] and ui["served"] is True, ui
    assert (Path(ui["path"]) / "index.html").is_file()


def test_stack_without_a_ui_build_starts_and_says_how_to_add_one(cli_stack, tmp_path):
    stack = cli_stack(**{jaegerui.ENV_JAEGER_UI: str(tmp_path / "no-such-ui")})
    up = stack.up()
    assert up.returncode == 0, up.stdout + up.stderr
    line = next(line for line in up.stdout.splitlines() if line.startswith("Jaeger UI:"))
    assert line.startswith("Jaeger UI: not installed") and jaegerui.ENV_JAEGER_UI in line and "placeholder" in line
    answer = json.loads(stack.status("--json").stdout)
    assert answer["jaeger_ui"]["installed"] is False
    assert answer["jaeger_ui"]["served"] is False  # Jaeger answers, with its placeholder page
    assert all(c["healthy"] for c in answer["components"])

