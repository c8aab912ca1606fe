"""Where the stack's files live: shipped configs (the package ddex_otel.stack.assets), built binaries, run dirs."""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

from .errors import StackError

# Relative to assets_dir(); the same files docker-compose*.yml mount from collector/ in a checkout.
COLLECTOR_CONFIG = "otelcol-config.yaml"
JAEGER_CONFIG = "jaeger/jaeger-config.yaml"
JAEGER_UI_CONFIG = "jaeger/jaeger-ui-config.json"
PROMETHEUS_CONFIG = "prometheus/prometheus.yml"
ALERT_RULES = "prometheus/alert-rules.yml"
ALERT_THRESHOLDS = "prometheus/alert-thresholds.yml"
ALERTMANAGER_CONFIG = "alertmanager/alertmanager.yml"
# Debian names the Alertmanager binary prometheus-alertmanager; `stack build` links it as alertmanager.
_FROM_PATH = {"prometheus": ("prometheus",), "promtool": ("promtool",),
              "alertmanager": ("alertmanager", "prometheus-alertmanager"), "amtool": ("amtool",)}
BUILD_HINT = "run `ddex-otel stack build` (or `ddex-otel stack up --build`)"


def assets_dir() -> Path:
    """The stack's shipped files (configs, rules, templates, dashboards, Go modules): package data.

    A checkout keeps them in collector/; pyproject.toml maps that directory to ddex_otel.stack.assets."""
    root = resources.files("ddex_otel.stack.assets")
    if not isinstance(root, Path) or not (root / COLLECTOR_CONFIG).is_file():
        # Only a zipped install gets here: pip always installs wheels as files.
        raise StackError(f"the stack's files are not on disk ({root}): reinstall ddex-otel with pip")
    return root


def cache_dir() -> Path:
    """${DDEX_OTEL_CACHE:-~/.cache/ddex-otel}: built binaries, the Jaeger UI and the default run dir."""
    return Path(os.environ.get("DDEX_OTEL_CACHE") or Path.home() / ".cache" / "ddex-otel")


def bin_dir() -> Path:
    """Where `ddex-otel stack build` puts binaries (override with DDEX_OTEL_BIN_DIR)."""
    env = os.environ.get("DDEX_OTEL_BIN_DIR")
    return Path(env) if env else cache_dir() / "bin"


def default_run_dir() -> Path:
    return cache_dir() / "stack"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install), None when installed."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "ddex_otel").is_dir():
            return parent
    return None


def find_binary(name: str, directory: Path | None = None) -> Path:
    """A stack binary from the build cache (the Debian-packaged ones may also come from PATH)."""
    candidate = (directory or bin_dir()) / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return candidate
    for on_path in _FROM_PATH.get(name, ()):
        if found := shutil.which(on_path):
            return Path(found)
    raise MissingBinary(f"{name} binary not found in {candidate.parent}: {BUILD_HINT}")


def missing_binaries(directory: Path | None = None) -> list[str]:
    """Names of the binaries `stack up` needs that find_binary cannot find."""
    missing = []
    for name in ("ddex-otelcol", "jaeger", "victoria-logs", "prometheus", "alertmanager"):
        try:
            find_binary(name, directory)
        except MissingBinary:
            missing.append(name)
    return missing


class MissingBinary(StackError):
    """A stack binary is not built/installed yet."""
