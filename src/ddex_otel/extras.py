"""Optional parts of ddex-otel (pip extras): is one installed, and the line that says how to get it.

A command that needs an extra checks before it starts anything and, when it is missing, says so
in one line naming the extra to install, never with an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util

#: The modules each extra of pyproject.toml provides (what a command imports from it).
EXTRAS: dict[str, tuple[str, ...]] = {
    "celery": ("celery", "redis", "opentelemetry.instrumentation.celery"),
    "ddex-suite": ("ddex_parser", "ddex_builder"),
    "plots": ("matplotlib",),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def missing_module(extra: str) -> str | None:
    """The first module of ``extra`` that is not installed, or None when the extra is complete."""
    return next((m for m in EXTRAS[extra] if not _importable(m)), None)


def install_hint(extra: str, needed_by: str, module: str | None = None) -> str:
    """``<needed_by> needs the <extra> extra (<module> is not installed): pip install 'ddex-otel[<extra>]'``."""
    module = module or missing_module(extra) or EXTRAS[extra][0]
    return f"{needed_by} needs the {extra} extra ({module} is not installed): pip install 'ddex-otel[{extra}]'"


def require(extra: str, needed_by: str) -> str | None:
    """None when ``extra`` is installed, else the one-line ``install_hint``."""
    module = missing_module(extra)
    return None if module is None else install_hint(extra, needed_by, module)


def charts_missing() -> str | None:
    """None when the HTML reports can draw their charts, else the line saying how (the plots extra).

    Without it ``profile --html`` and ``bench --html`` still write their reports, with this line in
    place of the charts, and say it once on stderr."""
    return require("plots", "drawing charts")
