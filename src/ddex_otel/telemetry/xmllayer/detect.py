"""Recognising a DDEX document, and reading its facts from what the application already has.

Two questions, both asked without a second parse:

* *Is this input DDEX?* — for a parse that succeeded, its root element's tag (a ``startswith``:
  all a non-DDEX parse pays); for a failed parse or before an iterparse, the first bytes
  (``HEAD_SIZE``) of the input: a ``find`` for ``ddex.net/xml/``, then, on a hit, the root start
  tag and its namespace declaration.
* *What does it hold?* — after the call, from the tree (ElementTree API, shared by lxml and
  ``xml.etree``), from iterparse events as they pass (``EventCounter``) or from an xmltodict dict.

Counts follow the contract (and the engine's own reading): releases are the Release /
TrackRelease / ClipRelease children of ReleaseList, resources the children of ResourceList,
deals the Deal elements of DealList's ReleaseDeals. ERN children are usually unqualified; a
namespaced child is recognised by its local name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from ddex_otel.ern.errors import DDEXError
from ddex_otel.ern.validation import RELEASE_KINDS
from ddex_otel.ern.versions import version_from_namespace

#: Every DDEX standard's namespace starts with this (``…/ern/43``, ``…/mead/10``, ``…/pie/10``).
DDEX_NAMESPACE_PREFIX = "http://ddex.net/xml/"
#: A Clark-notation tag in a DDEX namespace starts with this.
DDEX_CLARK_PREFIX = "{" + DDEX_NAMESPACE_PREFIX
_NEEDLE_STR = "ddex.net/xml/"
_NEEDLE_BYTES = _NEEDLE_STR.encode("ascii")
#: How much of an input is looked at: the root start tag with its namespace declarations, after an
#: XML declaration and any comments, processing instructions or DOCTYPE before it.
HEAD_SIZE = 4096

#: Children of ReleaseList that count as releases: the engine's own list.
RELEASE_TAGS = frozenset(RELEASE_KINDS)


@dataclass(frozen=True, slots=True)
class Root:
    """A DDEX root element: its namespace, standard (``ern``, ``mead``, …), ERN version, local name."""

    namespace: str
    standard: str
    version: str | None  # dotted ERN version the engine knows, else None
    message_type: str


@dataclass(slots=True)
class Facts:
    """What a message holds (None: not known)."""

    releases: int | None = None
    resources: int | None = None
    deals: int | None = None
    message_id: str | None = None
    sender_id: str | None = None


class InputFacts(NamedTuple):
    """Size and path of an input, in the shape ``Operation.note_input`` reads (a named tuple: made
    once per recognised call, cheaper than a frozen dataclass)."""

    size: int | None = None
    path: str | None = None


@lru_cache(maxsize=256)
def root_info(namespace: str, local: str) -> Root | None:
    """The Root for a namespace and local name, or None when the namespace is not DDEX."""
    if not namespace.startswith(DDEX_NAMESPACE_PREFIX):
        return None
    standard = namespace[len(DDEX_NAMESPACE_PREFIX):].strip("/").partition("/")[0]
    version = None
    if standard == "ern":
        try:
            version = version_from_namespace(namespace)  # the engine's reading of the namespace
        except DDEXError:
            version = None
    return Root(namespace, standard, version, local)


def root_of_tag(tag: object) -> Root | None:
    """The Root of an element whose Clark-notation tag is in a DDEX namespace, else None (cheap)."""
    if type(tag) is not str or not tag.startswith(DDEX_CLARK_PREFIX):
        return None
    namespace, _, local = tag[1:].partition("}")
    return root_info(namespace, local)


def root_of_element(element: Any) -> Root | None:
    """``root_of_tag`` for an element or an ElementTree (its root)."""
    tag = getattr(element, "tag", None)
    if tag is None:
        getroot = getattr(element, "getroot", None)
        if getroot is None:
            return None
        tag = getattr(getroot(), "tag", None)
    return root_of_tag(tag)


# ------------------------------------------------------------------------------- sniffing the head


def sniff(data: object) -> Root | None:
    """The DDEX root declared at the start of in-memory XML (``bytes``/``str``), else None: what a
    failed parse was given (a parse that succeeded is judged by its root element instead).

    Input that does not name ``ddex.net/xml/`` in its head costs one bounded ``find``.
    """
    kind = type(data)
    if kind is bytes:
        if data.find(_NEEDLE_BYTES, 0, HEAD_SIZE) < 0:  # type: ignore[attr-defined]
            return None
        return root_from_head(data[:HEAD_SIZE].decode("utf-8", "replace"))  # type: ignore[index]
    if kind is str:
        if data.find(_NEEDLE_STR, 0, HEAD_SIZE) < 0:  # type: ignore[attr-defined]
            return None
        return root_from_head(data[:HEAD_SIZE])  # type: ignore[index]
    if isinstance(data, (bytes, bytearray, memoryview, str)):  # subclasses and buffers
        head = bytes(data[:HEAD_SIZE]) if not isinstance(data, str) else str(data[:HEAD_SIZE])
        return sniff(head)
    return None


_NAME = re.compile(r"<([^\s/>]+)([^>]*)")


def root_from_head(head: str) -> Root | None:
    """Find the root start tag in ``head`` (skipping the declaration, comments, processing
    instructions and a DOCTYPE) and return its Root when its namespace is DDEX."""
    pos = 0
    while True:
        start = head.find("<", pos)
        if start < 0:
            return None
        if head.startswith("<!--", start):
            pos = head.find("-->", start + 4)
        elif head.startswith("<?", start):
            pos = head.find("?>", start + 2)
        elif head.startswith("<!", start):  # DOCTYPE, with or without an internal subset
            bracket, close = head.find("[", start), head.find(">", start)
            pos = head.find("]>", bracket) if 0 <= bracket < close else close
        else:
            break
        if pos < 0:
            return None
        pos += 1
    match = _NAME.match(head, start)
    if match is None:
        return None
    name, attributes = match.group(1), match.group(2)
    prefix, _, local = name.rpartition(":")
    declaration = re.search(r"xmlns" + (":" + re.escape(prefix) if prefix else "") + r"\s*=\s*[\"']([^\"']*)",
                            attributes)
    if declaration is None:
        return None
    return root_info(declaration.group(1), local)


def source_path(source: object) -> str | None:
    """The file path of a parse source: a path, or a file object's ``name`` (None for a URL)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return path if isinstance(path, str) and "://" not in path[:12] else None
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def read_head(source: object, *, rewind: bool = False) -> tuple[str | None, str | None]:
    """(head text, path) of a file input, leaving its position as it was; (None, None) when it cannot
    be read back (a URL, a pipe, an unseekable stream). ``rewind``: the head of the whole file (after
    a failed parse moved the position), else from the current position."""
    path = source_path(source)
    if isinstance(source, (str, os.PathLike)):
        if path is None:
            return None, None
        try:
            with open(path, "rb") as handle:
                return handle.read(HEAD_SIZE).decode("utf-8", "replace"), path
        except OSError:
            return None, None
    peek = getattr(source, "peek", None)
    try:
        if peek is not None and not rewind:
            head = peek(HEAD_SIZE)[:HEAD_SIZE]
        elif callable(getattr(source, "seekable", None)) and source.seekable():  # type: ignore[attr-defined]
            at = source.tell()  # type: ignore[attr-defined]
            if rewind:
                source.seek(0)  # type: ignore[attr-defined]
            head = source.read(HEAD_SIZE)  # type: ignore[attr-defined]
            source.seek(at)  # type: ignore[attr-defined]
        else:
            return None, None
    except (OSError, ValueError, TypeError, AttributeError):
        return None, None
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    return (head, path) if isinstance(head, str) else (None, None)


