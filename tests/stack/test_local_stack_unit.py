"""LocalStack behaviour that needs no real binaries: ports, rendering, errors, pid safety."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ddex_otel.stack import LocalStack, Ports, StackError, process
from ddex_otel.stack.cli import main as cli_main
from ddex_otel.stack.render import render_prometheus_config

PROM_YML = Path(__file__).resolve().parents[2] / "collector" / "prometheus" / "prometheus.yml"


def test_free_ports_are_distinct_and_free():
    ports = Ports.free()
    values = list(ports.as_dict().values())
    assert len(set(values)) == len(values)
    assert ports.busy() == []


def test_busy_port_is_reported(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        ports = Ports(**{**Ports.free().as_dict(), "prometheus": taken})
        assert ports.busy() == [("prometheus", taken)]
        with pytest.raises(StackError, match=f"prometheus={taken}"):
            LocalStack(tmp_path, ports, bin_dir=tmp_path).start()


def test_render_refuses_a_config_without_the_known_targets(tmp_path):
    changed = tmp_path / "prometheus.yml"
    changed.write_text(PROM_YML.read_text().replace("otel-collector:8889", "collector:9999"))
    with pytest.raises(StackError, match="otel-collector:8889"):
        render_prometheus_config(changed, Ports())


def _fake_bin(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)


def test_component_that_dies_gives_a_one_line_error_naming_its_log(tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    _fake_bin(bins, "jaeger", "import sys\nprint('boom: bad config')\nsys.exit(3)\n")
    _fake_bin(bins, "ddex-otelcol", "import time\ntime.sleep(60)\n")
    _fake_bin(bins, "victoria-logs", "import time\ntime.sleep(60)\n")
    _fake_bin(bins, "prometheus", "import time\ntime.sleep(60)\n")
    _fake_bin(bins, "alertmanager", "import time\ntime.sleep(60)\n")
    stack = LocalStack(tmp_path / "run", free_ports=True, bin_dir=bins, timeout=10)
    with pytest.raises(StackError) as info:
        stack.start()
    message = str(info.value)
    assert "\n" not in message
    assert "jaeger exited with status 3" in message
    assert str(tmp_path / "run" / "logs" / "jaeger.log") in message
    assert "boom: bad config" in info.value.log_tail()
    assert not (tmp_path / "run" / "state.json").exists()


def test_component_never_healthy_times_out_and_is_stopped(tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in ("jaeger", "ddex-otelcol", "victoria-logs", "prometheus", "alertmanager"):
        _fake_bin(bins, name, "import time\ntime.sleep(60)\n")
    stack = LocalStack(tmp_path / "run", free_ports=True, bin_dir=bins, timeout=1)
    with pytest.raises(StackError, match=r"jaeger not healthy at http://127\.0\.0\.1:\d+/api/services within 1s"):
        stack.start()
    assert stack.status()[0].running is False


def test_stop_never_kills_a_pid_running_something_else(tmp_path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state = {"ports": Ports().as_dict(), "components": {
            "collector": {"pid": stranger.pid, "argv": ["/nonexistent/ddex-otelcol", "--config", "x"],
                          "log": str(tmp_path / "c.log"), "url": "", "health": "http://127.0.0.1:1/"}}}
        (tmp_path / "state.json").write_text(json.dumps(state))
        assert LocalStack.from_run_dir(tmp_path).stop() == []
        assert stranger.poll() is None
        assert process.is_ours(stranger.pid, stranger.args)
    finally:
        stranger.kill()
        stranger.wait()


def test_cli_status_without_a_stack_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["stack", "status", "--run-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ddex-otel stack: error: no stack state in")
    assert "\n" not in err
