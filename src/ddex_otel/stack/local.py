"""LocalStack: the collector, Jaeger, VictoriaLogs, Alertmanager and Prometheus as local processes on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from . import jaegerui, paths, process, render
from .alert_settings import AlertSettings
from .errors import StackError
from .jaegerui import JaegerUI
from .ports import HOST, Ports

STATE_FILE = "state.json"
# Jaeger and the logs store first: the collector exports to them; Alertmanager before the Prometheus
# that sends it alerts.
ORDER = ("jaeger", "victorialogs", "collector", "alertmanager", "prometheus")
#: How a component is run: (argv, environment, health URL, user-facing URL).
_Spec: TypeAlias = tuple[list[str], dict[str, str], str, str]


@dataclass(frozen=True)
class Endpoints:
    """URLs of a running stack."""

    otlp_grpc: str
    otlp_http: str
    collector_health: str
    collector_prometheus: str
    collector_metrics: str
    jaeger: str
    jaeger_otlp_grpc: str
    prometheus: str
    alertmanager: str
    logs: str  # VictoriaLogs: its web UI under /select/vmui/, LogsQL under /select/logsql/

    @classmethod
    def for_ports(cls, p: Ports) -> Endpoints:
        u = f"http://{HOST}"
        return cls(
            otlp_grpc=f"{u}:{p.collector_otlp_grpc}",
            otlp_http=f"{u}:{p.collector_otlp_http}",
            collector_health=f"{u}:{p.collector_health}/",
            collector_prometheus=f"{u}:{p.collector_prometheus}/metrics",
            collector_metrics=f"{u}:{p.collector_metrics}/metrics",
            jaeger=f"{u}:{p.jaeger_query}",
            jaeger_otlp_grpc=f"{u}:{p.jaeger_otlp_grpc}",
            prometheus=f"{u}:{p.prometheus}",
            alertmanager=f"{u}:{p.alertmanager}",
            logs=f"{u}:{p.victorialogs}",
        )


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    url: str
    log: Path


class LocalStack:
    """Start/stop the local telemetry stack; its state lives in run_dir/state.json."""

    def __init__(
        self,
        run_dir: Path | str | None = None,
        ports: Ports | None = None,
        *,
        free_ports: bool = False,
        bin_dir: Path | None = None,
        assets_dir: Path | None = None,
        timeout: float = 60.0,
        alerting: AlertSettings | None = None,
    ) -> None:
        self.run_dir = Path(run_dir) if run_dir else paths.default_run_dir()
        self.ports = ports or Ports()
        self.free_ports = free_ports
        self.bin_dir = bin_dir
        self.assets_dir = assets_dir  # None: the installed package's assets/
        self.timeout = timeout
        # Receivers, secrets and thresholds: given, else DDEX_ALERT_* variables (read when rendering).
        self.alerting = alerting
        self._state: dict = {}
        self._procs: dict = {}
        self.jaeger_ui: JaegerUI | None = None  # found at start(), recorded in state.json

    # -- state -------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.for_ports(self.ports)

    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    @classmethod
    def from_run_dir(cls, run_dir: Path | str | None = None) -> LocalStack:
        """The stack recorded in run_dir (for `down` and `status` from another process)."""
        stack = cls(run_dir)
        if not stack.state_path.is_file():
            raise StackError(f"no stack state in {stack.run_dir} (is it up? try `ddex-otel stack up`)")
        stack._state = json.loads(stack.state_path.read_text())
        stack.ports = Ports(**stack._state["ports"])
        if ui := stack._state.get("jaeger_ui"):
            stack.jaeger_ui = JaegerUI(Path(ui["path"]) if ui["path"] else None, ui["note"])
        return stack

    def _save(self) -> None:
        self.state_path.write_text(json.dumps(self._state, indent=2))

    def _running(self) -> list[str]:
        comps = self._state.get("components", {})
        return [n for n, c in comps.items() if process.is_ours(c["pid"], c["argv"])]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """Start every component in ORDER; return once each answers its health URL."""
        if self.state_path.is_file():
            self._state = json.loads(self.state_path.read_text())
            if alive := self._running():
                raise StackError(
                    f"stack already running in {self.run_dir} ({', '.join(alive)}): `ddex-otel stack down` first"
                )
        if self.free_ports:
            self.ports = Ports.free()
        busy = self.ports.busy()
        if busy:
            listed = ", ".join(f"{name}={port}" for name, port in busy)
            raise StackError(f"ports already in use: {listed} (stop what uses them or use --free-ports)")
        self.jaeger_ui = jaegerui.find()
        specs = self._specs()
        self._state = {"run_dir": str(self.run_dir), "ports": self.ports.as_dict(), "components": {},
                       "jaeger_ui": {"path": str(self.jaeger_ui.path or ""), "note": self.jaeger_ui.note}}
        try:
            for name in ORDER:
                argv, env, health, url = specs[name]
                log = self.log_path(name)
                proc = process.spawn(argv, env, log)
                self._procs[name] = proc
                self._state["components"][name] = {
                    "pid": proc.pid, "argv": argv, "log": str(log), "url": url, "health": health,
                }
                self._save()
                process.wait_healthy(name, proc, health, log, self.timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[str]:
        """Stop the processes this stack started (verified by their command line)."""
        stopped = []
        for name in reversed(ORDER):
            comp = self._state.get("components", {}).get(name)
            proc = self._procs.pop(name, None)
            if proc is not None:  # started by this object: its Popen is proof of identity
                if process.stop_child(proc):
                    stopped.append(name)
            elif comp and process.terminate(comp["pid"], comp["argv"]):
                stopped.append(name)
        if self.state_path.is_file():
            self.state_path.unlink()
        return stopped

    def status(self) -> list[ComponentStatus]:
        result = []
        for name in ORDER:
            comp = self._state.get("components", {}).get(name)
            if not comp:
                result.append(ComponentStatus(name, None, False, False, "", self.log_path(name)))
                continue
            running = process.is_ours(comp["pid"], comp["argv"])
            healthy = running and process.http_ok(comp["health"])
            result.append(ComponentStatus(name, comp["pid"], running, healthy, comp["url"], Path(comp["log"])))
        return result

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- component command lines --------------------------------------------------------------
    def _specs(self) -> dict[str, _Spec]:
        """name -> (argv, env, health URL, user-facing URL), configs rendered into run_dir."""
        binaries = self._binaries()
        alerting = self.alerting or AlertSettings.from_env()
        configs = render.render_run_dir(self.run_dir, self.ports, self.assets_dir, alerting)
        data = self._fresh_data_dir("prometheus-data")
        am_data = self._fresh_data_dir("alertmanager-data")  # silences and the notification log
        logs_data = self._fresh_data_dir("victorialogs-data")
        p, e = self.ports, self.endpoints
        return {
            "victorialogs": self._victorialogs_spec(binaries["victorialogs"], logs_data),
            "jaeger": (
                [binaries["jaeger"], "--config", str(configs["jaeger"])],
                render.jaeger_env(p, self.jaeger_ui.path if self.jaeger_ui else None, configs["jaeger_ui_config"]),
                f"{e.jaeger}/api/services",
                e.jaeger,
            ),
            "collector": (
                [binaries["collector"], "--config", str(configs["collector"])],
                render.collector_env(p),
                e.collector_health,
                f"{e.otlp_grpc} (OTLP gRPC), {e.otlp_http} (OTLP HTTP)",
            ),
            "alertmanager": self._alertmanager_spec(binaries["alertmanager"], configs["alertmanager"], am_data),
            "prometheus": self._prometheus_spec(binaries["prometheus"], configs["prometheus"], data),
        }

    def _binaries(self) -> dict[str, str]:
        """Each component's executable, found before anything is written (a missing one stops the start)."""
        names = {"collector": "ddex-otelcol", "jaeger": "jaeger", "prometheus": "prometheus",
                 "alertmanager": "alertmanager", "victorialogs": "victoria-logs"}
        return {component: str(paths.find_binary(name, self.bin_dir)) for component, name in names.items()}

    def _fresh_data_dir(self, name: str) -> Path:
        """``run_dir/name``, emptied: every start begins with no stored data."""
        data = self.run_dir / name
        shutil.rmtree(data, ignore_errors=True)
        return data

    def _victorialogs_spec(self, binary: str, data: Path) -> _Spec:
        """VictoriaLogs on its port, keeping two days of logs in ``data``."""
        p, e = self.ports, self.endpoints
        return (
            [
                binary,
                f"-httpListenAddr={HOST}:{p.victorialogs}",
                f"-storageDataPath={data}",
                "-retentionPeriod=2d",
                "-loggerLevel=WARN",
            ],
            {},
            f"{e.logs}/health",
            f"{e.logs}/select/vmui/",
        )

    def _alertmanager_spec(self, binary: str, config: Path, data: Path) -> _Spec:
        """Alertmanager on its port, alone (no cluster), its silences and notification log in ``data``."""
        p, e = self.ports, self.endpoints
        return (
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={data}",
                f"--web.listen-address={HOST}:{p.alertmanager}",
                f"--web.external-url={e.alertmanager}",
                "--cluster.listen-address=",  # empty: no clustering, no gossip port
            ],
            {},
            f"{e.alertmanager}/-/ready",
            e.alertmanager,
        )

    def _prometheus_spec(self, binary: str, config: Path, data: Path) -> _Spec:
        """Prometheus on its port, keeping two days of samples and exemplars in ``data``."""
        p, e = self.ports, self.endpoints
        return (
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address={HOST}:{p.prometheus}",
                f"--web.external-url={e.prometheus}",  # the "source" links in alert notifications
                "--storage.tsdb.retention.time=2d",
                "--enable-feature=exemplar-storage",
            ],
            {},
            f"{e.prometheus}/-/ready",
            e.prometheus,
        )
