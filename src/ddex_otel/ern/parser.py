"""Whole-document parsing: source → Message, in one pass of four stages.

STAGE CONTRACT (the telemetry instrumentor wraps these module-level functions from outside, so
``parse`` calls each through its own module's globals, in this order, and they keep these
modules, names and signatures):
    parser.read_input(source) -> InputData                            stage "read"
    safexml.parse_xml(data: bytes, *, huge_tree) -> root              stage "xml"
    extract.detect_version(root) -> tuple[str, str]                   stage "detect"  (ern_version, message_type)
    lazy.extract_message(root, ern_version, message_type) -> Message  stage "extract"
Each stage lives with the module that owns its step: this module reads the input, ``safexml``
parses XML under its safety policy, ``extract`` identifies the root, ``lazy`` assembles the
Message (its objects filled on first read; ``extract.extract_all`` when everything is read now). When a stage observer is set (``stages.OBSERVER``), each stage is timed and reported to it.

Sources: ``bytes``/``bytearray``/``memoryview``; ``str`` holding XML text (it starts with ``<``
after optional whitespace or BOM) or a file path; ``os.PathLike``; a binary file object.
A path that does not exist raises the built-in FileNotFoundError (an OSError, not a DDEXError),
like ``open`` would; every problem with the *content* raises a DDEXError subclass.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol, Union

from ddex_otel.ern import extract, lazy, safexml
from ddex_otel.ern.model import Message
from ddex_otel.ern.stages import OBSERVER, StageObserver, timed


class BinaryReader(Protocol):
    """A binary file object as far as ``parse`` and ``stream`` use it: ``read`` returning bytes."""

    def read(self, size: int = -1, /) -> bytes: ...


Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryReader]

_XML_DECL_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?\sencoding\s*=\s*)([\"'])[^\"']*\2")


@dataclass(frozen=True, slots=True)
class InputData:
    """The bytes of one input and, when it came from a file path, that path."""

    data: bytes
    path: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def looks_like_xml_text(text: str) -> bool:
    """True when a str is XML text rather than a path: ``<`` after optional BOM/whitespace.

    Blank strings count as (empty) XML text, so they raise EmptyInputError, not FileNotFoundError.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    return not stripped or stripped.startswith("<")


def xml_text_to_bytes(text: str) -> bytes:
    """UTF-8 bytes of XML text; a declared encoding is rewritten to UTF-8 to stay truthful.

    Leading whitespace is dropped: ``parse(\"\"\"\\n<?xml …\"\"\")`` is a common way to write XML in
    Python, and an XML declaration is only legal at the very start.
    """
    text = text.lstrip("\ufeff \t\r\n")
    text = _XML_DECL_ENCODING.sub(r"\1\2UTF-8\2", text, count=1)
    return text.encode("utf-8")


def read_input(source: Source) -> InputData:
    """Read ``source`` fully into bytes (see the module docstring for accepted sources)."""
    if isinstance(source, bytes):
        return InputData(source)
    if isinstance(source, (bytearray, memoryview)):
        return InputData(bytes(source))
    if isinstance(source, str) and looks_like_xml_text(source):
        return InputData(xml_text_to_bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as handle:
            return InputData(handle.read(), path=str(path))
    read = getattr(source, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            data = xml_text_to_bytes(data)
        name = getattr(source, "name", None)
        return InputData(bytes(data), path=name if isinstance(name, str) else None)
    raise TypeError(f"cannot parse a {type(source).__name__}: pass bytes, XML text, a path or a binary file")


def parse(source: Source, *, huge_tree: bool = False) -> Message:
    """Parse one ERN message (3.8–4.3.1) into the model.

    ``huge_tree=True`` lifts libxml2's size/depth limits for trusted, very large documents (prefer
    ``stream`` for those). Raises a DDEXError subclass for bad content; see ``errors``.
    """
    observe = OBSERVER.get()
    if observe is not None:
        return _parse_observed(source, huge_tree, observe)
    inp = read_input(source)
    root = safexml.parse_xml(inp.data, huge_tree=huge_tree)
    ern_version, message_type = extract.detect_version(root)
    return lazy.extract_message(root, ern_version, message_type)


def _parse_observed(source: Source, huge_tree: bool, observe: StageObserver) -> Message:
    """``parse`` with every stage timed and reported to ``observe``."""
    inp = timed(observe, "read", read_input, source)
    root = timed(observe, "xml", safexml.parse_xml, inp.data, huge_tree=huge_tree)
    ern_version, message_type = timed(observe, "detect", extract.detect_version, root)
    return timed(observe, "extract", lazy.extract_message, root, ern_version, message_type)
