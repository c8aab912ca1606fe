"""`ddex-otel stack build`: build or find the local stack's binaries, from the installed package alone.

* ``ddex-otelcol``, ``jaeger`` and ``victoria-logs`` (the logs store): ``go build`` of the Go modules
  shipped in ``assets/otelcol``, ``assets/jaeger`` and ``assets/victorialogs``, cached as
  ``bin/<name>-<key>`` where key hashes the Go version, the package and that module's files (the same
  key scripts/build-stack.sh used, so its caches stay valid; each binary has its own key, so adding or
  changing one module never rebuilds the others);
* ``prometheus``/``promtool`` and ``alertmanager``/``amtool``: Debian's packages, apt-get when missing;
* the Jaeger UI: an official UI build (directory or .tgz) unpacked into the cache and remembered there;
* with ``browser=True`` Debian's ``chromium`` for the browser tests;
* with ``broker=True`` Debian's ``redis-server``, the Celery broker of ``ddex-otel fleet`` and
  ``ddex-otel batch --celery``.

Everything lands in ``${DDEX_OTEL_CACHE:-~/.cache/ddex-otel}``; a second run finds it and returns at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import jaegerui, paths
from .errors import StackError

JAEGER_UI_ARCHIVE = "jaeger-ui-v1.76.0-build.tgz"  # the UI that Jaeger 2.13 (module v1.76.0) pins
CHROMIUM = Path("/usr/bin/chromium")
LOG_TAIL_LINES = 30
# tarfile's "data" filter (no absolute paths, links out of the tree, devices) where Python has it.
_SAFE_EXTRACT: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


@dataclass(frozen=True)
class GoTarget:
    """A binary built from one of the shipped Go modules."""

    name: str
    module: str  # directory under paths.assets_dir() (collector/ in a checkout)
    package: str


GO_TARGETS = (
    GoTarget("ddex-otelcol", "otelcol", "."),
    GoTarget("jaeger", "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger"),
    # VictoriaLogs embeds its web UI (app/vlselect/vmui) in the module: nothing to install beside it.
    GoTarget("victoria-logs", "victorialogs", "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs"),
)


@dataclass(frozen=True)
class DebianTool:
    """Binaries a Debian package provides; the first name found on PATH is linked as ``links[i]``."""

    package: str
    links: tuple[tuple[str, tuple[str, ...]], ...]  # (name in bin/, names to look for on PATH)
    note: str = ""


DEBIAN_TOOLS = (
    DebianTool("prometheus", (("prometheus", ("prometheus",)), ("promtool", ("promtool",)))),
    DebianTool("prometheus-alertmanager",
               (("alertmanager", ("alertmanager", "prometheus-alertmanager")), ("amtool", ("amtool",))),
               note=" (~11 MB)"),
)
#: Optional: the Celery broker (``broker=True``); its system service is stopped, fleets run their own.
REDIS = DebianTool("redis-server", (("redis-server", ("redis-server",)),), note=" (~2 MB)")


class BuildError(StackError):
    """A prerequisite is missing or a build step failed (the message says which and what to do)."""


# -- what is there, what is missing -----------------------------------------------------------------

def go_version() -> str | None:
    """`go env GOVERSION` of the Go on PATH (GOTOOLCHAIN=local: never a toolchain download), or None."""
    go = shutil.which("go")
    if not go:
        return None
    done = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GOTOOLCHAIN": "local"})
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def required_go() -> tuple[int, ...]:
    """The highest ``go`` directive of the shipped modules (GOTOOLCHAIN=local needs at least that)."""
    found = []
    for target in GO_TARGETS:
        text = (paths.assets_dir() / target.module / "go.mod").read_text()
        if m := re.search(r"^go (\d+(?:\.\d+)*)\s*$", text, re.M):
            found.append(_version_tuple(m.group(1)))
    return max(found, default=(1,))


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def go_key(target: GoTarget, version: str) -> str:
    """Cache key of a Go build: sha256 of the Go version, the package and the module's files.

    Byte for byte what scripts/build-stack.sh hashed (printf version, package; cat go.mod go.sum *.go)."""
    module = paths.assets_dir() / target.module
    digest = hashlib.sha256(f"{version}\n{target.package}\n".encode())
    for path in [module / "go.mod", module / "go.sum", *sorted(module.glob("*.go"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _on_path(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def _debian_missing(tool: DebianTool) -> bool:
    return any(_on_path(names) is None for _link, names in tool.links)


def _apt_prefix() -> list[str] | None:
    """How to run apt-get here ([] as root, ["sudo"] otherwise), None if it cannot be run."""
    if not shutil.which("apt-get"):
        return None
    if os.geteuid() == 0:
        return []
    return ["sudo", "-n"] if shutil.which("sudo") else None


def missing_prerequisites(browser: bool = False, broker: bool = False) -> list[str]:
    """One line per missing prerequisite, with how to get it; empty when a build can proceed."""
    problems = []
    bin_dir = paths.bin_dir()
    version = go_version()
    needs_go = version is None or any(not (bin_dir / f"{t.name}-{go_key(t, version)}").is_file()
                                      for t in GO_TARGETS)
    want = ".".join(map(str, required_go()))
    if needs_go and version is None:
        problems.append(f"go: not on PATH; the collector, Jaeger and VictoriaLogs are built from source and need Go >= {want} "
                        "(install it from your distribution or the Go download page, then put `go` on PATH)")
    elif needs_go and version is not None and _version_tuple(version) < required_go():
        problems.append(f"go: {version} is too old; the collector, Jaeger and VictoriaLogs need Go >= {want}")
    debian = [t.package for t in DEBIAN_TOOLS if _debian_missing(t)]
    if browser and not CHROMIUM.exists():
        debian.append("chromium")
    if broker and _debian_missing(REDIS):
        debian.append(REDIS.package)
    if debian and _apt_prefix() is None:
        problems.append(f"{', '.join(debian)}: not installed, and apt-get cannot run here (not Debian, or "
                        "neither root nor password-less sudo): install them with your package manager "
                        "(prometheus with promtool, alertmanager >= 0.25 with amtool) and put them on PATH")
    return problems


# -- the build ---------------------------------------------------------------------------------------

class Reporter:
    """Phases with elapsed time: a rich live display on a terminal, plain lines otherwise (logs, CI)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal

    def say(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def phase(self, description: str) -> Iterator[Callable[[str], None]]:
        """Show description with a spinner, the elapsed time and a detail line (set by the callable
        yielded, e.g. the latest line of a build log) until the block ends."""
        if not self.live:
            self.say(f"{description} ...")
            yield lambda _detail: None
            return
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      TextColumn("[dim]{task.fields[detail]}"),
                      console=self.console, transient=True) as progress:
            task = progress.add_task(description, total=None, detail="")
            yield lambda detail: progress.update(task, detail=detail[: max(10, self.console.width - 60)])


