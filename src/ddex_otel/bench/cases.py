"""What the suite times: generated ERN 4.3 inputs and one callable per case.

Inputs come from the engine's generator (deterministic, schema-valid): the same bytes on every
machine, so figures compare across runs. The generator's smallest valid message is ~4.5 KB, so
the "1 KB" case is that message (its real size is in the results).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from lxml import etree

from ddex_otel.ern import builder, parser
from ddex_otel.ern.generator import generate_message, write_message
from ddex_otel.ern.model import Deal, Message, Party, Release, Resource

#: Parse inputs: (case name, target bytes).
PARSE_SIZES: tuple[tuple[str, int], ...] = (
    ("parse_1kb", 1_000), ("parse_10kb", 10_000), ("parse_100kb", 100_000), ("parse_1mb", 1_000_000),
)
#: Build inputs: (case name, releases, tracks per release).
BUILD_SHAPES: tuple[tuple[str, int, int], ...] = (("build_simple", 1, 10), ("build_complex", 100, 10))
REFERENCE = "reference_fromstring_100kb"


@dataclass
class Case:
    """One timed callable; ``size`` is the bytes it reads or writes (for MB/s)."""

    name: str
    run: Callable[[], Any]
    size: int
    what: str
    suite: Callable[[], Any] | None = None  # the same work with DDEX Suite, when installed
    extra: dict[str, Any] = field(default_factory=dict)


def sized_file(target_bytes: int, workdir: Path) -> Path:
    """A generated ERN 4.3 message file of about ``target_bytes`` (never below the smallest valid one)."""
    path = workdir / f"gen-{target_bytes}.xml"
    write_message(path, target_bytes=target_bytes)
    return path


def sized_message(target_bytes: int, workdir: Path) -> bytes:
    return sized_file(target_bytes, workdir).read_bytes()


_FIELD_READERS = tuple(attrgetter(*(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")))
                       for cls in (Party, Resource, Release, Deal))


def read_every_field(message: Message) -> Message:
    """Read every field of every party, resource, release and deal of ``message`` (and its header),
    as a consumer's attribute reads would: what ``parse``'s lazy model defers."""
    message.header  # noqa: B018 - read eagerly, read here for completeness
    groups = (message.parties, message.resources, message.releases, message.deals)
    for read, objects in zip(_FIELD_READERS, groups, strict=True):
        for obj in objects:
            read(obj)
    return message


def parse_and_read_all(data: bytes) -> Message:
    """``parse`` then ``read_every_field``."""
    return read_every_field(parser.parse(data))


def round_trip(data: bytes) -> bytes:
    """parse → modify (retitle the first release, drop the last deal) → build."""
    message = parser.parse(data)
    releases = list(message.releases)
    releases[0] = dataclasses.replace(releases[0], title=(releases[0].title or "") + " (remastered)")
    changed = dataclasses.replace(message, releases=tuple(releases), deals=message.deals[:-1] or message.deals)
    return builder.build(changed)


def build_cases(workdir: Path, suite: Any | None) -> list[Case]:
    """Every timed case, with its inputs generated into ``workdir``."""
    cases: list[Case] = []
    inputs: dict[str, bytes] = {}
    for name, target in PARSE_SIZES:
        data = inputs[name] = sized_message(target, workdir)
        cases.append(Case(name, _bind(parser.parse, data), len(data), f"parse a generated {len(data) / 1000:.1f} KB message",
                          suite=suite.parse_callable(data) if suite else None))
    data = inputs["parse_1mb"]  # the cost a consumer pays who touches every object
    cases.append(Case("parse_read_all_1mb", _bind(parse_and_read_all, data), len(data),
                      f"parse the {len(data) / 1000:.1f} KB message and read every field of every object"))
    reference = inputs["parse_100kb"]
    cases.append(Case(REFERENCE, _bind(etree.fromstring, reference), len(reference),
                      "bare lxml.etree.fromstring of the 100 KB input (the machine-speed reference)"))
    for name, releases, tracks in BUILD_SHAPES:
        message = parser.parse(generate_message(releases, tracks, "4.3", seed=0))
        out = builder.build(message)
        cases.append(Case(name, _bind(builder.build, message), len(out),
                          f"build ERN 4.3: {releases} release(s) × {tracks} tracks ({len(out) / 1000:.0f} KB out)",
                          suite=suite.build_callable(message) if suite else None,
                          extra={"releases": releases, "tracks": tracks}))
    data = inputs["parse_100kb"]
    cases.append(Case("round_trip_100kb", _bind(round_trip, data), len(data),
                      "parse 100 KB → retitle a release, drop a deal → build 4.3"))
    return cases


def _bind(func: Callable[..., Any], arg: Any) -> Callable[[], Any]:
    return lambda: func(arg)


def temp_workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="ddex-bench-")
