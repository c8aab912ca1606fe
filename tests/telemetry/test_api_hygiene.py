"""API hygiene (telemetry contract): no private name of an OpenTelemetry package anywhere in src/.

Private means ``_``-prefixed (dunders aside): a module in an import path
(``opentelemetry.metrics._internal``), a name imported from an OpenTelemetry module
(``from opentelemetry.sdk.trace import _Span``), or an attribute read off an object
(``span._context``, ``getattr(provider, "_atexit_handler")``). Our own ``_``-names are allowed:
attribute names that src/ itself defines (``self._lock = …``, ``def _run``, ``_state: …``) are
ours; any other ``_``-attribute is someone else's private, and fails here unless listed below.

One compatibility module (COMPAT_MODULE) may read a private attribute, with a public fallback.
The one exception the contract makes for imports: the logs signal, which OpenTelemetry Python publishes only as
``opentelemetry._logs``, ``opentelemetry.sdk._logs`` and the exporters' ``_log_exporter`` modules,
imported in one module (LOGS_MODULE).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ddex_otel"

#: The one module allowed to import the logs signal's modules (and only those).
LOGS_MODULE = "telemetry/logs.py"
LOGS_IMPORTS = ("opentelemetry._logs", "opentelemetry.sdk._logs")
LOGS_EXPORTER_SUFFIX = "._log_exporter"

#: The compatibility module: the one place a private attribute of an OpenTelemetry object is read,
#: with a public fallback (and exercised by the lowest- and newest-versions test runs).
COMPAT_MODULE = "telemetry/otelcompat.py"

#: ``_``-names of other libraries that src/ uses on purpose (not OpenTelemetry's).
OTHER_LIBRARIES = {
    "_exit",  # os._exit: what a forked child must leave through
    "_Element", "_ElementTree",  # lxml's element classes (its documented type names)
    "_SubParsersAction",  # argparse's subparsers type (for annotations)
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(SRC)), ast.parse(path.read_text(), str(path))) for path in sorted(SRC.rglob("*.py"))]


def _own_private_names(modules: list[tuple[str, ast.Module]]) -> set[str]:
    """``_``-names src/ defines: functions, classes, assigned attributes and names, ``__slots__``."""
    own: set[str] = set()
    for _, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Attribute):
                            own.add(sub.attr)
                        elif isinstance(sub, ast.Name):
                            own.add(sub.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                own.add(str(node.args[1].value))
    for _, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
                own.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return {name for name in own if _private(name)}


def _logs_import_allowed(module: str) -> bool:
    return module.startswith(LOGS_IMPORTS) or module.endswith(LOGS_EXPORTER_SUFFIX)


def violations() -> list[str]:
    modules = _modules()
    own = _own_private_names(modules)
    found: list[str] = []
    for rel, tree in modules:
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom):  # (module, full name) of each imported name
                    imported = [(node.module or "", f"{node.module}.{a.name}") for a in node.names]
                else:
                    imported = [(a.name, a.name) for a in node.names]
                for module, name in imported:
                    if not name.startswith("opentelemetry") or not any(_private(p) for p in name.split(".")):
                        continue
                    if rel == LOGS_MODULE and _logs_import_allowed(module):
                        continue
                    found.append(f"{where}: imports {name}")
            elif rel == COMPAT_MODULE:
                continue
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                if node.attr not in own and node.attr not in OTHER_LIBRARIES:
                    found.append(f"{where}: reads .{node.attr}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value) \
                        and name.value not in own:
                    found.append(f"{where}: {node.func.id}(…, {name.value!r})")
    return found


def test_no_private_opentelemetry_names_in_src() -> None:
    assert violations() == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path, monkeypatch) -> None:
    """The scan flags each kind of private use (so an empty result above means something)."""
    bad = tmp_path / "ddex_otel"
    (bad / "telemetry").mkdir(parents=True)
    (bad / "telemetry" / "bad.py").write_text(
        "from opentelemetry.sdk.trace import _Span\n"
        "from opentelemetry.metrics._internal import ProxyMeter\n"
        "import opentelemetry.sdk._logs\n"
        "def f(span, provider):\n"
        "    span._context\n"
        "    getattr(provider, '_atexit_handler', None)\n"
    )
    (bad / "telemetry" / "logs.py").write_text(
        "from opentelemetry._logs import set_logger_provider\n"
        "from opentelemetry.sdk._logs import LoggerProvider\n"
        "from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter\n"
        "from opentelemetry.sdk.trace import _Span\n"
    )
    (bad / "ours.py").write_text("class A:\n    def __init__(self):\n        self._mine = 1\n    def g(self, o):\n"
                                 "        return o._mine\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", bad)
    found = violations()
    assert any("bad.py" in v and "_Span" in v for v in found)
    assert any("bad.py" in v and "_internal" in v for v in found)
    assert any("bad.py" in v and "opentelemetry.sdk._logs" in v for v in found)  # only logs.py may
    assert any("bad.py" in v and "._context" in v for v in found)
    assert any("bad.py" in v and "_atexit_handler" in v for v in found)
    assert [v for v in found if "logs.py" in v] == ["telemetry/logs.py:4: imports opentelemetry.sdk.trace._Span"]
    assert not any("ours.py" in v for v in found)


def test_the_compatibility_module_reads_this_sdk_and_falls_back(monkeypatch) -> None:
    """On this SDK the wrapped exporter's preference is found (delta stays delta); without it, None."""
    from opentelemetry.sdk.metrics import Counter
    from opentelemetry.sdk.metrics.export import AggregationTemporality, ConsoleMetricExporter

    from ddex_otel.telemetry.exporters import ExportFailures, GuardedMetricExporter
    from ddex_otel.telemetry.otelcompat import metric_exporter_preferences

    delta = {Counter: AggregationTemporality.DELTA}
    inner = ConsoleMetricExporter(preferred_temporality=delta)
    temporality, _ = metric_exporter_preferences(inner)
    assert temporality is not None and temporality[Counter] is AggregationTemporality.DELTA
    guarded = GuardedMetricExporter(inner, ExportFailures(), "console", 0)
    assert metric_exporter_preferences(guarded)[0][Counter] is AggregationTemporality.DELTA
    assert metric_exporter_preferences(object()) == (None, None)


def test_the_global_provider_check_reads_this_api_and_falls_back() -> None:
    """On this API the cheap check reads the globals the API's own proxies read; an API that keeps
    them elsewhere, or a provider named by environment variable, gets None (ask the public getters).
    Each case in a fresh interpreter: the global providers can be set once per process."""
    import os
    import subprocess
    import sys

    def run(script: str, **env: str) -> list[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_PYTHON_")}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              env={**clean, **env})
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run(
        "from ddex_otel.telemetry.otelcompat import global_providers_unset as unset\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "print(unset())\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "print(unset())\n"
    ) == ["True", "False"]
    assert run(  # an API without the global: the module chooses the public way
        "import opentelemetry.trace as api\n"
        "del api._TRACER_PROVIDER\n"
        "from ddex_otel.telemetry.otelcompat import global_providers_unset as unset\n"
        "print(unset())\n"
    ) == ["None"]
    assert run("from ddex_otel.telemetry.otelcompat import global_providers_unset as unset; print(unset())",
               OTEL_PYTHON_TRACER_PROVIDER="sdk_tracer_provider") == ["None"]