@contextmanager
def _cache_lock() -> Iterator[None]:
    """One build at a time per cache (parallel test sessions share it): the lock build-stack.sh took."""
    cache = paths.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build(reporter: Reporter | None = None, *, jaeger_ui: Path | None = None, browser: bool = False,
          broker: bool = False) -> Path:
    """Build or find every binary of the local stack; return the bin dir. Raises BuildError."""
    reporter = reporter or Reporter()
    if problems := missing_prerequisites(browser, broker):
        raise BuildError("cannot build the local stack:\n  " + "\n  ".join(problems))
    bin_dir = paths.bin_dir()
    bin_dir.mkdir(parents=True, exist_ok=True)
    with _cache_lock():
        version = go_version()
        assert version is not None  # missing_prerequisites checked it
        for target in GO_TARGETS:
            _build_go(target, version, bin_dir, reporter)
        apt = _Apt(reporter)
        for tool in DEBIAN_TOOLS:
            _install_debian(tool, bin_dir, apt, reporter)
        install_jaeger_ui(reporter, jaeger_ui)
        if browser:
            if not CHROMIUM.exists():
                apt.install("chromium", "~125 MB download")
            reporter.say(f"chromium: {_first_line([str(CHROMIUM), '--version'])}")
        if broker:
            _install_debian(REDIS, bin_dir, apt, reporter)
    reporter.say(f"ready: {bin_dir}")
    return bin_dir


