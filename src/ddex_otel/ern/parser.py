"""Whole-document parsing: source → Message.

STAGE CONTRACT (the telemetry instrumentor wraps these module-level functions from outside, so
``parse`` must call them through this module's globals, in this order, and they must keep
these names and signatures):
    read_input(source) -> InputData                 stage "read"
    parse_xml(data: bytes, *, huge_tree) -> root    stage "xml"
    detect_version(root) -> tuple[str, str]          stage "detect"  (ern_version, message_type)
    extract_message(root, ern_version, message_type) -> Message   stage "extract"
When a stage observer is set (``stages.OBSERVER``), each stage is timed and reported to it.

Sources: ``bytes``/``bytearray``/``memoryview``; ``str`` holding XML text (it starts with ``<``
after optional whitespace or BOM) or a file path; ``os.PathLike``; a binary file object.
A path that does not exist raises the built-in FileNotFoundError (an OSError, not a DDEXError),
like ``open`` would; every problem with the *content* raises a DDEXError subclass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol, Union

from lxml import etree

from ddex_otel.ern import lazy as lazy_objects
from ddex_otel.ern import safexml
from ddex_otel.ern.extract import (
    Context,
    extract_header,
    extract_party,
    extract_purged_release,
    extract_release,
    extract_release_deal,
    extract_resource,
    fast_constructor,
    identify_root,
    split_tag,
    strip_ern_namespace,
)
from ddex_otel.ern.model import Deal, Message, MessageHeader, Party, Release, Resource
from ddex_otel.ern.stages import OBSERVER, StageObserver
from ddex_otel.ern.versions import is_legacy


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


def parse_xml(data: bytes, *, huge_tree: bool = False) -> etree._Element:
    """Parse bytes into an lxml root under the safety policy of ``safexml``; errors are typed."""
    if safexml.may_have_doctype(data):
        safexml.check_prolog(data, complete=True)
    try:
        root = etree.fromstring(data, safexml.thread_parser(huge_tree))
    except etree.XMLSyntaxError as exc:
        raise safexml.translate_syntax_error(exc, safexml.EndOfInput.of(data)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype:
        safexml.check_tree_dtd(tree)
    return root


def detect_version(root: etree._Element) -> tuple[str, str]:
    """(ern_version, message_type) from the root element's namespace and local name."""
    return identify_root(root.tag)


def extract_message(root: etree._Element, ern_version: str, message_type: str, *, lazy: bool = True) -> Message:
    """Walk the root's children once and build the Message with the shared extract functions.

    Every object keeps the element it was read from (``_source``, see ``model``), so ``build`` at
    this version can re-emit what the model does not hold. ``lazy`` (4.x): parties, resources,
    releases and deals are filled on first read (see ``lazy``); ``lazy=False`` reads everything now
    (the same Message).
    """
    legacy = is_legacy(ern_version)
    if lazy and not legacy:
        return _lazy_message(root, ern_version, message_type)
    ctx = Context(legacy=legacy)
    keep = not _unqualify_children(root)  # a namespaced-children document is rebuilt from the model
    header = _NO_HEADER
    parties: list[Party] = []
    resources: list[Resource] = []
    releases: list[Release] = []
    deals: list[Deal] = []
    purged: list[Release] = []

    def kept(obj: Any, el: etree._Element) -> Any:
        """``obj`` with its source element attached (when this document can be re-emitted)."""
        if keep:
            _set_source(obj, el)
        return obj

    for section in root:
        tag = section.tag
        if tag == "MessageHeader":
            header = kept(extract_header(section), section)
        elif tag == "PartyList":
            for el in section:
                if el.tag == "Party":
                    party = kept(extract_party(el), el)
                    ctx.add_party(party)
                    parties.append(party)
        elif tag == "ResourceList":
            resources.extend(kept(extract_resource(el, ctx), el) for el in section if isinstance(el.tag, str))
        elif tag == "ReleaseList":
            releases.extend(kept(extract_release(el, ctx), el) for el in section if isinstance(el.tag, str))
        elif tag == "DealList":
            for el in section:
                if el.tag == "ReleaseDeal":
                    found = extract_release_deal(el)
                    for deal, deal_el in zip(found, (d for d in el if d.tag == "Deal"), strict=True):
                        kept(deal, deal_el)
                    deals.extend(found)
        elif tag == "PurgedRelease":
            purged.append(kept(extract_purged_release(section), section))
    if legacy:
        parties = list(ctx.named_parties)
    return _message(ern_version, message_type, header, parties, releases, resources, deals, purged, root, keep)


