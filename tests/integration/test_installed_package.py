"""The wheel alone is the product: build it, install it into a fresh venv outside the checkout, and run
the demo and the real stack from an empty directory with a scrubbed environment.

Proves that every file the stack needs ships as package data (configs, rules, templates, Go modules),
that the installed CLI never reads the checkout (its rendered configs, logs and state do not name it),
and that `ddex-otel stack build` of the installed package finds the cached binaries by the same keys.
Real components: pip, venv, the built collector/Jaeger/Prometheus/Alertmanager, Jaeger's HTTP API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from ddex_otel import __version__
from ddex_otel.stack import paths
from ddex_otel.stack.query import Jaeger
from support import stack_binaries

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "collector"  # shipped as the package ddex_otel.stack.assets (pyproject.toml)
# What a source distribution holds: enough to build the wheel, nothing else of the checkout.
SOURCE_FILES = ("pyproject.toml", "README.md", "src", "collector")
BUILD_TIMEOUT = 300.0  # isolated build: setuptools from pip's cache, seconds when warm
INSTALL_TIMEOUT = 600.0  # dependencies from pip's cache; ~30 s warm on 2 cores


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return stack_binaries()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clean copy of the sources (no stale build/ dir can leak into it)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCE_FILES:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy2)(REPO / name, source / name, **(
            {"ignore": ignore} if (REPO / name).is_dir() else {}))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(source)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    built = list((root / "dist").glob("*.whl"))
    assert len(built) == 1, built
    print(f"\nwheel built in {time.monotonic() - start:.1f}s: {built[0].name}, {built[0].stat().st_size} bytes")
    return built[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel and its dependencies installed."""
    target = tmp_path_factory.mktemp("installed") / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=120)
    done = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"\nfresh venv + pip install of the wheel: {time.monotonic() - start:.1f}s")
    return target


def test_the_wheel_ships_every_stack_file_and_clean_metadata(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {str(p.relative_to(ASSETS)) for p in ASSETS.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped >= {"otelcol-config.yaml", "otelcol/go.mod", "otelcol/go.sum", "otelcol/main.go",
                       "jaeger/go.mod", "jaeger/go.sum", "prometheus/alert-thresholds.yml",
                       "alertmanager/entrypoint.sh", "alertmanager/templates/ddex.tmpl",
                       "grafana/dashboards/ddex-pipeline.json"}
    missing = {f for f in shipped if f"ddex_otel/stack/assets/{f}" not in names}
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert f"ddex_otel-{__version__}-py3-none-any.whl" == wheel.name  # version from ddex_otel.__version__
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def _scrubbed_env(venv: Path, home: Path, bin_dir: Path) -> dict[str, str]:
    """What a new user's shell has: the venv and Go on PATH, no PYTHONPATH, no checkout, a fresh HOME;
    the cache points at the binaries this machine already built (a build takes ~15 min)."""
    go = shutil.which("go")
    path = [str(venv / "bin"), *([str(Path(go).parent)] if go else []), "/usr/local/bin", "/usr/bin", "/bin"]
    return {"PATH": os.pathsep.join(path), "HOME": str(home), "LANG": "C.UTF-8",
            "DDEX_OTEL_CACHE": str(paths.cache_dir()), "DDEX_OTEL_BIN_DIR": str(bin_dir)}


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_installed_cli_runs_the_demo_and_the_stack_from_an_empty_directory(venv, bin_dir, tmp_path):
    home, empty, run_dir = tmp_path / "home", tmp_path / "empty", tmp_path / "run"
    home.mkdir()
    empty.mkdir()
    env = _scrubbed_env(venv, home, bin_dir)
    cli = str(venv / "bin" / "ddex-otel")

    # The package and its assets come from the venv's site-packages, and it knows of no checkout.
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import json, ddex_otel; from ddex_otel.stack import paths; print(json.dumps("
                  "[ddex_otel.__file__, str(paths.assets_dir()), str(paths.checkout_root())]))"], empty, env)
    module, assets, checkout = json.loads(where.stdout)
    site = venv / "lib"
    assert Path(module).is_relative_to(site) and Path(assets).is_relative_to(site), (module, assets)
    assert checkout == "None"

    # `stack build` of the installed package: the shipped Go modules hash to the cached builds' keys.
    start = time.monotonic()
    built = _run([cli, "stack", "build"], empty, env, timeout=120)
    print(f"\ninstalled `ddex-otel stack build`, cached: {time.monotonic() - start:.2f}s")
    assert "ddex-otelcol: cached" in built.stderr and "jaeger: cached" in built.stderr, built.stderr

    demo = _run([cli, "demo", "--generated", "2"], empty, env)
    assert "telemetry went to" in demo.stdout and list((empty / "telemetry").glob("traces-*.jsonl"))

    up = _run([cli, "stack", "up", "--free-ports", "--run-dir", str(run_dir)], empty, env)
    try:
        state = json.loads((run_dir / "state.json").read_text())
        assert set(state["components"]) == {"jaeger", "victorialogs", "collector", "alertmanager", "prometheus"}, up.stdout
        ports = state["ports"]
        service = f"ddex-otel-installed-{uuid.uuid4().hex[:8]}"
        sent = _run([cli, "demo", "--generated", "2", "--endpoint",
                     f"http://127.0.0.1:{ports['collector_otlp_grpc']}", "--service-name", service], empty, env)
        assert "ok:" in sent.stdout
        traces = Jaeger(f"http://127.0.0.1:{ports['jaeger_query']}").wait_traces(service, timeout=60)
        spans = [s["operationName"] for t in traces for s in t["spans"]]
        assert "ddex.batch" in spans and "ddex.parse" in spans, spans

        # Nothing the installed stack rendered, logged or recorded points into the checkout.
        stores = ("prometheus-data", "alertmanager-data")  # the servers' own databases
        audited = [p for p in run_dir.rglob("*") if p.is_file() and p.relative_to(run_dir).parts[0] not in stores]
        assert {p.name for p in audited} >= {"otelcol-config.yaml", "prometheus.yml", "alertmanager.yml",
                                              "alert-rules.yml", "jaeger-config.yaml", "state.json"}
        texts = {p: p.read_text(errors="replace") for p in audited}
        texts["stack up output"] = up.stdout + up.stderr
        leaks = [str(p) for p, text in texts.items() if str(REPO) in text]
        assert not leaks, f"these name the checkout {REPO}: {leaks}"
    finally:
        down = subprocess.run([cli, "stack", "down", "--run-dir", str(run_dir)], cwd=empty, env=env,
                              capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "stopped:" in down.stdout, down.stdout + down.stderr
    assert not (run_dir / "state.json").exists()