def _build_go(target: GoTarget, version: str, bin_dir: Path, reporter: Reporter) -> None:
    key = go_key(target, version)
    binary = bin_dir / f"{target.name}-{key}"
    if os.access(binary, os.X_OK):
        reporter.say(f"{target.name}: cached ({binary})")
    else:
        module = paths.assets_dir() / target.module
        log = paths.cache_dir() / "logs" / f"go-build-{target.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f"{binary.name}.tmp.{os.getpid()}")
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off",
               "GOFLAGS": "-trimpath -buildvcs=false -mod=readonly"}
        start = time.monotonic()
        reporter.say(f"{target.name}: building with {version} (several minutes on 2 cores the first time; "
                     f"go's output goes to {log})")
        with reporter.phase(f"{target.name}: go build") as show, log.open("wb") as out:
            proc = subprocess.Popen(["go", "build", "-v", "-ldflags=-s -w", "-o", str(tmp), target.package],
                                    cwd=module, stdout=out, stderr=subprocess.STDOUT, env=env)
            while proc.poll() is None:  # the latest package go compiles, on a terminal
                show(_last_line(log))
                time.sleep(0.5)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise BuildError(f"{target.name}: go build failed (status {proc.returncode}):\n"
                             f"{_tail(log)}\nfull output", log)
        tmp.replace(binary)
        reporter.say(f"{target.name}: built in {time.monotonic() - start:.0f}s -> {binary}")
        for old in bin_dir.glob(f"{target.name}-*"):  # each older build is ~100 MB
            if old.is_file() and old.name != binary.name and ".tmp." not in old.name:
                old.unlink()
    _link(bin_dir / target.name, binary.name)


class _Apt:
    """apt-get install, with one apt-get update per build; output in the cache's logs/apt.log."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.updated = False
        self.log = paths.cache_dir() / "logs" / "apt.log"

    def _run(self, argv: list[str], what: str) -> None:
        prefix = _apt_prefix()
        if prefix is None:
            raise BuildError(f"{what}: apt-get cannot run here; install it with your package manager")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.reporter.phase(what), self.log.open("ab") as out:
            done = subprocess.run([*prefix, *argv], stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if done.returncode != 0:
            raise BuildError(f"{what} failed (status {done.returncode}):\n{_tail(self.log)}\nfull output", self.log)

    def install(self, package: str, size: str = "") -> None:
        if not self.updated:
            self._run(["apt-get", "update", "-qq"], "apt-get update")
            self.updated = True
        self._run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                  f"{package}: not installed, apt-get install {package}{f' ({size})' if size else ''}")


def _install_debian(tool: DebianTool, bin_dir: Path, apt: _Apt, reporter: Reporter) -> None:
    if _debian_missing(tool):
        apt.install(tool.package, tool.note.strip(" ()"))
        # The package starts a system service; the stack runs its own instances.
        prefix = _apt_prefix() or []
        subprocess.run([*prefix, "service", tool.package, "stop"], capture_output=True)
    for link, names in tool.links:
        found = _on_path(names)
        if found is None:
            raise BuildError(f"{tool.package} installed but no {' or '.join(names)} on PATH")
        _link(bin_dir / link, found)
    first = tool.links[0][0]
    reporter.say(f"{first}: {_first_line([str(bin_dir / first), '--version'])}")


def _link(link: Path, target: str) -> None:
    """Point link at target atomically (like ln -sfn)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def _first_line(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return ((done.stdout or done.stderr).splitlines() or ["?"])[0]


def _last_line(log: Path) -> str:
    try:
        with log.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 512))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join("    " + line for line in text[-lines:])


