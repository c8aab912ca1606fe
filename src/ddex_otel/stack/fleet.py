"""The scale-out tier on one machine: Redis, Celery workers, an agent collector per worker "host",
a gateway collector, Jaeger on Badger and Prometheus, all on 127.0.0.1 and free ports.

    with Fleet(run_dir, workers=2) as fleet:
        submit_batch(paths, fleet.broker_url)
        fleet.kill_worker(0)             # SIGKILL, as a crashed host
        fleet.restart("gateway")         # SIGTERM, then start again (same ports, same queue dir)

Used by the integration tests, the scale-out benchmark and ``ddex-otel fleet up``. Each worker
stands for one host: its own ``host.name`` (``OTEL_RESOURCE_ATTRIBUTES``), its own agent. On real
hosts the same configs run with other addresses (docs/scale-out.md).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import paths, process
from .errors import StackError
from .ports import HOST

SCALE_OUT_DIR = "scale-out"
AGENT_CONFIG = "otelcol-agent.yaml"
GATEWAY_CONFIG = "otelcol-gateway.yaml"
JAEGER_CONFIG = "jaeger-badger.yaml"
PROMETHEUS_CONFIG = "prometheus.yml"
WORKER_APP = "ddex_otel.distributed.worker"
STATE_FILE = "fleet.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def redis_ok(port: int) -> bool:
    """True if a Redis server answers PING on 127.0.0.1:port."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Component:
    """One process of the fleet: how to start it, how to tell it is up, and its Popen once started."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Fleet:
    """Start/stop the scale-out tier; components are started in dependency order, stopped in reverse."""

    def __init__(
        self,
        run_dir: Path | str,
        workers: int = 2,
        *,
        bin_dir: Path | None = None,
        assets_dir: Path | None = None,
        service_name: str | None = None,
        python: str = sys.executable,
        instrumentation: tuple[str, ...] = ("configure",),
        visibility_timeout: float | None = None,
        worker_env: dict[str, str] | None = None,
        prometheus: bool = True,
        timeout: float = 60.0,
    ) -> None:
        """``instrumentation`` cycles over the workers: "configure" (our ``configure()`` in the
        worker signal) or "opentelemetry-instrument" (the zero-code agent)."""
        if workers < 1:
            raise StackError("a fleet needs at least one worker")
        self.run_dir = Path(run_dir)
        self.workers = workers
        self.bin_dir = bin_dir or paths.bin_dir()
        self.src = (assets_dir or paths.assets_dir()) / SCALE_OUT_DIR
        self.service_name = service_name or f"ddex-worker-{uuid.uuid4().hex[:8]}"
        self.python = python
        self.instrumentation = instrumentation
        self.visibility_timeout = visibility_timeout
        self.worker_env = dict(worker_env or {})
        self.with_prometheus = prometheus
        self.timeout = timeout
        self.ports: dict[str, int] = {}
        self.components: dict[str, Component] = {}

    # -- addresses ---------------------------------------------------------------------------
    @property
    def broker_url(self) -> str:
        return f"redis://{HOST}:{self.ports['redis']}/0"

    @property
    def jaeger_url(self) -> str:
        return f"http://{HOST}:{self.ports['jaeger_query']}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.ports['prometheus']}"

    @property
    def gateway_metrics_url(self) -> str:
        return f"http://{HOST}:{self.ports['gateway_metrics']}/metrics"

    def agent_otlp(self, index: int) -> str:
        return f"http://{HOST}:{self.ports[f'agent{index}_otlp_grpc']}"

    def agent_metrics_url(self, index: int) -> str:
        return f"http://{HOST}:{self.ports[f'agent{index}_metrics']}/metrics"

    def worker_node(self, index: int) -> str:
        return f"w{index + 1}@ddex-fleet"

    def worker_host(self, index: int) -> str:
        return f"worker-host-{index + 1}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Fleet:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._allocate_ports()
        try:
            for component in self._components():
                self.components[component.name] = component
                self._spawn(component)
            self._wait_workers()
        except BaseException:
            self.stop()
            raise
        (self.run_dir / STATE_FILE).write_text(json.dumps(self.describe(), indent=2))
        return self

    def stop(self) -> list[str]:
        """Workers first (they flush to their agents), then the agents, then the rest; each tier at once."""
        tiers: dict[int, list[Component]] = {}
        for comp in self.components.values():
            tier = 0 if comp.name.startswith("worker") else 1 if comp.name.startswith("agent") else 2
            tiers.setdefault(tier, []).append(comp)
        stopped = []
        for tier in sorted(tiers):
            live = [c for c in reversed(tiers[tier]) if c.running()]
            for comp in live:
                comp.proc.terminate()  # type: ignore[union-attr]
            for comp in live:
                process.stop_child(comp.proc)  # type: ignore[arg-type]  # waits, SIGKILL after 10 s
                stopped.append(comp.name)
        return stopped

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill_worker(self, index: int) -> int:
        """SIGKILL worker ``index`` (a host lost mid-task); returns its pid."""
        comp = self.components[f"worker{index}"]
        if not comp.running():
            raise StackError(f"{comp.name} is not running")
        comp.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        comp.proc.wait(timeout=10)  # type: ignore[union-attr]
        return comp.pid  # type: ignore[return-value]

    def worker_index(self, pid: int) -> int | None:
        for i in range(self.workers):
            if self.components[f"worker{i}"].pid == pid:
                return i
        return None

    def stop_component(self, name: str) -> None:
        comp = self.components[name]
        if comp.proc is not None:
            process.stop_child(comp.proc)

    def start_component(self, name: str) -> None:
        self._spawn(self.components[name], append=True)

    def restart(self, name: str) -> None:
        """SIGTERM ``name`` and start it again on the same ports and data directories."""
        self.stop_component(name)
        self.start_component(name)

    def describe(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "broker_url": self.broker_url,
            "jaeger": self.jaeger_url,
            "prometheus": self.prometheus_url if self.with_prometheus else None,
            "gateway_metrics": self.gateway_metrics_url,
            "agents": [self.agent_otlp(i) for i in range(self.workers)],
            "workers": [{"node": self.worker_node(i), "host.name": self.worker_host(i),
                         "pid": self.components[f"worker{i}"].pid} for i in range(self.workers)],
            "service_name": self.service_name,
            "components": {n: {"pid": c.pid, "argv": c.argv, "log": str(c.log)} for n, c in self.components.items()},
        }

    # -- internals ---------------------------------------------------------------------------
    def _allocate_ports(self) -> None:
        names = ["redis", "jaeger_query", "jaeger_query_grpc", "jaeger_otlp_grpc", "jaeger_otlp_http",
                 "gateway_otlp_grpc", "gateway_otlp_http", "gateway_prometheus", "gateway_health",
                 "gateway_metrics", "prometheus"]
        for i in range(self.workers):
            names += [f"agent{i}_otlp_grpc", f"agent{i}_otlp_http", f"agent{i}_health", f"agent{i}_metrics"]
        held = []
        try:  # hold every socket until all are chosen, so no two names get the same port
            for _ in names:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((HOST, 0))
                held.append(s)
            self.ports = {n: s.getsockname()[1] for n, s in zip(names, held, strict=True)}
        finally:
            for s in held:
                s.close()

    def _binary(self, name: str) -> str:
        return str(paths.find_binary(name, self.bin_dir))

    def _log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def _components(self) -> list[Component]:
        p, run = self.ports, self.run_dir
        http = lambda url: (lambda: process.http_ok(url))  # noqa: E731
        redis = shutil.which("redis-server") or str(self.bin_dir / "redis-server")
        if not Path(redis).is_file():
            raise paths.MissingBinary(f"redis-server (the Celery broker) not found on PATH nor in {self.bin_dir}: "
                                      "run `ddex-otel stack build --broker`")
        comps = [
            # Append-only file, fsync every second: a broker restart keeps queued and unacknowledged tasks.
            Component("redis", [redis, "--bind", HOST, "--port", str(p["redis"]), "--save", "", "--appendonly", "yes",
                                "--appendfsync", "everysec", "--dir", str(self._redis_dir()), "--protected-mode", "yes"],
                      {}, lambda: redis_ok(p["redis"]), self._log("redis")),
            Component("jaeger", [self._binary("jaeger"), "--config", str(self.src / JAEGER_CONFIG)], {
                "DDEX_JAEGER_HOST": HOST, "DDEX_JAEGER_DATA_DIR": str(run / "jaeger-data"),
                "DDEX_JAEGER_QUERY_PORT": str(p["jaeger_query"]), "DDEX_JAEGER_QUERY_GRPC_PORT": str(p["jaeger_query_grpc"]),
                "DDEX_JAEGER_OTLP_GRPC_PORT": str(p["jaeger_otlp_grpc"]), "DDEX_JAEGER_OTLP_HTTP_PORT": str(p["jaeger_otlp_http"]),
            }, http(f"{self.jaeger_url}/api/services"), self._log("jaeger")),
            Component("gateway", [self._binary("ddex-otelcol"), "--config", str(self.src / GATEWAY_CONFIG)], {
                **self._collector_env("gateway"), "DDEX_OTELCOL_QUEUE_DIR": str(run / "gateway-queue"),
                "DDEX_OTELCOL_PROMETHEUS_PORT": str(p["gateway_prometheus"]),
                "DDEX_JAEGER_OTLP_ENDPOINT": f"{HOST}:{p['jaeger_otlp_grpc']}",
                "DDEX_OTELCOL_SPANMETRICS_FLUSH": "1s",
            }, http(f"http://{HOST}:{p['gateway_health']}/"), self._log("gateway")),
        ]
        if self.with_prometheus:
            config = self._render_prometheus()
            data = run / "prometheus-data"
            shutil.rmtree(data, ignore_errors=True)
            comps.append(Component("prometheus", [
                self._binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
                f"--web.listen-address={HOST}:{p['prometheus']}", "--storage.tsdb.retention.time=2d",
                "--enable-feature=exemplar-storage"], {}, http(f"{self.prometheus_url}/-/ready"), self._log("prometheus")))
        for i in range(self.workers):
            comps.append(Component(f"agent{i}", [self._binary("ddex-otelcol"), "--config", str(self.src / AGENT_CONFIG)], {
                **self._collector_env(f"agent{i}"), "DDEX_OTELCOL_QUEUE_DIR": str(run / f"agent{i}-queue"),
                "DDEX_GATEWAY_OTLP_ENDPOINT": f"{HOST}:{p['gateway_otlp_grpc']}",
            }, http(f"http://{HOST}:{p[f'agent{i}_health']}/"), self._log(f"agent{i}")))
        for i in range(self.workers):
            comps.append(self._worker(i))
        return comps

    def _redis_dir(self) -> Path:
        path = self.run_dir / "redis"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _collector_env(self, prefix: str) -> dict[str, str]:
        p = self.ports
        return {
            "DDEX_OTELCOL_HOST": HOST,
            "DDEX_OTELCOL_OTLP_GRPC_PORT": str(p[f"{prefix}_otlp_grpc"]),
            "DDEX_OTELCOL_OTLP_HTTP_PORT": str(p[f"{prefix}_otlp_http"]),
            "DDEX_OTELCOL_HEALTH_PORT": str(p[f"{prefix}_health"]),
            "DDEX_OTELCOL_METRICS_PORT": str(p[f"{prefix}_metrics"]),
        }

    def _render_prometheus(self) -> Path:
        text = (self.src / PROMETHEUS_CONFIG).read_text()
        p = self.ports
        agents = ", ".join(f'"{HOST}:{p[f"agent{i}_metrics"]}"' for i in range(self.workers))
        for token, value in (('"gateway:8889"', f'"{HOST}:{p["gateway_prometheus"]}"'),
                             ('"gateway:8888"', f'"{HOST}:{p["gateway_metrics"]}"'),
                             ('"agent:8888"', agents)):
            if token not in text:
                raise StackError(f"{self.src / PROMETHEUS_CONFIG} lost its target {token}")
            text = text.replace(token, value)
        out = self.run_dir / "prometheus.yml"
        out.write_text(text)
        for rules in (paths.ALERT_RULES, paths.ALERT_THRESHOLDS):  # rule_files are relative to the config
            shutil.copyfile(paths.assets_dir() / rules, self.run_dir / Path(rules).name)
        return out

    def _worker(self, index: int) -> Component:
        mode = self.instrumentation[index % len(self.instrumentation)]
        celery = [self.python, "-m", "celery", "-A", WORKER_APP, "worker", "--pool", "solo",
                  "-n", self.worker_node(index), "-Q", "ddex", "--loglevel", "INFO",
                  "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if mode == "opentelemetry-instrument":
            bin_dir = Path(self.python).parent
            argv = [str(bin_dir / "opentelemetry-instrument"), *celery]
        elif mode == "configure":
            argv = celery
        else:
            raise StackError(f"unknown worker instrumentation {mode!r}")
        env = {
            "DDEX_CELERY_BROKER_URL": self.broker_url,
            "OTEL_SERVICE_NAME": self.service_name,
            "OTEL_RESOURCE_ATTRIBUTES": f"host.name={self.worker_host(index)},ddex.worker.instrumentation={mode}",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.agent_otlp(index),
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "PYTHONUNBUFFERED": "1",
        }
        if self.visibility_timeout is not None:
            env["DDEX_CELERY_VISIBILITY_TIMEOUT"] = str(self.visibility_timeout)
        env.update(self.worker_env)
        return Component(f"worker{index}", argv, env, lambda: True, self._log(f"worker{index}"))

    def _spawn(self, comp: Component, append: bool = False) -> None:
        if append:  # keep the log of the previous run (restart): rename it aside
            if comp.log.exists():
                comp.log.rename(comp.log.with_suffix(f".{int(time.time() * 1000)}.log"))
        comp.proc = process.spawn(comp.argv, comp.env, comp.log)
        deadline = time.monotonic() + self.timeout
        while not comp.ready():
            if comp.proc.poll() is not None:
                raise StackError(f"{comp.name} exited with status {comp.proc.returncode} while starting", comp.log)
            if time.monotonic() > deadline:
                raise StackError(f"{comp.name} not ready within {self.timeout:.0f}s", comp.log)
            time.sleep(0.1)
        if comp.name.startswith("worker") and append:
            self._wait_workers([int(comp.name[len("worker"):])])

    def _wait_workers(self, indexes: list[int] | None = None) -> None:
        """Until every worker answers a Celery ping (it consumes from the queue from then on)."""
        from celery import Celery

        indexes = list(range(self.workers)) if indexes is None else indexes
        nodes = {self.worker_node(i): i for i in indexes}
        app = Celery(broker=self.broker_url)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                for i in nodes.values():
                    comp = self.components[f"worker{i}"]
                    if comp.proc is not None and comp.proc.poll() is not None:
                        raise StackError(f"{comp.name} exited with status {comp.proc.returncode} while starting",
                                         comp.log)
                replies = app.control.ping(destination=list(nodes), timeout=1.0) or []
                answered = {name for reply in replies for name in reply}
                if answered >= set(nodes):
                    return
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(set(nodes) - answered))
                    raise StackError(f"Celery workers not answering within {self.timeout:.0f}s: {missing}",
                                     self.components[f"worker{next(iter(nodes.values()))}"].log)
        finally:
            app.close()


def stop_recorded(run_dir: Path | str) -> list[str]:
    """Stop the fleet recorded in run_dir/fleet.json by another process (only pids that still run
    exactly the recorded command line), workers first."""
    state_path = Path(run_dir) / STATE_FILE
    if not state_path.is_file():
        raise StackError(f"no fleet state in {run_dir} (is it up? try `ddex-otel fleet up`)")
    comps = json.loads(state_path.read_text())["components"]
    order = sorted(comps, key=lambda n: 0 if n.startswith("worker") else 1 if n.startswith("agent") else 2)
    stopped = []
    for name in order:
        pid, argv = comps[name]["pid"], comps[name]["argv"]
        if name == "redis":  # redis-server rewrites its command line to "redis-server HOST:PORT"
            seen = process.cmdline(pid) or []
            port = argv[argv.index("--port") + 1]
            title = " ".join(seen).split()
            if title and title[0].endswith("redis-server") and title[-1] == f"{HOST}:{port}":
                argv = seen
        if pid and process.terminate(pid, argv):
            stopped.append(name)
    state_path.unlink()
    return stopped
