"""Incremental parsing for huge files (lxml pull parser with element clearing).

``stream(source)`` yields, in document order: one ``StreamStart``, the ``MessageHeader``, each
``Party``, each ``Resource``, each ``Release`` and each ``Deal`` — never holding the document.

STAGE CONTRACT (wrapped from outside by telemetry): ``open_input(source) -> StreamInput`` is
called through this module's globals; ``StreamInput.bytes_read`` counts the bytes consumed so far
and ``.path`` is the file path when there is one.

How memory stays flat: the input is read in chunks and fed to an ``XMLPullParser`` whose tag filter
(in C) reports only the end of the elements that become model objects and of the lists holding
them. Each such element is turned into a model object by the same ``extract`` functions ``parse``
uses, then cleared; finished siblings are deleted together once the items of one batch of parser
events (one chunk) have been handed out. An ERN 4.x Resource, Release or Deal is lazy instead
(``lazy``, as ``parse`` makes them): it holds its element, which is not cleared but unlinked from
the tree with the other finished siblings, and reads it on first use; what stays in memory is what
the caller keeps. The two repeated pieces that can make one item huge (a 4.x album's
ResourceGroupContentItems, a ReleaseDeal's DealReleaseReferences) are read one by one as they end
and deleted in batches of ``_BATCH``, so a million-track release streams in flat memory too (only
the model's own reference tuples grow with it).

Agreement with ``parse``: for every message, the streamed Party / Resource / Release / Deal items
equal ``parse``'s ``parties`` / ``resources`` / ``releases`` / ``deals`` and the streamed
MessageHeader equals ``parse``'s header. For 3.x (no PartyList), each named party is yielded just
before the first Resource or Release that names it.

Same safety policy as ``parse`` (see ``safexml``). A syntax error in the middle of the input is
raised, as the same typed error with line/column, after every item that was complete before it.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
from array import array
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from lxml import etree

from ddex_otel.ern import safexml
from ddex_otel.ern.errors import EmptyInputError, NotDDEXError
from ddex_otel.ern.extract import (
    Context,
    content_item_entry,
    extract_header,
    extract_party,
    extract_purged_release,
    extract_release,
    extract_release_deal,
    extract_resource,
    identify_root,
    sequence_number,
    split_tag,
    strip_ern_namespace,
)
from ddex_otel.ern.lazy import Parties, release_deals, streamed_release, streamed_resource
from ddex_otel.ern.model import Deal, MessageHeader, Party, Release, Resource, StreamStart
from ddex_otel.ern.parser import Source, looks_like_xml_text, xml_text_to_bytes
from ddex_otel.ern.versions import is_legacy

StreamItem = StreamStart | MessageHeader | Party | Resource | Release | Deal

#: Bytes read per ``read`` call: big enough for lxml to work in bulk, small enough that the
#: finished elements one batch of events leaves in the tree are still in the CPU cache when deleted.
CHUNK_SIZE = 64 * 1024

_RESOURCE_KINDS = ("SoundRecording", "Video", "Image", "Text", "SheetMusic", "Software", "MIDI", "UserDefinedResource")
_RELEASE_KINDS = ("Release", "TrackRelease", "ClipRelease")
_LISTS = ("PartyList", "ResourceList", "ReleaseList", "DealList")
# Items of other top-level lists: never extracted, but cleared as they end so they cannot pile up.
_SKIPPED_ITEMS = ("MusicalWork", "Collection", "CueSheet", "Chapter", "ReleaseVisibility", "TrackReleaseVisibility")

#: item tag → the list it must sit in (None: directly under the root).
_ITEM_PARENT: dict[str, str | None] = {
    "MessageHeader": None,
    "PurgedRelease": None,
    "Party": "PartyList",
    "ReleaseDeal": "DealList",
    **{kind: "ResourceList" for kind in _RESOURCE_KINDS},
    **{kind: "ReleaseList" for kind in _RELEASE_KINDS},
}
# Repeated pieces of one item that can be huge (a 4.x album's track list, a ReleaseDeal's release
# references): consumed as they end so even a million-track Release streams in flat memory.
_PIECES = ("ResourceGroupContentItem", "DealReleaseReference")
_FILTER_TAGS = tuple(_ITEM_PARENT) + _LISTS + _SKIPPED_ITEMS + _PIECES
#: what the parser reports: those names in any namespace or none (unqualified is ERN's rule; some
#: producers namespace every element). One wildcard entry per name keeps the C-level tag check, run
#: for every element end, as short as one list of plain names; an element of another namespace is
#: reported too and skipped (``_handle``), as if unreported.
_REPORTED_TAGS = tuple(f"{{*}}{tag}" for tag in _FILTER_TAGS)
#: pieces (of one item) read before the finished ones are deleted together: what the tree holds at
#: most beyond the piece being read
_BATCH = 64
#: list tag → the item tags that belong in it
_LIST_ITEMS: dict[str, frozenset[str]] = {
    name: frozenset(tag for tag, parent in _ITEM_PARENT.items() if parent == name) for name in _LISTS
}
#: stands for "no list yet" where an element (or None, the root's parent) would be compared
_NO_LIST = object()


class StreamInput:
    """A binary source read chunk by chunk; ``bytes_read`` is what has been consumed so far.

    ``owned``: ``open_input`` made the handle (a file it opened, bytes it wrapped), so it closes it
    and may read it again from the start (``newlines_before``, on the error path only).
    """

    def __init__(self, handle: BinaryIO, path: str | None = None, *, owned: bool = False) -> None:
        self._handle = handle
        self.owned = owned
        self.path = path
        self.bytes_read = 0

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        chunk = self._handle.read(size)
        if isinstance(chunk, str):
            raise TypeError("stream() needs a binary file object (open the file with 'rb')")
        self.bytes_read += len(chunk)
        return bytes(chunk)

    def newlines_before(self, offset: int) -> int:
        """The newlines in the first ``offset`` bytes, read again from the start (``owned`` inputs
        only; not counted in ``bytes_read``)."""
        handle = self._handle
        handle.seek(0)
        count = 0
        while offset > 0:
            chunk = handle.read(min(offset, CHUNK_SIZE))
            if not chunk:
                break
            count += chunk.count(b"\n")
            offset -= len(chunk)
        return count

    def close(self) -> None:
        """Close the file if ``open_input`` opened it (never a caller's file object)."""
        if self.owned:
            self._handle.close()


def open_input(source: Source) -> StreamInput:
    """Wrap bytes, XML text, a path or a binary file object for chunked reading.

    A missing path raises FileNotFoundError, as in ``parse``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return StreamInput(io.BytesIO(bytes(source)), owned=True)
    if isinstance(source, str) and looks_like_xml_text(source):
        return StreamInput(io.BytesIO(xml_text_to_bytes(source)), owned=True)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return StreamInput(open(path, "rb"), path=str(path), owned=True)
    if callable(getattr(source, "read", None)):
        name = getattr(source, "name", None)
        return StreamInput(source, path=name if isinstance(name, str) else None)  # type: ignore[arg-type]
    raise TypeError(f"cannot stream a {type(source).__name__}: pass bytes, XML text, a path or a binary file")


def stream(source: Source, *, huge_tree: bool = False) -> Iterator[StreamItem]:
    """Yield the items of one ERN message in document order while reading it incrementally."""
    inp = open_input(source)
    try:
        for batch in _Streamer(inp, huge_tree).batches():
            yield from batch
            del batch  # (see ``_Streamer._drop_finished_items``: the caller alone holds the items now)
    finally:
        inp.close()


#: how a UTF-16 input starts → its byte-order mark (as ``safexml.EndOfInput.of`` tells UTF-16 apart)
_UTF16_MARKS = {b"\xff\xfe": b"\xff\xfe", b"<\x00": b"\xff\xfe", b"\xfe\xff": b"\xfe\xff", b"\x00<": b"\xfe\xff"}


class _Tail:
    """Tracks where the input ends so a final syntax error can be told apart as truncation.

    That needs the line the last non-blank chunk starts on: counted as the chunks go by for an
    input that cannot be read again, else counted on the error path only (``newlines_before``),
    so a run that ends well never scans its bytes for newlines. A UTF-16 input's later chunks are
    read as UTF-16 too (with the byte-order mark its first chunk starts with, or stands for).
    """

    __slots__ = ("_inp", "_count", "_lines", "_lines_before", "_offset", "_offset_before", "_last_chunk", "_utf16")

    def __init__(self, inp: StreamInput) -> None:
        self._inp = inp
        self._count = not inp.owned  # a caller's handle is read once: count its newlines as they pass
        self._lines = 0  # (counted inputs) newlines so far …
        self._lines_before = 0  # … and before the last non-blank chunk
        self._offset = 0  # bytes so far …
        self._offset_before = 0  # … and before the last non-blank chunk
        self._last_chunk = b""
        self._utf16 = b""  # the byte-order mark of a UTF-16 input

    def add(self, chunk: bytes) -> None:
        if not self._offset:
            self._utf16 = _UTF16_MARKS.get(chunk[:2], b"")
        if chunk and not chunk.isspace():  # (= chunk.strip(), without copying the chunk)
            self._lines_before = self._lines
            self._offset_before = self._offset
            self._last_chunk = chunk
        self._offset += len(chunk)
        if self._count:
            self._lines += chunk.count(b"\n")

    def end(self) -> safexml.EndOfInput:
        last, offset = self._last_chunk, self._offset_before
        if offset and self._utf16:  # (from an even offset: a chunk may start inside a code unit)
            last = self._utf16 + last[offset % 2:]
        end = safexml.EndOfInput.of(last)
        before = self._lines_before if self._count else self._inp.newlines_before(self._offset_before)
        return safexml.EndOfInput(end.line + before, end.column, end.last_char)


class _Streamer:
    """One streaming run: reads chunks, feeds the pull parser, turns finished elements into items."""

    #: the message's extraction context: made by ``_start`` with the handlers that use it
    ctx: Context

    def __init__(self, inp: StreamInput, huge_tree: bool) -> None:
        self.inp = inp
        self.huge_tree = huge_tree
        self.tail = _Tail(inp)
        self.namespace = ""
        self._last_done: etree._Element | None = None
        #: the track list of the release whose ResourceGroup is streaming by
        self._tracks: _TrackList | None = None
        #: SequenceNumber of each ResourceGroup met in the current release, read before its children are freed
        self._group_seq: dict[etree._Element, float] = {}
        self._deal_refs: tuple[etree._Element | None, list[str]] = (None, [])
        self._out: list[StreamItem] = []
        #: (parent of the last piece, its top-level item): pieces come in runs under one parent
        self._piece_parent: tuple[etree._Element | None, etree._Element | None] = (None, None)
        #: the run of pieces being read: their parent, their tag and what reads one of them (set
        #: by ``_content_run`` / ``_deal_run`` for the first piece of a run; ``_handle``
        #: hands the next pieces of the same run straight to ``_run_read``)
        self._run_parent: etree._Element | None = None
        self._run_tag = ""
        self._run_read: Callable[[etree._Element], None] = _ignore
        #: the list whose earlier siblings were already dropped (once per list, not per item)
        self._dropped_for: etree._Element | None = None
        #: the top-level list the last item came from, its item tags and its handler: the next
        #: item of the same list needs none of the placement checks (see ``_handle``)
        self._items_of: Any = _NO_LIST  # an element, or none yet
        self._item_tags: frozenset[str] = frozenset()
        self._item_handler: Callable[[etree._Element], None] = self._party
        self._handlers: dict[str, Callable[[etree._Element], None]] = {}
        #: 4.x: the party names met so far, as the lazy items made from now on read them (a
        #: snapshot, made again after a new party)
        self._seen: Parties | None = None
        #: 3.x items are read at once and their elements cleared as they end; a 4.x item holds its
        #: element (unlinked from the tree with the finished siblings, as a cleared one would be)
        #: and reads it on first use
        self._clear_items = True
        #: pieces read since the last batch deletion (``_handle``)
        self._pieces = 0

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> bytes:
        chunk = self.inp.read(CHUNK_SIZE)
        self.tail.add(chunk)
        return chunk

    def _read_head(self) -> tuple[list[bytes], bool]:
        """The first chunk(s): enough to check the prolog (up to 1 MiB when a DOCTYPE appears)."""
        chunks = [self._read()]
        eof = not chunks[0]
        if not eof and safexml.may_have_doctype(chunks[0]):
            size = len(chunks[0])
            while size < safexml.MAX_PROLOG_BYTES:
                chunk = self._read()
                if not chunk:
                    eof = True
                    break
                chunks.append(chunk)
                size += len(chunk)
            safexml.check_prolog(b"".join(chunks), complete=eof)
        return chunks, eof

    # -- the run ---------------------------------------------------------------------------

    def batches(self) -> Iterator[list[StreamItem]]:
        """The items in document order, a list per batch of parser events (one generator step per
        batch here; ``stream`` hands them out one by one)."""
        chunks, eof = self._read_head()
        if eof and safexml.is_blank(b"".join(chunks)):
            raise EmptyInputError("the input is empty (no XML content)")
        start = self._sniff_root(chunks, eof)
        if start is not None:
            yield [start]
        parser = etree.XMLPullParser(
            events=("end",), tag=_REPORTED_TAGS, **safexml.secure_parser_options(self.huge_tree)
        )
        pending = list(chunks)
        while True:
            chunk = pending.pop(0) if pending else (b"" if eof else self._read())
            if not chunk:
                break
            try:
                parser.feed(chunk)
            except etree.XMLSyntaxError as exc:
                yield self._handle(parser.read_events())
                at_eof = not pending and (eof or not self._read())
                raise safexml.translate_syntax_error(exc, self.tail.end(), at_eof=at_eof) from None
            yield self._handle(parser.read_events())
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            # Every complete element was reported while feeding. What ``close`` reports on a
            # failure is an element left open at the end of the input: some lxml releases emit
            # end events for them, and an item built from one would be a cut item: those events
            # are left unread.
            raise safexml.translate_syntax_error(exc, self.tail.end(), at_eof=True) from None
        yield self._handle(parser.read_events())
        if start is None:  # pragma: no cover - a well-formed document always has a root start
            raise NotDDEXError("not a DDEX ERN message: no root element found")

    def _sniff_root(self, chunks: list[bytes], eof: bool) -> StreamStart | None:
        """Find the root start tag with a throwaway parser, to say what the message is up front.

        Returns None when the input is not well-formed before the root starts: the main parser
        then reports the error with its position. Reads more chunks (kept in ``chunks``, so the
        main parser sees them too) only for an unusually long prolog.
        """
        sniffer = etree.XMLPullParser(events=("start",), **safexml.secure_parser_options(self.huge_tree))
        index = size = 0
        while size <= safexml.MAX_PROLOG_BYTES:
            if index == len(chunks):
                chunk = b"" if eof else self._read()
                if not chunk:
                    return None
                chunks.append(chunk)
            failed = False
            try:
                sniffer.feed(chunks[index])
            except etree.XMLSyntaxError:
                failed = True
            for _event, element in sniffer.read_events():
                return self._start(element)
            if failed:
                return None
            size += len(chunks[index])
            index += 1
        raise NotDDEXError(f"not a DDEX ERN message: no root element in the first {safexml.MAX_PROLOG_BYTES} bytes")

    def _start(self, root: etree._Element) -> StreamStart:
        """Identify the message from its root element and set up extraction for its version."""
        safexml.check_tree_dtd(root.getroottree())
        version, message_type = identify_root(root.tag)
        self.namespace = split_tag(root.tag)[0] or ""
        self.ctx = Context(legacy=is_legacy(version))
        legacy = self.ctx.legacy
        self._clear_items = legacy
        self._handlers = {
            "ResourceList": self._resource if legacy else self._resource_4x,
            "ReleaseList": self._release if legacy else self._release_4x,
            "PartyList": self._party,
            "DealList": self._release_deal if legacy else self._release_deal_4x,
        }
        return StreamStart(ern_version=version, message_type=message_type)

    # -- events ----------------------------------------------------------------------------
    # Handlers append to ``self._out`` (plain calls, no generator chains: this is the hot loop);
    # ``_handle`` returns the items of one batch of parser events.

    def _handle(self, events: Iterator[tuple[str, etree._Element]]) -> list[StreamItem]:
        out = self._out = []
        if not self._handlers:
            return out  # the root was never identified: the parser is about to report why
        self._drop_finished_items()
        clear_items = self._clear_items
        items_of, item_tags, handler = self._items_of, self._item_tags, self._item_handler
        run_parent, run_tag, run_read = self._run_parent, self._run_tag, self._run_read
        pieces = self._pieces
        for _event, element in events:
            tag = element.tag
            if tag[0] == "{":
                strip_ern_namespace(element, self.namespace)
                tag = element.tag
                if tag[0] == "{":
                    continue  # an element of some other namespace: not ours
            parent = element.getparent()
            if parent is items_of and tag in item_tags:
                # the next item of the list the previous one came from (most events): as ``_item``
                # does, with the placement already checked for this parent
                previous = element.getprevious()
                if previous is not self._last_done and previous is not None:
                    self._unreported_before(element, handler)
                handler(element)
                self._last_done = element
                if clear_items:
                    element.clear(keep_tail=True)  # = _discard
                continue
            if parent is not run_parent or tag != run_tag:
                started = self._dispatch(element, parent, tag)
                items_of, item_tags, handler = self._items_of, self._item_tags, self._item_handler
                if not started:
                    continue
                run_parent, run_tag, run_read = self._run_parent, self._run_tag, self._run_read
            # a piece of the current run: read it; every ``_BATCH`` pieces, delete the children
            # before it (a few C calls for the batch instead of a clear and a delete each; the
            # children after it may already be parsed, their events still queued, so they stay)
            run_read(element)
            pieces += 1
            if pieces >= _BATCH:
                pieces = 0
                del parent[:parent.index(element)]
        self._pieces = pieces
        return out

    def _drop_finished_items(self) -> None:
        """Delete the items of the current list before the last one handled (the first thing each
        ``_handle`` does, for the items of the previous batch of events).

        Not while they are handled: a deleted element whose lazy item is still held (``_out``,
        until ``stream`` hands it out) is moved out of the tree, its subtree walked, and freed
        later; deleted once the caller dropped its item, it is freed at once, like a cleared one.
        What the tree holds beyond the item being read is one batch of parser events' items.
        """
        last = self._last_done
        items = None if last is None else last.getparent()
        # (None too when an item of another kind in the same list, a ReleaseVisibility in a
        # DealList, dropped its finished siblings already)
        if items is not None and items is self._items_of:
            index = items.index(last)
            if index:
                del items[:index]

    def _dispatch(self, element: etree._Element, parent: etree._Element | None, tag: str) -> bool:
        """An event off ``_handle``'s fast paths. True when ``element`` starts a run of pieces
        (``_handle`` then reads it as the run's first piece)."""
        if parent is None:
            return False
        if tag == "ResourceGroupContentItem":
            return self._content_run(element, parent)
        if tag == "DealReleaseReference":
            return self._deal_run(element, parent)
        if tag in _ITEM_PARENT:
            self._item(element, parent, tag)
        elif tag in self._handlers:
            if parent.getparent() is None:
                self._finish_list(element)
        else:
            grandparent = parent.getparent()
            if grandparent is not None and grandparent.getparent() is None:
                _discard(element)  # an item of another top-level list (WorkList, CueSheetList, …)
                _drop_previous(element)
        return False

    def _item(self, element: etree._Element, parent: etree._Element, tag: str) -> None:
        """An item element ended: extract it (and unreported siblings before it), then free it."""
        expected = _ITEM_PARENT[tag]
        grandparent = parent.getparent()
        if expected is None:
            if grandparent is None:
                self._out.append(extract_header(element) if tag == "MessageHeader" else extract_purged_release(element))
                _discard(element)
                _drop_previous(element)
            return
        if grandparent is None or grandparent.getparent() is not None or _local(parent.tag) != expected:
            return  # same name, different place (nested): freed with its ancestor
        handler = self._handlers[expected]
        previous = element.getprevious()
        if previous is not None and previous is not self._last_done:
            self._unreported_before(element, handler)
        handler(element)
        self._last_done = element
        if self._clear_items:
            _discard(element)
        _drop_previous(element)
        if parent is not self._dropped_for:
            _drop_previous(parent)
            self._dropped_for = parent
        self._items_of, self._item_tags, self._item_handler = parent, _LIST_ITEMS[expected], handler

    def _unreported_before(self, element: etree._Element, handler: Callable[[etree._Element], None]) -> None:
        """Siblings the tag filter did not report (unknown resource kinds, …), in document order."""
        unreported = []
        sibling = element.getprevious()
        while sibling is not None and sibling is not self._last_done:
            if isinstance(sibling.tag, str):
                if sibling.tag[0] == "{":
                    strip_ern_namespace(sibling, self.namespace)
                unreported.append(sibling)
            sibling = sibling.getprevious()
        for sibling in reversed(unreported):
            handler(sibling)

    def _finish_list(self, element: etree._Element) -> None:
        """A top-level list ended: handle unreported trailing children, then free the list."""
        if len(element):
            last = element[-1]
            if last is not self._last_done:
                handler = self._handlers[element.tag]
                self._unreported_before(last, handler)
                if isinstance(last.tag, str):
                    handler(last)
        self._last_done = None
        self._items_of = _NO_LIST
        _discard(element)
        _drop_previous(element)

    # -- pieces of huge items --------------------------------------------------------------

    def _content_run(self, element: etree._Element, group: etree._Element) -> bool:
        """A track-list entry of a release starting a run (False: not in a top-level release)."""
        if group is self._piece_parent[0]:
            owner = self._piece_parent[1]  # the same ResourceGroup as an earlier entry
        else:
            owner = _top_level_item(element, "ReleaseList")
            self._piece_parent = (group, owner)
        if owner is None:
            return False
        tracks = self._tracks
        if tracks is None or tracks.owner is not owner:
            tracks = self._tracks = _TrackList(owner)
        tracks.group_path = self._sequence_path(group)
        # 3.x track order comes from ReleaseResourceReferenceList instead: entries are only freed
        self._start_run(group, "ResourceGroupContentItem", _ignore if self.ctx.legacy else tracks.take)
        return True

    def _deal_run(self, element: etree._Element, parent: etree._Element) -> bool:
        """A DealReleaseReference starting a run (False: not in a top-level ReleaseDeal)."""
        if parent is self._piece_parent[0]:
            owner = self._piece_parent[1]  # the same ReleaseDeal as an earlier reference
        else:
            if parent.getparent() is None:
                return False
            owner = _top_level_item(element, "DealList")
            self._piece_parent = (parent, owner)
        if owner is not parent:
            return False
        deal_refs = self._deal_refs
        if deal_refs[0] is not parent:
            deal_refs = self._deal_refs = (parent, [])
        self._start_run(parent, "DealReleaseReference", functools.partial(_append_text, deal_refs[1]))
        return True

    def _start_run(self, parent: etree._Element, tag: str, read: Callable[[etree._Element], None]) -> None:
        self._run_parent, self._run_tag, self._run_read = parent, tag, read

    def _sequence_path(self, group: etree._Element | None) -> tuple[float, ...]:
        """SequenceNumbers of the nested ResourceGroups above an entry (as ``extract`` keys them)."""
        keys: list[float] = []
        node = group
        while node is not None:
            parent = node.getparent()
            if parent is None or _local(parent.tag) != "ResourceGroup":
                break  # the release's own ResourceGroup: not part of the key
            seq = self._group_seq.get(node)
            if seq is None:
                seq = self._group_seq[node] = sequence_number(node)
            keys.append(seq)
            node = parent
        return tuple(reversed(keys))

    def _take_group_refs(self, element: etree._Element) -> list[str] | None:
        """The track list consumed piecewise for ``element`` (None when there was none)."""
        tracks = self._tracks
        self._group_seq.clear()
        if tracks is None or tracks.owner is not element:
            return None
        self._tracks = None
        return tracks.references()

    def _take_deal_refs(self, element: etree._Element) -> list[str] | None:
        """The DealReleaseReferences consumed piecewise for ``element`` (None when none were)."""
        owner, refs = self._deal_refs
        if owner is not element:
            return None
        self._deal_refs = (None, [])
        return refs

    # -- per list --------------------------------------------------------------------------

    def _resource(self, element: etree._Element) -> None:
        resource = extract_resource(element, self.ctx)
        if self.ctx.legacy:
            self._out.extend(self.ctx.take_new_parties())
        self._out.append(resource)

    # 4.x items are lazy (see ``lazy``): each holds its element, read on first use.

    def _seen_parties(self) -> Parties:
        seen = self._seen
        if seen is None:
            seen = self._seen = Parties.indexed(dict(self.ctx.party_names))
        return seen

    def _resource_4x(self, element: etree._Element) -> None:
        self._out.append(streamed_resource(element, self._seen or self._seen_parties()))

    def _release_4x(self, element: etree._Element) -> None:
        tracks = self._tracks
        if tracks is None:  # (= _take_group_refs, without the call when there is no track list)
            self._group_seq.clear()
            refs = None
        else:
            refs = self._take_group_refs(element)
        self._out.append(streamed_release(element, self._seen or self._seen_parties(), refs))

    def _release_deal_4x(self, element: etree._Element) -> None:
        if element.tag == "ReleaseDeal":
            self._out.extend(release_deals(element, False, self._take_deal_refs(element)))

    def _release(self, element: etree._Element) -> None:
        release = extract_release(element, self.ctx, group_refs=self._take_group_refs(element))
        if self.ctx.legacy:
            self._out.extend(self.ctx.take_new_parties())
        self._out.append(release)

    def _party(self, element: etree._Element) -> None:
        if element.tag == "Party":
            party = extract_party(element)
            self.ctx.add_party(party)
            self._seen = None
            self._out.append(party)

    def _release_deal(self, element: etree._Element) -> None:
        if element.tag == "ReleaseDeal":
            self._out.extend(extract_release_deal(element, release_refs=self._take_deal_refs(element)))


class _TrackList:
    """A release's track-list entries as they stream by, kept compactly.

    A huge album has hundreds of thousands of entries; as (SequenceNumber path, [reference]) pairs
    each would cost several times its reference. Here: the references flat, each entry's own SequenceNumber in
    an array of floats, its group path once per run of entries sharing it. They are sorted (stably,
    like ``extract.sort_keyed_refs``) only when an entry came out of order; in order, the flat list
    is the answer as it is.
    """

    __slots__ = ("owner", "group_path", "refs", "ends", "seqs", "paths", "last_path", "last_seq", "ordered")

    def __init__(self, owner: etree._Element) -> None:
        self.owner = owner
        #: the SequenceNumber path of the group whose entries are streaming by (see ``take``)
        self.group_path: tuple[float, ...] = ()
        self.refs: list[str] = []
        self.ends = array("q")  # entry i's references are refs[ends[i - 1]:ends[i]]
        #: entry i's own SequenceNumber (a list instead once one is an int a float cannot hold exactly)
        self.seqs: array[float] | list[float] = array("d")
        self.paths: list[tuple[int, tuple[float, ...]]] = []  # (first entry, group path) per run
        self.last_path: tuple[float, ...] | None = None  # the previous entry's group path …
        self.last_seq: float = 0  # … and its own SequenceNumber (order is checked on (*path, seq))
        self.ordered = True

    def take(self, element: etree._Element) -> None:
        """Read one ResourceGroupContentItem element of the group at ``group_path`` (its references
        go straight into ``refs``). Once per track of every streamed release: the usual entry (the
        same group as the previous one, in order) costs a few appends."""
        all_refs = self.refs
        seq = content_item_entry(element, all_refs)
        if self.group_path is not self.last_path or seq < self.last_seq or not -_EXACT <= seq <= _EXACT:
            self._place(seq)
        self.last_seq = seq
        self.seqs.append(seq)
        self.ends.append(len(all_refs))

    def _place(self, seq: float) -> None:
        """The bookkeeping of an entry off the usual path (see ``take``): the first of a group
        (record its path; is it in order after the previous entry?), one out of order, or a
        SequenceNumber a float does not hold exactly (keep the numbers in a list from then on)."""
        path, last_path = self.group_path, self.last_path
        if path is not last_path:
            entry = len(self.ends)
            if not self.paths or self.paths[-1][1] != path:
                self.paths.append((entry, path))
            if entry and last_path is not None and (*path, seq) < (*last_path, self.last_seq):
                self.ordered = False
            self.last_path = path
        elif seq < self.last_seq:
            self.ordered = False
        if type(self.seqs) is array and type(seq) is int and not -_EXACT <= seq <= _EXACT:
            self.seqs = self.seqs.tolist()

    def references(self) -> list[str]:
        """Every reference in track-list order."""
        if self.ordered:
            return self.refs
        runs = [*self.paths, (len(self.ends), ())]
        keys = [(*path, self.seqs[i]) for (start, path), (stop, _) in itertools.pairwise(runs) for i in range(start, stop)]
        refs, ends = self.refs, self.ends
        out: list[str] = []
        for i in sorted(range(len(keys)), key=keys.__getitem__):  # stable: document order breaks ties
            out += refs[ends[i - 1] if i else 0:ends[i]]
        return out


_EXACT = 2**53  # the largest int range a float holds exactly


def _ignore(_element: etree._Element) -> None:
    """Read nothing (a piece that is only freed)."""


def _append_text(refs: list[str], element: etree._Element) -> None:
    """Append ``element``'s stripped text to ``refs`` unless it is empty (= ``element_text``)."""
    value = element.text
    if value is not None:
        value = value.strip()
        if value:
            refs.append(value)


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else split_tag(tag)[1]


def _top_level_item(element: etree._Element, list_tag: str) -> etree._Element | None:
    """The item of the top-level ``list_tag`` that contains ``element`` (None elsewhere)."""
    node, parent = element, element.getparent()
    while parent is not None:
        grandparent = parent.getparent()
        if grandparent is not None and grandparent.getparent() is None:
            return node if _local(parent.tag) == list_tag else None
        node, parent = parent, grandparent
    return None


def _discard(element: etree._Element) -> None:
    """Free an element's content; the node (and its tail text, which libxml2 may still be
    appending to) stays until a later ``_drop_previous`` removes it as a finished sibling."""
    element.clear(keep_tail=True)


def _drop_previous(element: etree._Element) -> None:
    """Delete ``element``'s previous siblings: they are handled and cleared already."""
    parent = element.getparent()
    if parent is None:
        return
    while element.getprevious() is not None:
        del parent[0]