# -- the Jaeger UI -----------------------------------------------------------------------------------

_NO_UI = ("the local Jaeger will serve a placeholder page instead of its UI (its API works); to add the UI, "
          + jaegerui.HOW_TO_ADD)

def install_jaeger_ui(reporter: Reporter, given: Path | None = None) -> Path | None:
    """Install the Jaeger UI build given, else $DDEX_OTEL_JAEGER_UI, else the one remembered in the cache.
    Never fails the build: says what is missing instead."""
    env = os.environ.get(jaegerui.ENV_JAEGER_UI, "").strip()
    link = paths.cache_dir() / jaegerui.INSTALL_LINK
    source, origin = None, ""
    if given is not None:
        source, origin = Path(given).expanduser().resolve(), "--jaeger-ui"
    elif env:
        source, origin = Path(env).expanduser(), jaegerui.ENV_JAEGER_UI
        if source.is_dir():  # used in place, every time (jaegerui.find reads the variable too)
            if (source / "index.html").is_file():
                reporter.say(f"jaeger-ui: using the directory {source} ({origin})")
            else:
                reporter.say(f"jaeger-ui: WARNING: {origin}={source} has no index.html: {_NO_UI}")
            return None
    elif (link / "index.html").is_file():
        reporter.say(f"jaeger-ui: cached ({link.parent / os.readlink(link)})")
        return link
    else:
        reporter.say(f"jaeger-ui: not installed: {_NO_UI}")
        return None
    if source.is_dir():
        if not (source / "index.html").is_file():
            reporter.say(f"jaeger-ui: WARNING: {source} has no index.html: {_NO_UI}")
            return None
        _link(link, str(source))
        reporter.say(f"jaeger-ui: using the directory {source} (remembered in {link})")
        return link
    if not source.is_file():
        reporter.say(f"jaeger-ui: WARNING: {origin} {source} is neither a directory nor a file: {_NO_UI}")
        return None
    name = jaegerui.unpacked_name(source)
    target = paths.cache_dir() / name
    digest = jaegerui.sha256(source)
    stamp = target / jaegerui.SOURCE_STAMP
    if (target / "index.html").is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        reporter.say(f"jaeger-ui: cached ({target})")
    else:
        start = time.monotonic()
        tmp = target.with_name(f"{target.name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with tarfile.open(source, "r:gz") as tar:
                tar.extractall(tmp, **_SAFE_EXTRACT)
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            reporter.say(f"jaeger-ui: WARNING: {source} is not a Jaeger UI build ({exc}): {_NO_UI}")
            return None
        if not (tmp / "index.html").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            reporter.say(f"jaeger-ui: WARNING: {source} is not a Jaeger UI build (.tgz with index.html at its "
                         f"root): {_NO_UI}")
            return None
        (tmp / jaegerui.SOURCE_STAMP).write_text(digest + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        reporter.say(f"jaeger-ui: unpacked {source} in {(time.monotonic() - start) * 1000:.0f} ms -> {target}")
    _link(link, name)
    return link


# -- for tests and `stack up --build` ----------------------------------------------------------------

def ensure_binaries(browser: bool = True, broker: bool = True, jaeger_ui: Path | None = None) -> Path:
    """Build/install the stack's binaries if needed, quietly (output in the cache's build-stack.log);
    ``jaeger_ui`` as ``stack build --jaeger-ui``."""
    log = paths.cache_dir() / "build-stack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        reporter = Reporter(Console(file=out, force_terminal=False, width=200))
        try:
            return build(reporter, jaeger_ui=jaeger_ui, browser=browser, broker=broker)
        except BuildError as exc:
            reporter.say(f"error: {exc}")
            raise BuildError(str(exc).split(";")[0].splitlines()[0], log) from None