def _lazy_message(root: etree._Element, ern_version: str, message_type: str) -> Message:
    """``extract_message`` for 4.x: the same Message, its objects made lazily (see ``lazy``)."""
    keep = not _unqualify_children(root)
    header = _NO_HEADER
    parties: list[Party] = []
    seen = lazy_objects.Parties()  # the parties an eager read would know at this point
    resources: list[Resource] = []
    releases: list[Release] = []
    deals: list[Deal] = []
    purged: list[Release] = []
    for section in root:
        tag = section.tag
        if tag == "ResourceList":
            resources += lazy_objects.resources(section, seen, keep)
        elif tag == "ReleaseList":
            releases += lazy_objects.releases(section, seen, keep)
        elif tag == "DealList":
            for el in section:
                if el.tag == "ReleaseDeal":
                    deals += lazy_objects.release_deals(el, keep)
        elif tag == "MessageHeader":
            header = extract_header(section)
            if keep:
                _set_source(header, section)
        elif tag == "PartyList":
            parties += lazy_objects.parties(section, keep)
            seen = lazy_objects.Parties(tuple(parties))
        elif tag == "PurgedRelease":
            purged.append(extract_purged_release(section))
            if keep:
                _set_source(purged[-1], section)
    return _message(ern_version, message_type, header, parties, releases, resources, deals, purged, root, keep)


def _message(ern_version: str, message_type: str, header: MessageHeader, parties: list[Party],
             releases: list[Release], resources: list[Resource], deals: list[Deal], purged: list[Release],
             root: etree._Element, keep: bool) -> Message:
    """The Message of what was read (its root kept as ``_source`` when the document can be re-emitted)."""
    return _new_message(
        ern_version=ern_version,
        message_type=message_type,
        header=header,
        parties=tuple(parties),
        releases=tuple(releases),
        resources=tuple(resources),
        deals=tuple(deals),
        purged_releases=tuple(purged),
        _source=root if keep else None,
        _parsed=keep,
    )


_NO_HEADER = MessageHeader()
_new_message = fast_constructor(Message)


def _set_source(obj: object, element: etree._Element) -> None:
    """Set a frozen model object's ``_source`` and ``_parsed`` once, right after extraction (the slots, directly)."""
    set_source, set_parsed = _SOURCE_SLOTS[type(obj)]
    set_source(obj, element)
    set_parsed(obj, True)


_SOURCE_SLOTS: dict[type, tuple[Callable[[object, Any], None], Callable[[object, Any], None]]] = {
    cls: (cls.__dict__["_source"].__set__, cls.__dict__["_parsed"].__set__)
    for cls in (Message, MessageHeader, Party, Release, Resource, Deal)
}


def _unqualify_children(root: etree._Element) -> bool:
    """Tolerate producers that namespace every element (see ``strip_ern_namespace``); True if it did."""
    for child in root:
        tag = child.tag
        if isinstance(tag, str):
            if tag.startswith("{"):
                namespace = split_tag(root.tag)[0] or ""
                for section in root:
                    if isinstance(section.tag, str):
                        strip_ern_namespace(section, namespace)
                return True
            return False
    return False


def parse(source: Source, *, huge_tree: bool = False) -> Message:
    """Parse one ERN message (3.8–4.3.1) into the model.

    ``huge_tree=True`` lifts libxml2's size/depth limits for trusted, very large documents (prefer
    ``stream`` for those). Raises a DDEXError subclass for bad content; see ``errors``.
    """
    observe = OBSERVER.get()
    if observe is not None:
        return _parse_observed(source, huge_tree, observe)
    inp = read_input(source)
    root = parse_xml(inp.data, huge_tree=huge_tree)
    ern_version, message_type = detect_version(root)
    return extract_message(root, ern_version, message_type)


def _parse_observed(source: Source, huge_tree: bool, observe: StageObserver) -> Message:
    """``parse`` with every stage timed and reported to ``observe`` (inline: this runs per message)."""
    stage = "read"
    start = perf_counter()
    try:
        inp = read_input(source)
        observe(stage, perf_counter() - start, inp)
        stage, start = "xml", perf_counter()
        root = parse_xml(inp.data, huge_tree=huge_tree)
        observe(stage, perf_counter() - start, root)
        stage, start = "detect", perf_counter()
        ern_version, message_type = found = detect_version(root)
        observe(stage, perf_counter() - start, found)
        stage, start = "extract", perf_counter()
        message = extract_message(root, ern_version, message_type)
    except BaseException:
        observe(stage, perf_counter() - start, None)
        raise
    observe(stage, perf_counter() - start, message)
    return message
