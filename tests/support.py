"""Helpers shared by test modules (importable as ``support``: pytest puts ``tests/`` on the path).

The DDEX reference material (samples, XSDs) defaults to the shared folders beside the repository
and can be moved with environment variables, so CI or a developer can point at their own copies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def xsd_root() -> Path:
    """DDEX ERN XSDs (``<dir>/<43|42|411|382>/release-notification.xsd``): env ``DDEX_XSD_DIR``."""
    return Path(os.environ.get("DDEX_XSD_DIR", REPO_ROOT.parent / "shared" / "ddex-xsd"))


def jaeger_ui_build() -> Path:
    """The official Jaeger UI build the tests install: env ``JAEGER_UI`` (the Makefile passes the one it
    gives ``make stack-bins``), else ``<repo>/../shared/jaeger-ui/``."""
    return Path(os.environ.get("JAEGER_UI") or REPO_ROOT.parent / "shared" / "jaeger-ui" / "jaeger-ui-v1.76.0-build.tgz")


def stack_binaries() -> Path:
    """The stack's bin dir, built or found by ``ensure_binaries`` with the Jaeger UI build passed explicitly
    (the package never looks beside the checkout for it)."""
    from ddex_otel.stack.build import ensure_binaries

    ui = jaeger_ui_build()
    return ensure_binaries(jaeger_ui=ui if ui.is_file() else None)


def samples_root() -> Path:
    """Real DDEX ERN sample messages: env ``DDEX_SAMPLES_DIR``, else ``<repo>/../shared/ddex-samples``."""
    return Path(os.environ.get("DDEX_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "ddex-samples"))


def sample_files() -> list[Path]:
    """Every ``*.xml`` sample, sorted (empty when the directory is absent)."""
    root = samples_root()
    return sorted(root.glob("*.xml")) if root.is_dir() else []


def walk_json(node: Any) -> Iterator[dict]:
    """Every dict inside a parsed JSON document (a Grafana dashboard), depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_json(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_json(item)


# -- real headless browser (Debian's chromium, driven by Playwright; never a browser download) -------

CHROMIUM = Path("/usr/bin/chromium")  # installed by `ddex-otel stack build --browser`
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """Headless system chromium as a Playwright ``Browser`` (``playwright.sync_api``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def tcp_time_wait_ports() -> set[int]:
    """Local ports of IPv4 TCP connections in TIME_WAIT (state 06 in /proc/net/tcp)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {int(row[1].rsplit(":", 1)[1], 16) for row in rows if row[3] == "06"}


def artifacts_dir() -> Path:
    """Where tests keep files worth looking at afterwards (screenshots): env ``DDEX_OTEL_TEST_ARTIFACTS``,
    else ``<repo>/.artifacts`` (git-ignored)."""
    path = Path(os.environ.get("DDEX_OTEL_TEST_ARTIFACTS") or REPO_ROOT / ".artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def console_script() -> Path:
    """The installed ``ddex-otel`` console script of this interpreter (no fallback: it must exist)."""
    import sys

    script = Path(sys.executable).parent / "ddex-otel"
    assert script.is_file(), f"{script} is missing: install the package (pip install -e .)"
    return script


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any OTEL_* / DDEX_OTEL_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DDEX_OTEL_"))}
    env.update(extra)
    return env


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll ``predicate()`` until true; fail after ``timeout`` seconds (bounded in time and count)."""
    import time

    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        if predicate():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(interval)  # polling a condition with a deadline, not synchronising
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