def sniff_source(source: object, *, rewind: bool = False) -> tuple[Root | None, str | None]:
    """(Root, path) of a file path or file object whose head declares a DDEX root (see ``read_head``)."""
    head, path = read_head(source, rewind=rewind)
    if head is None or _NEEDLE_STR not in head:
        return None, path
    return root_from_head(head), path


def size_of(data: object) -> int | None:
    """Bytes of in-memory XML (UTF-8 length for text), None for anything else."""
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    return None


def file_size(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


# ------------------------------------------------------------------------------------- the facts


def local_name(tag: object) -> str | None:
    """Local part of an element tag (None for comments and processing instructions)."""
    if type(tag) is not str:
        return None
    return tag[tag.rfind("}") + 1:]


def tree_facts(root: Any) -> Facts:
    """Counts and header ids from an ElementTree-API root element (lxml or ``xml.etree``).

    Runs once per recognised parse, over the root's sections and their direct children only.
    """
    if hasattr(root, "iterchildren"):
        return _lxml_tree_facts(root)
    facts = Facts(0, 0, 0)
    for section in root:
        name = local_name(section.tag)
        if name == "ReleaseList":
            facts.releases = _count_children(section, RELEASE_TAGS)
        elif name == "ResourceList":
            facts.resources = _count_children(section, None)
        elif name == "DealList":
            facts.deals = sum(_count_children(rd, _DEAL) for rd in section if local_name(rd.tag) == "ReleaseDeal")
        elif name == "MessageHeader":
            for el in section:
                sub = local_name(el.tag)
                if sub == "MessageId" and facts.message_id is None:
                    facts.message_id = (el.text or "").strip() or None
                elif sub == "MessageSender" and facts.sender_id is None:
                    facts.sender_id = sender_dpid(pid.text for pid in el if local_name(pid.tag) == "PartyId")
    return facts


#: lxml tag filters matching a local name in any namespace or none (lxml's ``{*}`` wildcard).
_ANY_NS = "{*}"
_LXML_RELEASES = tuple(_ANY_NS + t for t in RELEASE_TAGS)


def _lxml_tree_facts(root: Any) -> Facts:
    """``tree_facts`` for lxml: filtered ``iterchildren`` (matching in C, so only the elements that
    count get a Python proxy; an lxml tag is built anew at each read, so each is read once)."""
    facts = Facts(0, 0, 0)
    for section in root.iterchildren("{*}ReleaseList", "{*}ResourceList", "{*}DealList", "{*}MessageHeader"):
        name = section.tag
        name = name[name.rfind("}") + 1:]
        if name == "ReleaseList":
            facts.releases = sum(1 for _ in section.iterchildren(*_LXML_RELEASES))
        elif name == "ResourceList":
            facts.resources = sum(1 for _ in section.iterchildren(_LXML_ELEMENT))
        elif name == "DealList":
            facts.deals = sum(1 for rd in section.iterchildren("{*}ReleaseDeal") for _ in rd.iterchildren("{*}Deal"))
        else:
            message_id = next(section.iterchildren("{*}MessageId"), None)
            if message_id is not None:
                facts.message_id = (message_id.text or "").strip() or None
            sender = next(section.iterchildren("{*}MessageSender"), None)
            if sender is not None:
                facts.sender_id = sender_dpid(pid.text for pid in sender.iterchildren("{*}PartyId"))
    return facts


def _lxml_element_tag() -> Any:
    from lxml import etree

    return etree.Element  # as an ``iterchildren`` filter: elements only (no comments, PIs)


_LXML_ELEMENT = _lxml_element_tag()


def sender_dpid(party_ids: Iterable[str | None]) -> str | None:
    """The sender's DPID: the first ``PADPIDA…`` PartyId, else the first PartyId — the rule of
    ``spans._pick_dpid`` (the engine's spans), applied in one pass to raw texts (None, blanks)."""
    first = None
    for text in party_ids:
        value = (text or "").strip()
        if value.startswith("PADPIDA"):
            return value
        if value and first is None:
            first = value
    return first


_DEAL = frozenset(("Deal",))


def _count_children(parent: Any, names: frozenset[str] | None) -> int:
    """Element children of ``parent`` (whose local name is in ``names``, unless None)."""
    count = 0
    for child in parent:
        tag = child.tag
        if type(tag) is not str:
            continue
        if names is None:
            count += 1
        else:
            if tag[0] == "{":
                tag = tag[tag.rfind("}") + 1:]
            if tag in names:
                count += 1
    return count


class EventCounter:
    """Facts of a message from iterparse ``start``/``end`` events, as they pass.

    Depth 1 is the root; a section (ReleaseList, ResourceList, DealList, MessageHeader) is at depth
    2. Everything is read at the element's ``end``, before the application sees the event (and may
    clear the element).
    """

    __slots__ = ("facts", "depth", "section", "subsection", "party_ids")

    def __init__(self) -> None:
        self.facts = Facts(0, 0, 0)
        self.party_ids: list[str] = []
        self.depth = 0
        self.section: str | None = None
        self.subsection: str | None = None

    def start(self, element: Any) -> None:
        self.depth += 1
        if self.depth == 2:
            self.section = local_name(element.tag)
        elif self.depth == 3:
            self.subsection = local_name(element.tag)

    def end(self, element: Any) -> None:
        depth = self.depth
        self.depth = depth - 1
        section = self.section
        if depth == 3:
            if section == "ReleaseList":
                if local_name(element.tag) in RELEASE_TAGS:
                    self.facts.releases += 1  # type: ignore[operator]
            elif section == "ResourceList":
                self.facts.resources += 1  # type: ignore[operator]
            elif section == "MessageHeader" and local_name(element.tag) == "MessageId":
                self.facts.message_id = (element.text or "").strip() or None
        elif depth == 4:
            if section == "DealList" and self.subsection == "ReleaseDeal" and local_name(element.tag) == "Deal":
                self.facts.deals += 1  # type: ignore[operator]
            elif section == "MessageHeader" and self.subsection == "MessageSender" \
                    and local_name(element.tag) == "PartyId" and element.text:
                self.party_ids.append(element.text)
                self.facts.sender_id = sender_dpid(self.party_ids)


def dict_root(document: Any) -> tuple[Root | None, Any]:
    """(Root, root mapping) of an xmltodict document: ``{"ern:NewReleaseMessage": {"@xmlns:ern": …}}``
    (or, with ``process_namespaces=True``, ``{"http://ddex.net/xml/ern/43:NewReleaseMessage": …}``)."""
    if not isinstance(document, dict) or len(document) != 1:
        return None, None
    (key, body), = document.items()
    if not isinstance(key, str):
        return None, None
    if key.startswith(DDEX_NAMESPACE_PREFIX):
        namespace, _, local = key.rpartition(":")
        return root_info(namespace, local), body
    prefix, _, local = key.rpartition(":")
    if isinstance(body, dict):
        declared = body.get("@xmlns:" + prefix if prefix else "@xmlns")
        if isinstance(declared, str):
            return root_info(declared, local), body
    return None, body


def _items(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _children(mapping: Any) -> list[tuple[str, Any]]:
    """Child elements of an xmltodict mapping: its keys that are not attributes or text."""
    if not isinstance(mapping, dict):
        return []
    return [(str(k).rpartition(":")[2], v) for k, v in mapping.items() if not str(k).startswith(("@", "#"))]


def dict_facts(body: Any) -> Facts:
    """Counts and header ids from the root mapping of an xmltodict document."""
    facts = Facts(0, 0, 0)
    for name, value in _children(body):
        for section in _items(value):
            if name == "ReleaseList":
                facts.releases = sum(len(_items(v)) for n, v in _children(section) if n in RELEASE_TAGS)
            elif name == "ResourceList":
                facts.resources = sum(len(_items(v)) for _, v in _children(section))
            elif name == "DealList":
                facts.deals = sum(
                    len(_items(deal))
                    for n, rds in _children(section) if n == "ReleaseDeal"
                    for rd in _items(rds) for m, deal in _children(rd) if m == "Deal"
                )
            elif name == "MessageHeader":
                for sub, val in _children(section):
                    if sub == "MessageId" and facts.message_id is None:
                        facts.message_id = _text(_items(val)[0] if _items(val) else None)
                    elif sub == "MessageSender":
                        for sender in _items(val):
                            facts.sender_id = sender_dpid(
                                _text(x) for n, v in _children(sender) if n == "PartyId" for x in _items(v)
                            )
    return facts


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    return value.strip() or None if isinstance(value, str) else None
