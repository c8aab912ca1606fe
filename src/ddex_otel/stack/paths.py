"""Where the stack's files live: shipped configs (collector/), built binaries, run dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import StackError

COLLECTOR_CONFIG = "otelcol-config.yaml"
JAEGER_CONFIG = "jaeger/jaeger-config.yaml"
PROMETHEUS_CONFIG = "prometheus/prometheus.yml"
ALERT_RULES = "prometheus/alert-rules.yml"
ALERTMANAGER_CONFIG = "alertmanager/alertmanager.yml"
# Debian names the Alertmanager binary prometheus-alertmanager; build-stack.sh links it as alertmanager.
_FROM_PATH = {"prometheus": ("prometheus",), "promtool": ("promtool",),
              "alertmanager": ("alertmanager", "prometheus-alertmanager"), "amtool": ("amtool",)}


def cache_dir() -> Path:
    """${DDEX_OTEL_CACHE:-~/.cache/ddex-otel}: built binaries and the default run dir."""
    return Path(os.environ.get("DDEX_OTEL_CACHE") or Path.home() / ".cache" / "ddex-otel")


def bin_dir() -> Path:
    """Where scripts/build-stack.sh puts binaries (override with DDEX_OTEL_BIN_DIR)."""
    env = os.environ.get("DDEX_OTEL_BIN_DIR")
    return Path(env) if env else cache_dir() / "bin"


def default_run_dir() -> Path:
    return cache_dir() / "stack"


def repo_root() -> Path:
    """The checkout holding collector/ and scripts/ (override with DDEX_OTEL_REPO)."""
    env = os.environ.get("DDEX_OTEL_REPO")
    candidates = [Path(env)] if env else list(Path(__file__).resolve().parents)
    for root in candidates:
        if (root / "collector" / COLLECTOR_CONFIG).is_file():
            return root
    raise StackError(
        "cannot find collector/otelcol-config.yaml: run from a ddex-otel checkout or set DDEX_OTEL_REPO"
    )


def collector_dir() -> Path:
    return repo_root() / "collector"


def build_script() -> Path:
    return repo_root() / "scripts" / "build-stack.sh"


def find_binary(name: str, directory: Path | None = None) -> Path:
    """A stack binary from the build cache (the Debian-packaged ones may also come from PATH)."""
    candidate = (directory or bin_dir()) / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return candidate
    for on_path in _FROM_PATH.get(name, ()):
        if found := shutil.which(on_path):
            return Path(found)
    raise StackError(f"{name} binary not found in {candidate.parent}: run scripts/build-stack.sh first")
