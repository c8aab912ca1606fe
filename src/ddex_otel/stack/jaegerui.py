"""Which Jaeger UI the local Jaeger serves: the official UI build that `ddex-otel stack build` installed.

A Jaeger built with ``go build`` embeds only a placeholder page; pointing its
``extensions.jaeger_query.ui.assets_path`` at the official static build gives the real UI. Where the
build comes from, first match wins:

1. ``$DDEX_OTEL_JAEGER_UI``: a directory holding ``index.html`` (used in place), or a ``.tgz`` that
   `ddex-otel stack build` unpacked into the cache;
2. ``${DDEX_OTEL_CACHE:-~/.cache/ddex-otel}/jaeger-ui``: the link `stack build` makes to the UI it
   installed (given with ``--jaeger-ui PATH``; ``make stack-bins`` passes the team's archive) and
   remembers.

No UI is not an error: Jaeger then serves its placeholder page and its HTTP API works as before.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import paths

ENV_JAEGER_UI = "DDEX_OTEL_JAEGER_UI"
INSTALL_LINK = "jaeger-ui"  # $CACHE/jaeger-ui -> jaeger-ui-v1.76.0 (made by `ddex-otel stack build`)
SOURCE_STAMP = ".source-sha256"  # sha256 of the archive a cached UI was unpacked from
HOW_TO_ADD = (
    "run `ddex-otel stack build --jaeger-ui PATH` with an official Jaeger UI build (a directory with "
    "index.html, or its .tgz such as jaeger-ui-v1.76.0-build.tgz), then restart the stack"
)


@dataclass(frozen=True)
class JaegerUI:
    """The UI directory to serve (None: Jaeger's placeholder page) and how it was found or why not."""

    path: Path | None
    note: str

    @property
    def installed(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        """One line for `stack up` / `stack status`."""
        if self.path is not None:
            return f"installed ({self.path}; {self.note})"
        return f"not installed: {self.note}; the local Jaeger serves a placeholder page (its API works). To add it, {HOW_TO_ADD}"


def find() -> JaegerUI:
    """The Jaeger UI build to serve, following the order in the module docstring."""
    env = os.environ.get(ENV_JAEGER_UI, "").strip()
    if env:
        return _from_env(Path(env).expanduser())
    link = paths.cache_dir() / INSTALL_LINK
    if (link / "index.html").is_file():
        return JaegerUI(link.resolve(), "installed by ddex-otel stack build")
    return JaegerUI(None, "ddex-otel stack build found no Jaeger UI build")


def _from_env(given: Path) -> JaegerUI:
    name = f"{ENV_JAEGER_UI}={given}"
    if given.is_dir():
        if (given / "index.html").is_file():
            return JaegerUI(given.resolve(), f"from {ENV_JAEGER_UI}")
        return JaegerUI(None, f"{name} has no index.html")
    if not given.is_file():
        return JaegerUI(None, f"{name}: no such directory or file")
    unpacked = paths.cache_dir() / unpacked_name(given)
    try:
        stamp = (unpacked / SOURCE_STAMP).read_text().strip()
    except OSError:
        stamp = ""
    if (unpacked / "index.html").is_file() and stamp == sha256(given):
        return JaegerUI(unpacked.resolve(), f"unpacked from {given} by ddex-otel stack build")
    return JaegerUI(None, f"{name} is not unpacked yet (run `ddex-otel stack build`)")


def unpacked_name(archive: Path) -> str:
    """Cache folder of an archive, as `stack build` names it: jaeger-ui-v1.76.0-build.tgz → jaeger-ui-v1.76.0."""
    name = archive.name
    for suffix in (".tgz", ".tar.gz", "-build"):
        name = name.removesuffix(suffix)
    return name


def sha256(path: Path) -> str:
    """Hex sha256 of a file: the stamp that tells whether a cached UI came from this archive."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def served(jaeger_url: str, timeout: float = 2.0) -> bool | None:
    """True if Jaeger at jaeger_url serves the real UI, False for its placeholder, None if unreachable."""
    try:
        with urllib.request.urlopen(f"{jaeger_url.rstrip('/')}/", timeout=timeout) as resp:
            page = resp.read(64 * 1024).decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return 'id="jaeger-ui-root"' in page
