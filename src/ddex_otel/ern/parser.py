"""Whole-document parsing: source → Message.

STAGE CONTRACT (the telemetry instrumentor wraps these module-level functions from outside, so
``parse`` must call them through this module's globals, in this order, and they must keep
these names and signatures):
    read_input(source) -> InputData                 stage "read"
    parse_xml(data: bytes, *, huge_tree) -> root    stage "xml"
    detect_version(root) -> tuple[str, str]          stage "detect"  (ern_version, message_type)
    extract_message(root, ern_version, message_type) -> Message   stage "extract"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Union

from ddex_otel.ern.model import Message

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO]


@dataclass(frozen=True, slots=True)
class InputData:
    """The bytes of one input and, when it came from a file path, that path."""

    data: bytes
    path: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def read_input(source: Source) -> InputData:  # TODO(engine)
    raise NotImplementedError


def parse(source: Source, *, huge_tree: bool = False) -> Message:  # TODO(engine)
    raise NotImplementedError
