"""DDEX Suite (``ddex_parser`` / ``ddex_builder``, Rust) as a second column of the same table.

Optional: absent packages mean no column. The Suite prints debug lines on stdout from Rust, so
its calls run with file descriptors 1 and 2 pointed at /dev/null.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ddex_otel.ern.durations import format_duration
from ddex_otel.ern.model import Message


def _iso(seconds: float | None) -> str | None:
    return format_duration(seconds) if seconds is not None else None


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence fds 1 and 2 (the Suite's Rust println!/eprintln! debug lines) for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        os.close(devnull)


class SuiteEngine:
    """Callables that do a case's work with DDEX Suite."""

    def __init__(self, ddex_parser: Any, ddex_builder: Any) -> None:
        self._parser_mod = ddex_parser
        self._builder_mod = ddex_builder
        versions = []
        for module in (ddex_parser, ddex_builder):
            versions.append(f"{module.__name__} {getattr(module, '__version__', '?')}")
        self.version = ", ".join(versions)

    @classmethod
    def load(cls) -> SuiteEngine | None:
        try:
            import ddex_builder
            import ddex_parser
        except ImportError:
            return None
        return cls(ddex_parser, ddex_builder)

    def parse_callable(self, data: bytes) -> Callable[[], Any]:
        text = data.decode("utf-8")
        parser = self._parser_mod.DDEXParser()
        return lambda: parser.parse(text)

    def build_callable(self, message: Message) -> Callable[[], Any]:
        """Add every release (with its tracks as resources) and build."""
        mod = self._builder_mod
        builder_cls = mod.DdexBuilder
        resources = [
            mod.Resource(resource_id=r.reference, resource_type=r.kind, title=r.title or "",
                         artist=r.display_artist or "", isrc=r.ids.isrc, duration=_iso(r.duration))
            for r in message.resources
        ]
        releases = [
            mod.Release(release_id=r.reference, release_type=r.release_type or r.kind, title=r.title or "",
                        artist=r.display_artist or "", label=r.label, upc=r.ids.icpn,
                        release_date=r.release_date, genre=r.genre, track_ids=list(r.resource_refs))
            for r in message.releases
        ]

        def build() -> Any:
            b = builder_cls()
            for resource in resources:
                b.add_resource(resource)
            for release in releases:
                b.add_release(release)
            return b.build()

        return build
