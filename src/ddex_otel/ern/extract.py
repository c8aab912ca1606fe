"""Element → model extraction, shared by ``parse`` (whole tree) and ``stream`` (one element at a time).

Both readers call exactly these functions on the same elements, so they cannot disagree. The whole
message read at once (``extract_all``: 3.x, and ``parse``'s eager path) and the pieces the lazy
walk of ``lazy`` shares with it (``new_message``, ``set_source``, ``unqualify_children``) are here too.

Speed: ERN child elements are unqualified (only the root is namespaced), so ``child.tag`` is a plain
string and each element's children are walked once, collecting the wanted ones into a dict; no
XPath, no ``find`` (lxml's ``find``/``findtext`` go through a Python path engine per call).

Choices where ERN offers several values (documented because the builder writes the inverse):
- Text is stripped of surrounding whitespace; an empty element reads as None.
- 4.x "WithDefault"/"WithTerritory" lists (DisplayTitle, DisplayArtistName, Genre, PLine,
  ReleaseLabelReference, PartyName, …): the one with ``IsDefault="true"``, else the first.
- Titles: 4.x DisplayTitleText, else DisplayTitle/TitleText. 3.x: the ``TitleType="DisplayTitle"``
  Title of the chosen ``*DetailsByTerritory``, else ReferenceTitle, else a Title on the element.
  A 4.x TrackRelease with only an AdditionalTitle has no display title (None).
- 3.x ``*DetailsByTerritory``: the block whose TerritoryCode is Worldwide, else the first.
- Release date: 4.x ReleaseDate, else OriginalReleaseDate. 3.x details ReleaseDate, else details
  OriginalReleaseDate, else GlobalReleaseDate, else GlobalOriginalReleaseDate.
- P/C lines: 4.x release-level PLine/CLine; 3.x release-level, else the chosen details block's.
- Label: 4.x ReleaseLabelReference resolved to its PartyList party's name (None if unresolved);
  3.x the first LabelName of the chosen details block.
- resource_refs: 4.x every ResourceGroupContentItem/ReleaseResourceReference of the ResourceGroup
  tree, ordered by SequenceNumber (of the sub-groups, then of the items; entries without one come
  after the numbered ones, in document order) — document order when there are none
  (LinkedReleaseResourceReference, e.g. cover art, is not a track), or a
  TrackRelease/ClipRelease's single ReleaseResourceReference; 3.x ReleaseResourceReferenceList in
  order, primary and secondary resources alike.
- Resource ids: 4.x the first SoundRecordingEdition/VideoEdition's ResourceId(s), else ResourceId;
  3.x ``<Kind>Id`` (SoundRecordingId, VideoId, ImageId, …). Several id blocks merge: the first
  value of each scalar wins, proprietary ids accumulate.
- Deals: each Deal of a ReleaseDeal carries that ReleaseDeal's DealReleaseReferences; use types
  from DealTerms/UseType (4.x) and DealTerms/Usage/UseType (3.x); dates from the first
  ValidityPeriod, StartDate else StartDateTime (EndDate else EndDateTime).
- PurgeReleaseMessage: each PurgedRelease becomes a Release of kind ``"PurgedRelease"`` with an
  empty reference (there is none), its ReleaseId as ids and its display title; ``parse`` puts it in
  ``Message.purged_releases`` (not ``releases``: it is no ReleaseList release), ``stream`` yields it.
- Parties: 4.x PartyList/Party. 3.x has no PartyList, so the named parties met in
  ``*DetailsByTerritory`` (DisplayArtist, DisplayConductor, ResourceContributor,
  IndirectResourceContributor, RightsController, LabelName) are collected by name, first-seen order,
  with reference None.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

from lxml import etree

from ddex_otel.ern.durations import parse_duration
from ddex_otel.ern.errors import NotDDEXError
from ddex_otel.ern.model import (
    Contributor,
    Deal,
    Identifiers,
    Line,
    Localized,
    Message,
    MessageHeader,
    Party,
    Price,
    ProprietaryId,
    Release,
    Resource,
    TechnicalDetails,
)
from ddex_otel.ern.versions import is_legacy, version_from_namespace

Element: TypeAlias = etree._Element

_NO_IDS = Identifiers()


#: Held while a lazy object is filled in place (``lazy.fill``): a read racing that fill waits for it
#: (``building_class``). Read through this module's globals: a forked child gets a new one.
FILLING = threading.RLock()


def _new_filling_lock() -> None:
    """After a fork: a new ``FILLING`` (no thread of the child could release one held at the fork)."""
    global FILLING
    FILLING = threading.RLock()


os.register_at_fork(after_in_child=_new_filling_lock)


def fast_constructor(cls: type) -> Callable[..., Any]:
    """A constructor for a frozen, slotted model class: same arguments (same defaults,
    ``default_factory`` ones included), same object (``==``/``hash``/``repr`` identical), cheaper
    than the dataclass ``__init__`` (which goes through ``object.__setattr__`` per field):
    extraction builds several objects per element.

    The object is made an instance of a private subclass with the same slots and plain attribute
    assignment (``building_class``), each field assigned directly (the interpreter's own slot
    store), then made an instance of ``cls`` (``__class__`` set: same layout). Generated from
    ``dataclasses.fields``, so it follows the model. Arguments may be positional, in field order:
    the hot extractors pass them so, as matching many keyword arguments costs more than the rest of
    the call.

    ``_into``: fill that existing (lazy, see ``lazy``) object instead, under ``FILLING``; its
    ``_source`` and ``_parsed`` are left as they are.
    """
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_building": building_class(cls),
                                 "_reclass": object.__setattr__, "_missing": dataclasses.MISSING}
    params, defaults, fields, own = [], [], [], []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_missing")
            defaults.append(f"    if {f.name} is _missing:\n        {f.name} = _factory_{f.name}()\n")
        else:
            params.append(f.name)
        if f.name.startswith("_"):  # _source, _parsed: a lazy object's stay as ``lazy`` set them
            own.append(f"        obj.{f.name} = {f.name}\n")
        else:
            fields.append(f"    obj.{f.name} = {f.name}\n")
    source = (f"def make({', '.join(params)}, _into=None):\n" + "".join(defaults)
              + "    if _into is None:\n        obj = _new(_building)\n" + "".join(own)
              + "    else:\n        obj = _into\n        _reclass(obj, '__class__', _building)\n"
              + "".join(fields) + "    obj.__class__ = _cls\n    return obj\n")
    exec(source, namespace)  # noqa: S102 - code generated from the model's own field names
    make = namespace["make"]
    make.__qualname__ = f"fast {cls.__name__}"
    return make


def _wait_for_fill(obj: Any, name: str) -> Any:
    """``__getattr__`` of a building class: a field read before it is set, which only a thread
    racing another's in-place fill of a lazy object can do; it waits for that fill to end."""
    with FILLING:
        return object.__getattribute__(obj, name)


@functools.cache
def building_class(cls: type) -> type:
    """A subclass of a frozen model class with the same slots whose attributes can be assigned
    (``object``'s ``__setattr__`` and ``__delattr__``, so the interpreter's slot store applies):
    what ``fast_constructor`` (and ``lazy``, for an unfilled object) makes an object as before it
    becomes ``cls`` (or ``lazy``'s pending subclass of it). One per model class."""
    namespace = {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__,
                 "__getattr__": _wait_for_fill, "__qualname__": f"{cls.__qualname__} (being built)",
                 "__module__": cls.__module__}
    return type(cls.__name__, (cls,), namespace)


_new_release = fast_constructor(Release)
_new_resource = fast_constructor(Resource)
_new_identifiers = fast_constructor(Identifiers)
_new_proprietary_id = fast_constructor(ProprietaryId)
_new_deal = fast_constructor(Deal)
_new_line = fast_constructor(Line)
_new_party = fast_constructor(Party)
_new_header = fast_constructor(MessageHeader)
_new_contributor = fast_constructor(Contributor)
_new_localized = fast_constructor(Localized)
_new_price = fast_constructor(Price)
_new_technical = fast_constructor(TechnicalDetails)

#: Root elements (local names) this engine reads.
MESSAGE_TYPES: tuple[str, ...] = ("NewReleaseMessage", "PurgeReleaseMessage")


def split_tag(tag: str) -> tuple[str | None, str]:
    """``{ns}Local`` → (ns, Local); an unqualified tag has namespace None."""
    if tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def identify_root(tag: object) -> tuple[str, str]:
    """(ern_version, message_type) of a root element tag; NotDDEXError / UnsupportedVersionError."""
    if not isinstance(tag, str):
        raise NotDDEXError("not a DDEX ERN message: no root element")
    namespace, local = split_tag(tag)
    if namespace is None:
        raise NotDDEXError(f"not a DDEX ERN message: root element {local!r} has no namespace")
    version = version_from_namespace(namespace)
    if local not in MESSAGE_TYPES:
        raise NotDDEXError(
            f"not an ERN message this engine reads: root element {local!r} "
            f"(expected {' or '.join(MESSAGE_TYPES)})"
        )
    return version, local


def detect_version(root: Element) -> tuple[str, str]:
    """(ern_version, message_type) of a parsed message, from its root element (``parse``'s "detect" stage)."""
    return identify_root(root.tag)


class Context:
    """What extraction must remember across elements: the version family and the parties seen.

    4.x releases name their label by PartyReference, so PartyList parties are indexed by reference.
    3.x has no PartyList: named parties are collected while reading; ``take_new_parties`` hands the
    not-yet-reported ones to ``stream`` so it can yield them before the item that named them.
    """

    __slots__ = ("legacy", "party_names", "_named", "_new")

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy
        self.party_names: dict[str, str | None] = {}
        self._named: dict[str, Party] = {}
        self._new: list[Party] = []

    def add_party(self, party: Party) -> None:
        """Index a PartyList party so release labels can be resolved."""
        if party.reference is not None:
            self.party_names[party.reference] = party.name

    def note_named_party(self, name: str, party_ids: tuple[str, ...] = ()) -> None:
        """Record a 3.x named party the first time its name appears."""
        if name not in self._named:
            party = Party(reference=None, party_ids=party_ids, name=name)
            self._named[name] = party
            self._new.append(party)

    @property
    def named_parties(self) -> tuple[Party, ...]:
        """All 3.x named parties collected so far, in first-seen order."""
        return tuple(self._named.values())

    def take_new_parties(self) -> list[Party]:
        """The named parties collected since the last call (for streaming)."""
        new, self._new = self._new, []
        return new


# ------------------------------------------------------------------------------------ primitives


def element_text(el: Element | None) -> str | None:
    """Stripped text of ``el``; None when absent or empty.

    (The parsers drop comments and processing instructions, see ``safexml``: a value's text is whole.)
    """
    if el is None:
        return None
    value = el.text
    if value is None:
        return None
    value = value.strip()
    return value or None


_text = element_text


#: What ``_group`` finds when there is no element to look in (read only).
_NO_GROUP: Mapping[str, list[Element]] = MappingProxyType({})


def _group(el: Element, wanted: frozenset[str]) -> dict[str, list[Element]]:
    """The wanted children of ``el`` by tag, in document order: one pass over the children."""
    out: dict[str, list[Element]] = {}
    for child in el:
        tag = child.tag
        if tag in wanted:
            bucket = out.get(tag)
            if bucket is None:
                out[tag] = [child]
            else:
                bucket.append(child)
    return out


def pick_default(elements: Sequence[Element] | None) -> Element | None:
    """The ``IsDefault="true"`` element of a 4.x territory/language list, else the first."""
    if not elements:
        return None
    if len(elements) > 1:
        for el in elements:
            if el.get("IsDefault") == "true":
                return el
    return elements[0]


def _first_text(elements: Sequence[Element] | None) -> str | None:
    """Text of the first element that has some."""
    if elements:
        for el in elements:
            value = _text(el)
            if value is not None:
                return value
    return None


def _texts(elements: Iterable[Element] | None) -> tuple[str, ...]:
    """Non-empty texts of ``elements``, in order."""
    if not elements:
        return ()
    return tuple(v for v in map(_text, elements) if v is not None)


def first_child(el: Element | None, tag: str) -> Element | None:
    """The first child of ``el`` named ``tag``."""
    if el is not None:
        for child in el:
            if child.tag == tag:
                return child
    return None


def _child_text(el: Element | None, tag: str) -> str | None:
    """Stripped text of the first child of ``el`` named ``tag`` (= ``_text(first_child(el, tag))``)."""
    child = el[0] if el is not None and len(el) else None
    while child is not None:  # (getnext: no iterator object for the usual one or two children)
        if child.tag == tag:
            value = child.text
            return None if value is None else value.strip() or None
        child = child.getnext()
    return None


def _line(el: Element | None, text_tag: str) -> Line | None:
    """A PLine/CLine: Year and PLineText/CLineText (None without text)."""
    if el is None:
        return None
    year = text = None
    child = el[0] if len(el) else None
    while child is not None:  # (getnext: no iterator object for two children)
        tag = child.tag
        if tag == "Year":
            year = child.text  # = _text(child)
            if year is not None:
                year = year.strip() or None
        elif tag == text_tag:
            text = child.text
            if text is not None:
                text = text.strip() or None
        child = child.getnext()
    return _new_line(year, text) if text is not None else None


def _title_text(el: Element | None) -> str | None:
    """TitleText of a Title/DisplayTitle/ReferenceTitle element."""
    return _child_text(el, "TitleText")


def _display_title_3x(titles: Sequence[Element] | None) -> str | None:
    """The ``TitleType="DisplayTitle"`` title among 3.x Title elements."""
    if titles:
        for title in titles:
            if title.get("TitleType") == "DisplayTitle":
                return _title_text(title)
    return None


def _any_title_3x(titles: Sequence[Element] | None) -> str | None:
    """The DisplayTitle among 3.x Titles, else the first title's text."""
    if not titles:
        return None
    return _display_title_3x(titles) or _title_text(titles[0])


def _full_name(party_name: Element | None) -> str | None:
    return _child_text(party_name, "FullName")


def _party_id_values(el: Element) -> list[str]:
    """Values of a PartyId: its own text (MessagingParty) or its children's (DetailedPartyId)."""
    values = [v for v in (_text(c) for c in el if isinstance(c.tag, str)) if v is not None] if len(el) else []
    if not values:
        own = _text(el)
        if own is not None:
            values.append(own)
    return values


def _identifiers(id_blocks: Sequence[Element] | None) -> Identifiers:
    """Merge ReleaseId / ResourceId / SoundRecordingId blocks into one Identifiers.

    (Hot: one per resource and release; ``_text`` is inlined.)"""
    if not id_blocks:
        return _NO_IDS
    icpn = grid = isrc = catalog = None
    proprietary: list[ProprietaryId] | None = None
    for block in id_blocks:
        child = block[0] if len(block) else None
        while child is not None:  # (getnext: no iterator object for the usual one or two ids)
            tag = child.tag
            if tag == "ISRC":
                if isrc is None and (text := child.text) is not None:
                    isrc = text.strip() or None
            elif tag == "ProprietaryId":
                value = child.text
                if value is not None:
                    value = value.strip()
                    if value:
                        pid = _new_proprietary_id(child.get("Namespace") or "", value)
                        proprietary = _listed(proprietary, pid)
            elif tag == "ICPN":
                if icpn is None and (text := child.text) is not None:
                    icpn = text.strip() or None
            elif tag == "GRid":
                if grid is None and (text := child.text) is not None:
                    grid = text.strip() or None
            elif tag == "CatalogNumber":
                if catalog is None and (text := child.text) is not None:
                    catalog = text.strip() or None
            child = child.getnext()
    if proprietary is None:
        if icpn is grid is isrc is catalog is None:
            return _NO_IDS
        return _new_identifiers(icpn, grid, isrc, catalog, ())
    return _new_identifiers(icpn, grid, isrc, catalog, tuple(proprietary))


def pick_worldwide(blocks: Sequence[Element] | None) -> Element | None:
    """The 3.x ``*DetailsByTerritory`` block for Worldwide, else the first."""
    if not blocks:
        return None
    if len(blocks) > 1:
        for block in blocks:
            for child in block:
                if child.tag == "TerritoryCode" and _text(child) == "Worldwide":
                    return block
    return blocks[0]


def _localized(elements: Sequence[Element], text_of: Callable[[Element], str | None] | None = None,
               territory: str | None = None) -> tuple[Localized, ...]:
    """Every DisplayTitle / DisplayArtistName … with its territory, language and IsDefault.

    ``text_of`` None: the element's own text; otherwise e.g. ``_title_text``.
    """
    return _localized_pick(elements, text_of, territory)[0]


def _localized_pick(elements: Sequence[Element], text_of: Callable[[Element], str | None] | None = None,
                    territory: str | None = None) -> tuple[tuple[Localized, ...], str | None]:
    """``_localized(elements, text_of, territory)`` and the text of ``pick_default(elements)``, in one
    pass (each element read once): what a 4.x list of DisplayTitles or DisplayArtistNames gives."""
    out: list[Localized] = []
    picked: str | None = None
    first = True
    many = len(elements) > 1  # pick_default looks at IsDefault only among several
    for el in elements:
        if text_of is None:
            value = el.text  # = _text(el)
            if value is not None:
                value = value.strip() or None
        else:
            value = text_of(el)
        get = el.get
        is_default = get("IsDefault") == "true"
        if first:
            picked, first = value, False
            if is_default:
                many = False  # the first is the default: settled
        elif many and is_default:
            picked, many = value, False
        if value is not None:
            out.append(_new_localized(value, get("ApplicableTerritoryCode") or territory,
                                      get("LanguageAndScriptCode"), is_default))
    return tuple(out), picked


def _localized_3x(blocks: Sequence[Element]) -> tuple[tuple[Localized, ...], tuple[Localized, ...]]:
    """(display titles, display artist names) of every 3.x ``*DetailsByTerritory`` block."""
    titles: list[Localized] = []
    artists: list[Localized] = []
    for block in blocks:
        territory = None
        wanted_titles: list[Element] = []
        wanted_artists: list[Element] = []
        for child in block:
            tag = child.tag
            if tag == "TerritoryCode" and territory is None:
                territory = _text(child)
            elif tag == "Title" and child.get("TitleType") == "DisplayTitle":
                wanted_titles.append(child)
            elif tag == "DisplayArtistName":
                wanted_artists.append(child)
        titles.extend(_localized(wanted_titles, _title_text, territory))
        artists.extend(_localized(wanted_artists, None, territory))
    return tuple(titles), tuple(artists)


# ---------------------------------------------------------------------------------------- header


def extract_header(el: Element) -> MessageHeader:
    """MessageHeader → MessageHeader (same element names in 3.x and 4.x)."""
    thread_id = message_id = created = control = None
    sender: Party | None = None
    recipients: list[Party] = []
    for child in el:
        tag = child.tag
        if tag == "MessageId":
            message_id = _text(child) or ""  # present but empty: "", not missing
        elif tag == "MessageThreadId":
            thread_id = _text(child)
        elif tag == "MessageSender":
            sender = _messaging_party(child)
        elif tag == "MessageRecipient":
            recipients.append(_messaging_party(child))
        elif tag == "MessageCreatedDateTime":
            created = _text(child)
        elif tag == "MessageControlType":
            control = _text(child)
    return _new_header(
        message_id=message_id,
        thread_id=thread_id,
        sender=sender,
        recipients=tuple(recipients),
        created=created,
        control_type=control,
    )


def _messaging_party(el: Element) -> Party:
    """MessageSender / MessageRecipient: PartyId(s) and PartyName/FullName."""
    ids: list[str] = []
    name = None
    for child in el:
        tag = child.tag
        if tag == "PartyId":
            ids.extend(_party_id_values(child))
        elif tag == "PartyName":
            name = _full_name(child)
    return _new_party(reference=None, party_ids=tuple(ids), name=name)


# --------------------------------------------------------------------------------------- parties


def extract_party(el: Element, into: Party | None = None) -> Party:
    """A 4.x PartyList/Party: reference, ids (ISNI, DPID, ProprietaryId … values), default name."""
    reference = None
    ids: list[str] = []
    names: list[Element] = []
    for child in el:
        tag = child.tag
        if tag == "PartyReference":
            reference = _text(child)
        elif tag == "PartyId":
            ids.extend(_party_id_values(child))
        elif tag == "PartyName":
            names.append(child)
    return _new_party(reference, tuple(ids), _full_name(pick_default(names)), _into=into)  # reference, party_ids, name


_NAMED_PARTY_TAGS = frozenset(
    {"DisplayArtist", "DisplayConductor", "ResourceContributor", "IndirectResourceContributor", "RightsController"}
)


def _collect_named_parties(details: Iterable[Element], ctx: Context) -> None:
    """3.x: note the named parties of ``*DetailsByTerritory`` blocks (artists, contributors, labels)."""
    for block in details:
        for child in block:
            tag = child.tag
            if tag == "LabelName":
                name = _text(child)
                if name is not None:
                    ctx.note_named_party(name)
            elif tag in _NAMED_PARTY_TAGS:
                name = None
                ids: list[str] = []
                for part in child:
                    if part.tag == "PartyName" and name is None:
                        name = _full_name(part)
                    elif part.tag == "PartyId":
                        ids.extend(_party_id_values(part))
                if name is not None:
                    ctx.note_named_party(name, tuple(ids))


# ------------------------------------------------------------------------------------- resources


def extract_resource(el: Element, ctx: Context) -> Resource:
    """One child of ResourceList (SoundRecording, Video, Image, Text, SheetMusic, Software, …)."""
    return _resource_3x(el, ctx) if ctx.legacy else extract_resource_4x(el, ctx)


def extract_resource_4x(el: Element, ctx: Context, into: Resource | None = None) -> Resource:
    """One resource of a 4.x message (into ``into`` when given, else a new one).

    Long on purpose: it is the hot path of a big message, and one function reading every child in
    one pass visits each child once, with no call per field.
    """
    # Hot path (most of a big message): one pass over the children, branches in 4.x document order.
    # The repeatable kinds hold their element alone and become a list only from a second one (one
    # each is the rule); the common single case is then read inline below.
    reference = resource_type = duration = edition = None
    title_text: Any = None
    title: Any = None
    artist: Any = None
    warning: Any = None
    id_blocks: list[Element] | None = None
    contributors: list[Element] | None = None
    technical: list[Element] | None = None
    p_lines: list[Element] | None = None
    c_lines: list[Element] | None = None
    for child in el:
        tag = child.tag
        if tag == "ResourceReference":
            reference = child.text
        elif tag == "Type":
            resource_type = child.text
        elif tag == "SoundRecordingEdition" or tag == "VideoEdition":
            if edition is None:
                edition = child
        elif tag == "DisplayTitleText":
            title_text = child if title_text is None else _more(title_text, child)
        elif tag == "DisplayTitle":
            title = child if title is None else _more(title, child)
        elif tag == "DisplayArtistName":
            artist = child if artist is None else _more(artist, child)
        elif tag == "DisplayArtist":
            continue  # the usual unmodelled child: end the chain early
        elif tag == "Duration":
            duration = child.text
        elif tag == "ParentalWarningType":
            warning = child if warning is None else _more(warning, child)
        elif tag == "ResourceId":
            id_blocks = _listed(id_blocks, child)
        elif tag == "Contributor":
            contributors = _listed(contributors, child)
        elif tag == "TechnicalDetails":
            technical = _listed(technical, child)
        elif tag == "PLine":
            p_lines = _listed(p_lines, child)
        elif tag == "CLine":
            c_lines = _listed(c_lines, child)
    if edition is not None:
        # 4.3: the ids are the edition's first run of ResourceIds; files and P/C lines live there too
        id_blocks = None
        ids_open = True
        part = edition[0] if len(edition) else None
        while part is not None:  # (getnext: no iterator object for the few children)
            ptag = part.tag
            if ptag == "ResourceId":
                if ids_open:
                    id_blocks = _listed(id_blocks, part)
            else:
                if id_blocks is not None:
                    ids_open = False
                if ptag == "TechnicalDetails":
                    technical = _listed(technical, part)
                elif ptag == "PLine":
                    p_lines = _listed(p_lines, part)
                elif ptag == "CLine":
                    c_lines = _listed(c_lines, part)
            part = part.getnext()
    # title: DisplayTitleText, else DisplayTitle/TitleText; display_titles: every DisplayTitle, else
    # every DisplayTitleText (the single-element cases inline what pick_default/_text/_localized do)
    if title is None:
        display_titles: tuple[Localized, ...] = ()
        title_value = None
    elif type(title) is list:
        display_titles, title_value = _localized_pick(title, _title_text)
    else:
        title_value = _title_text(title)
        display_titles = () if title_value is None else _localized_one(title, title_value)
    if title_text is None:
        text_value = None
    elif type(title_text) is list:
        text_value = _text(pick_default(title_text))
        if not display_titles:
            display_titles = _localized(title_text)
    else:
        text_value = title_text.text
        if text_value is not None:
            text_value = text_value.strip() or None
        if not display_titles and text_value is not None:
            display_titles = _localized_one(title_text, text_value)
    if artist is None:
        artist_value = None
        artist_names: tuple[Localized, ...] = ()
    elif type(artist) is list:
        artist_names, artist_value = _localized_pick(artist)
    else:
        artist_value = artist.text
        if artist_value is not None:
            artist_value = artist_value.strip() or None
        artist_names = () if artist_value is None else _localized_one(artist, artist_value)
    if reference is not None:
        reference = reference.strip()
    if resource_type is not None:
        resource_type = resource_type.strip() or None
    return _new_resource(  # positional, in field order (see fast_constructor)
        el.tag,  # kind
        reference or "",  # reference
        resource_type,
        _identifiers(id_blocks),  # ids
        text_value or title_value,  # title
        artist_value,  # display_artist
        _duration(duration),
        _picked_text(warning) if warning is not None else None,  # parental_warning
        _line(pick_default(p_lines), "PLineText") if p_lines is not None else None,  # p_line
        _line(pick_default(c_lines), "CLineText") if c_lines is not None else None,  # c_line
        tuple([_contributor(c, ctx) for c in contributors]) if contributors is not None else (),  # contributors
        tuple(map(_technical, technical)) if technical is not None else (),  # technical_details
        display_titles,
        artist_names,  # display_artist_names
        _into=into,
    )


def _more(first: Any, el: Element) -> list[Element]:
    """Add a repeated element to what a hot extractor holds: a lone element, or a list from the second."""
    if type(first) is list:
        first.append(el)
        return first
    return [first, el]


def _listed(held: list[Element] | None, el: Element) -> list[Element]:
    """Add an element to a hot extractor's list of such children, made on the first (most have none)."""
    if held is None:
        return [el]
    held.append(el)
    return held


def _picked_text(held: Any) -> str | None:
    """``_text(pick_default(...))`` of what ``_more`` built (None, a lone element or a list)."""
    if held is None:
        return None
    if type(held) is list:
        held = pick_default(held)
    value = held.text
    if value is None:
        return None
    return value.strip() or None


def _localized_one(el: Element, value: str) -> tuple[Localized, ...]:
    """``_localized([el])`` when ``el``'s text (``value``) is known not to be None."""
    if not el.keys():  # no attributes (one call instead of three lookups)
        return (_new_localized(value, None, None, False),)
    get = el.get
    return (_new_localized(value, get("ApplicableTerritoryCode") or None, get("LanguageAndScriptCode"),
                           get("IsDefault") == "true"),)


#: raw Duration text → seconds: durations repeat a lot in a big delivery; bounded, cleared when full
_DURATIONS: dict[str | None, float | None] = {}
_DURATIONS_MAX = 4096


def _duration(text: str | None) -> float | None:
    """``parse_duration(_strip(text))``, remembered (a pure function of ``text``)."""
    try:
        return _DURATIONS[text]
    except KeyError:
        pass
    value = parse_duration(_strip(text))
    if len(_DURATIONS) >= _DURATIONS_MAX:
        _DURATIONS.clear()
    _DURATIONS[text] = value
    return value


_CONTRIBUTOR_ROLES = frozenset({"Role", "ResourceContributorRole", "IndirectResourceContributorRole"})


def _contributor(el: Element, ctx: Context) -> Contributor:
    """4.x Contributor (ContributorPartyReference, Role) / 3.x ResourceContributor (PartyName, *Role)."""
    name = reference = None
    roles: list[str] = []
    for child in el:
        tag = child.tag
        if tag == "ContributorPartyReference":
            reference = child.text  # = _text(child)
            if reference is not None:
                reference = reference.strip() or None
        elif tag == "PartyName" and name is None:
            name = _full_name(child)
        elif tag in _CONTRIBUTOR_ROLES:
            role = _text(child)
            if role == "UserDefined":
                role = child.get("UserDefinedValue") or role
            if role is not None:
                roles.append(role)
    if name is None and reference is not None:
        name = ctx.party_names.get(reference)
    return _new_contributor(name, reference, tuple(roles), _sequence_attribute(el.get("SequenceNumber")))


def _sequence_attribute(text: str | None) -> int | None:
    """A SequenceNumber attribute as an int; None when absent or not a plain decimal number."""
    if text is None:
        return None
    text = text.strip()
    if not text.isdecimal() or len(text) > 4000:  # isdigit() accepts "²", which int() refuses
        return None
    return int(text)


_CODECS = frozenset({"AudioCodecType", "VideoCodecType", "ImageCodecType"})
_FILE_TAGS = frozenset({"URI", "FileName", "FilePath", "AudioCodecType", "VideoCodecType", "ImageCodecType", "BitRate",
                        "Duration", "HashSumValue", "HashSum", "HashSumAlgorithmType", "Algorithm"})
_NOT_THE_FILE = frozenset({"ClipDetails", "PreviewDetails", "Timing", "Fingerprint", "FingerprintAlgorithm"})


def _technical(el: Element) -> TechnicalDetails:
    """One TechnicalDetails / Technical*Details block: its file, codec, bit rate, duration, hash
    (a clip's or preview's timing is not the file's).

    One walk of the subtree (an unfiltered ``iter`` with a set test is cheaper than lxml building
    a tag matcher per call); the reference is the first TechnicalResourceDetailsReference child.
    """
    reference: str | None = None
    referenced = False
    found: dict[str, str] = {}
    for node in el.iter():
        tag = node.tag
        if tag in _FILE_TAGS:
            if len(node) and tag == "HashSum":
                continue  # 3.x HashSum/HashSum: the inner one holds the value
            parent = node.getparent()
            if parent is not None and parent.tag in _NOT_THE_FILE:
                continue
            key = "codec" if tag in _CODECS else tag
            if key not in found:
                value = _text(node)
                if value is not None:
                    found[key] = value
        elif tag == "TechnicalResourceDetailsReference" and not referenced and node.getparent() is el:
            referenced = True
            reference = _text(node)
    path, name = found.get("FilePath"), found.get("FileName")
    uri = found.get("URI") or ("/".join(p for p in (path and path.rstrip("/"), name) if p) if name else None)
    get = found.get
    duration = get("Duration")
    return _new_technical(  # positional, in field order: reference, file_uri, codec, bit_rate, duration, hash, hash_algorithm
        reference, uri, get("codec"), get("BitRate"), None if duration is None else parse_duration(duration),
        get("HashSumValue") or get("HashSum"), get("HashSumAlgorithmType") or get("Algorithm"),
    )


def _strip(value: str | None) -> str | None:
    """Stripped text; None for None or blank."""
    if value is None:
        return None
    value = value.strip()
    return value or None


_RESOURCE_3X_CACHE: dict[str, frozenset[str]] = {}


def _resource_3x_wanted(kind: str) -> frozenset[str]:
    wanted = _RESOURCE_3X_CACHE.get(kind)
    if wanted is None:
        wanted = frozenset(
            {"ResourceReference", "ReferenceTitle", "Title", "Duration", f"{kind}Type", f"{kind}Id", f"{kind}DetailsByTerritory"}
        )
        _RESOURCE_3X_CACHE[kind] = wanted
    return wanted


_TECHNICAL_3X = frozenset(
    {f"Technical{kind}Details" for kind in ("SoundRecording", "Video", "Image", "Text", "SheetMusic", "Software", "Midi")}
)
_DETAILS_3X = frozenset({"Title", "DisplayArtistName", "ResourceContributor", "ParentalWarningType", "PLine", "CLine"}
                        | _TECHNICAL_3X)


def _resource_3x(el: Element, ctx: Context) -> Resource:
    kind = el.tag
    got = _group(el, _resource_3x_wanted(kind))
    get = got.get
    all_details = get(f"{kind}DetailsByTerritory") or []
    _collect_named_parties(all_details, ctx)
    details = pick_worldwide(all_details)
    dget = (_group(details, _DETAILS_3X) if details is not None else _NO_GROUP).get
    display_titles, display_artists = _localized_3x(all_details)
    title = (
        _display_title_3x(dget("Title"))
        or _title_text(_first(get("ReferenceTitle")))
        or _any_title_3x(get("Title"))
        or _any_title_3x(dget("Title"))
    )
    return _new_resource(
        kind=kind,
        reference=_first_text(get("ResourceReference")) or "",
        resource_type=_first_text(get(f"{kind}Type")),
        ids=_identifiers(get(f"{kind}Id")),
        title=title,
        display_artist=_first_text(dget("DisplayArtistName")),
        duration=parse_duration(_first_text(get("Duration"))),
        parental_warning=_first_text(dget("ParentalWarningType")),
        p_line=_line(_first(dget("PLine")), "PLineText"),
        c_line=_line(_first(dget("CLine")), "CLineText"),
        contributors=tuple(_contributor(c, ctx) for c in dget("ResourceContributor") or ()),
        technical_details=tuple(_technical(t) for tag in _TECHNICAL_3X for t in dget(tag) or ()),
        display_titles=display_titles,
        display_artist_names=display_artists,
    )


def _first(elements: Sequence[Element] | None) -> Element | None:
    return elements[0] if elements else None


# -------------------------------------------------------------------------------------- releases


def extract_release(el: Element, ctx: Context, group_refs: list[str] | None = None) -> Release:
    """One child of ReleaseList: 4.x Release / TrackRelease / ClipRelease, 3.x Release.

    ``group_refs``: the ResourceGroup track list when ``stream`` already consumed it piecewise
    (with ``content_item_entry``, so the result is the same as reading it from the tree).
    """
    return _release_3x(el, ctx) if ctx.legacy else extract_release_4x(el, ctx, group_refs)


def extract_release_4x(
    el: Element, ctx: Context, group_refs: list[str] | None = None, into: Release | None = None
) -> Release:
    """One release of a 4.x message (into ``into`` when given, else a new one).

    Long on purpose, for the reason ``extract_resource_4x`` gives: one pass over the children.
    """
    # Hot path: one pass over the release's children, branches in 4.x document order (a TrackRelease's
    # first). As in extract_resource_4x, a repeatable kind is a lone element until a second one comes.
    reference = release_type = None
    id_blocks: list[Element] | None = None
    label: Any = None
    genre: Any = None
    title_text: Any = None
    title: Any = None
    artist: Any = None
    p_line: Any = None
    c_line: Any = None
    date: Any = None
    original_date: Any = None
    warning: Any = None
    keywords: list[Element] | None = None
    refs: list[str] = [] if group_refs is None else list(group_refs)
    for child in el:
        tag = child.tag
        if tag == "ReleaseReference":
            reference = child.text
        elif tag == "ReleaseId":
            id_blocks = _listed(id_blocks, child)
        elif tag == "ReleaseResourceReference":
            value = child.text
            if value is not None:
                value = value.strip()
                if value:
                    refs.append(value)
        elif tag == "ReleaseLabelReference":
            label = child if label is None else _more(label, child)
        elif tag == "Genre" or tag == "DisplayGenre":  # DisplayGenre: ERN 4.3.1's name for Genre
            genre = child if genre is None else _more(genre, child)
        elif tag == "ReleaseType":
            if release_type is None:
                release_type = child.text
        elif tag == "DisplayTitleText":
            title_text = child if title_text is None else _more(title_text, child)
        elif tag == "DisplayTitle":
            title = child if title is None else _more(title, child)
        elif tag == "DisplayArtistName":
            artist = child if artist is None else _more(artist, child)
        elif tag == "DisplayArtist":
            continue  # the usual unmodelled child: end the chain early
        elif tag == "ResourceGroup":
            if group_refs is None:
                _group_resource_refs(child, refs)
        elif tag == "PLine":
            p_line = child if p_line is None else _more(p_line, child)
        elif tag == "CLine":
            c_line = child if c_line is None else _more(c_line, child)
        elif tag == "ReleaseDate":
            date = child if date is None else _more(date, child)
        elif tag == "OriginalReleaseDate":
            original_date = child if original_date is None else _more(original_date, child)
        elif tag == "ParentalWarningType":
            warning = child if warning is None else _more(warning, child)
        elif tag == "Keywords":
            keywords = _listed(keywords, child)
    genre_text = subgenre = None
    if genre is not None:
        if type(genre) is list:
            genre = pick_default(genre)
        genre_el = sub_el = None
        part = genre[0] if len(genre) else None
        while part is not None:  # (getnext: no iterator object for one or two children)
            ptag = part.tag
            if ptag == "GenreText":
                if genre_el is None:
                    genre_el = part
            elif ptag == "SubGenre":
                if sub_el is None:
                    sub_el = part
            part = part.getnext()
        if genre_el is not None and (genre_text := genre_el.text) is not None:  # = _text(genre_el)
            genre_text = genre_text.strip() or None
        if sub_el is not None:
            subgenre = _text(sub_el)
    if label is None:
        label_ref = None
    elif type(label) is list:
        label_ref = _picked_text(label)
    elif (label_ref := label.text) is not None:  # = _text(label)
        label_ref = label_ref.strip() or None
    if title is None:
        display_titles: tuple[Localized, ...] = ()
        title_value = None
    else:
        display_titles, title_value = _localized_pick(title if type(title) is list else [title], _title_text)
    text_value = _picked_text(title_text) if title_text is not None else None
    if not display_titles and title_text is not None:
        display_titles = _localized(title_text if type(title_text) is list else [title_text])
    if artist is None:
        artist_names: tuple[Localized, ...] = ()
        artist_value = None
    else:
        artist_names, artist_value = _localized_pick(artist if type(artist) is list else [artist])
    if reference is not None:
        reference = reference.strip()
    if release_type is not None:
        release_type = release_type.strip() or None
    return _new_release(  # positional, in field order (see fast_constructor)
        el.tag,  # kind
        reference or "",  # reference
        release_type,
        _identifiers(id_blocks),  # ids
        text_value or title_value,  # title
        artist_value,  # display_artist
        ctx.party_names.get(label_ref) if label_ref is not None else None,  # label
        genre_text,  # genre
        subgenre,
        (_picked_text(date) if date is not None else None)  # release_date
        or (_picked_text(original_date) if original_date is not None else None),
        (_line(pick_default(p_line) if type(p_line) is list else p_line, "PLineText")  # p_line
         if p_line is not None else None),
        (_line(pick_default(c_line) if type(c_line) is list else c_line, "CLineText")  # c_line
         if c_line is not None else None),
        tuple(refs),  # resource_refs
        _picked_text(warning) if warning is not None else None,  # parental_warning
        _texts(keywords) if keywords is not None else (),  # keywords
        display_titles,
        artist_names,  # display_artist_names
        _into=into,
    )


def _group_resource_refs(group: Element, out: list[str]) -> None:
    """ReleaseResourceReferences of a 4.x ResourceGroup and its sub-groups, in SequenceNumber order."""
    keyed: list[tuple[tuple[float, ...], list[str]]] = []
    _keyed_group_refs(group, (), keyed)
    out.extend(ref for _, refs in sort_keyed_refs(keyed) for ref in refs)


def _keyed_group_refs(group: Element, prefix: tuple[float, ...], out: list[tuple[tuple[float, ...], list[str]]]) -> None:
    for child in group:
        tag = child.tag
        if tag == "ResourceGroupContentItem":
            refs: list[str] = []
            seq = content_item_entry(child, refs)  # as ``stream`` reads each entry
            out.append(((*prefix, seq), refs))
        elif tag == "ResourceGroup":
            _keyed_group_refs(child, (*prefix, sequence_number(child)), out)


def _as_number(text: str | None) -> float:
    try:
        return int(text)  # type: ignore[arg-type]  # int() strips whitespace itself
    except (TypeError, ValueError):
        return _UNNUMBERED


_UNNUMBERED = float("inf")


def sequence_number(el: Element) -> float:
    """The SequenceNumber child of a ResourceGroup / ResourceGroupContentItem (inf when absent or not a number).

    (``stream`` asks for groups whose children may still be namespace-qualified: local names compare.)
    """
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == "SequenceNumber" or tag.endswith("}SequenceNumber"):
            return _as_number(child.text)
        if tag.endswith("ResourceGroupContentItem") or tag.endswith("ResourceGroup"):
            break
    return _UNNUMBERED


def sort_keyed_refs(keyed: list[tuple[tuple[float, ...], list[str]]]) -> list[tuple[tuple[float, ...], list[str]]]:
    """Track-list entries by their SequenceNumber path (stable: document order breaks ties)."""
    keys = [key for key, _ in keyed]
    if all(a <= b for a, b in itertools.pairwise(keys)):
        return keyed
    return sorted(keyed, key=lambda entry: entry[0])


def content_item_entry(item: Element, refs: list[str]) -> float:
    """``sequence_number(item)``, appending the item's ReleaseResourceReferences (linked ones
    excluded) to ``refs``, in one pass over its children (``stream`` reads each track-list entry
    as it ends)."""
    seq: float = _UNNUMBERED
    numbered = False  # sequence_number's answer is settled
    for part in item.getchildren():  # (one C call for the list: cheaper than iterating the element)
        tag = part.tag
        if tag == "ReleaseResourceReference":
            value = part.text
            if value is not None and (value := value.strip()):
                refs.append(value)
        elif not numbered and isinstance(tag, str):
            if tag == "SequenceNumber" or tag.endswith("}SequenceNumber"):
                seq = _as_number(part.text)
                numbered = True
            elif tag.endswith("ResourceGroupContentItem") or tag.endswith("ResourceGroup"):
                numbered = True
    return seq


_RELEASE_3X = frozenset(
    {
        "ReleaseId",
        "ReleaseReference",
        "ReferenceTitle",
        "ReleaseResourceReferenceList",
        "ReleaseType",
        "ReleaseDetailsByTerritory",
        "PLine",
        "CLine",
        "GlobalReleaseDate",
        "GlobalOriginalReleaseDate",
    }
)
_RELEASE_DETAILS_3X = frozenset(
    {"DisplayArtistName", "LabelName", "Title", "Genre", "ReleaseDate", "OriginalReleaseDate", "PLine", "CLine", "ReleaseType",
     "ParentalWarningType", "Keywords"}
)


def _release_3x(el: Element, ctx: Context) -> Release:
    got = _group(el, _RELEASE_3X)
    get = got.get
    all_details = get("ReleaseDetailsByTerritory") or []
    _collect_named_parties(all_details, ctx)
    details = pick_worldwide(all_details)
    dget = (_group(details, _RELEASE_DETAILS_3X) if details is not None else _NO_GROUP).get
    display_titles, display_artists = _localized_3x(all_details)
    genre = _first(dget("Genre"))
    refs: list[str] = []
    for ref_list in get("ReleaseResourceReferenceList") or ():
        refs.extend(_texts(c for c in ref_list if c.tag == "ReleaseResourceReference"))
    release_date = (
        _first_text(dget("ReleaseDate"))
        or _first_text(dget("OriginalReleaseDate"))
        or _first_text(get("GlobalReleaseDate"))
        or _first_text(get("GlobalOriginalReleaseDate"))
    )
    return _new_release(
        kind=el.tag,
        reference=_first_text(get("ReleaseReference")) or "",
        release_type=_first_text(get("ReleaseType")) or _first_text(dget("ReleaseType")),
        ids=_identifiers(get("ReleaseId")),
        title=_display_title_3x(dget("Title")) or _title_text(_first(get("ReferenceTitle"))),
        display_artist=_first_text(dget("DisplayArtistName")),
        label=_first_text(dget("LabelName")),
        genre=_child_text(genre, "GenreText"),
        subgenre=_child_text(genre, "SubGenre"),
        release_date=release_date,
        p_line=_line(_first(get("PLine") or dget("PLine")), "PLineText"),
        c_line=_line(_first(get("CLine") or dget("CLine")), "CLineText"),
        resource_refs=tuple(refs),
        parental_warning=_first_text(dget("ParentalWarningType")),
        keywords=_texts(dget("Keywords")),
        display_titles=display_titles,
        display_artist_names=display_artists,
    )


_PURGED = frozenset({"ReleaseId", "Title"})


def extract_purged_release(el: Element) -> Release:
    """A PurgeReleaseMessage's PurgedRelease, as a Release of kind ``PurgedRelease``."""
    got = _group(el, _PURGED)
    return Release(
        kind=el.tag,
        reference="",
        ids=_identifiers(got.get("ReleaseId")),
        title=_any_title_3x(got.get("Title")),
    )


# ----------------------------------------------------------------------------------------- deals


def extract_release_deal(el: Element, release_refs: list[str] | None = None) -> list[Deal]:
    """Every Deal of one DealList/ReleaseDeal, each carrying the ReleaseDeal's release references.

    ``release_refs``: the references when ``stream`` already consumed them piecewise.
    """
    refs, deal_elements = release_deal_parts(el)
    if release_refs is not None:
        refs = tuple(release_refs)
    return [extract_deal(d, refs) for d in deal_elements]


def release_deal_parts(el: Element) -> tuple[tuple[str, ...], list[Element]]:
    """A ReleaseDeal's release references and its Deal elements, in one pass."""
    refs: list[str] = []
    deal_elements: list[Element] = []
    for child in el:
        tag = child.tag
        if tag == "DealReleaseReference":
            value = _text(child)
            if value is not None:
                refs.append(value)
        elif tag == "Deal":
            deal_elements.append(child)
    return tuple(refs), deal_elements


def extract_deal(el: Element, release_refs: tuple[str, ...], into: Deal | None = None) -> Deal:
    terms = first_child(el, "DealTerms")
    if terms is None:
        return _new_deal(release_refs=release_refs, _into=into)
    territories: list[Element] = []
    excluded: list[Element] = []
    models: list[Element] = []
    uses: list[Element] = []
    prices: list[Element] = []
    period: Element | None = None
    for child in terms:
        tag = child.tag
        if tag == "TerritoryCode":
            territories.append(child)
        elif tag == "ExcludedTerritoryCode":
            excluded.append(child)
        elif tag == "CommercialModelType":
            models.append(child)
        elif tag == "UseType":
            uses.append(child)
        elif tag == "Usage":
            uses.extend(c for c in child if c.tag == "UseType")
        elif tag == "ValidityPeriod" and period is None:
            period = child
        elif tag == "PriceInformation":
            prices.append(child)
    start, end = _period(period)
    return _new_deal(  # positional, in field order (see fast_constructor)
        release_refs,
        _texts(territories),  # territories
        _texts(excluded),  # excluded_territories
        _texts(models),  # commercial_model_types
        _texts(uses),  # use_types
        start,  # start_date
        end,  # end_date
        tuple(map(_price, prices)) if prices else (),  # prices
        _into=into,
    )


_PRICE_AMOUNTS = ("WholesalePricePerUnit", "BulkOrderWholesalePricePerUnit", "SuggestedRetailPrice")


def _price(el: Element) -> Price:
    """One PriceInformation: PriceCode (4.x) / PriceType (3.x) and the first amount it gives."""
    code = namespace = kind = amount = currency = None
    for child in el:
        tag = child.tag
        if (tag == "PriceCode" or tag == "PriceType") and code is None:
            code, namespace = _text(child), child.get("Namespace")
        elif tag in _PRICE_AMOUNTS and kind is None:
            kind, amount, currency = tag, _text(child), child.get("CurrencyCode")
    return _new_price(code, namespace, kind, amount, currency)  # in field order: code, code_namespace, kind, amount, currency


_PERIOD = frozenset({"StartDate", "StartDateTime", "EndDate", "EndDateTime"})


def _period(el: Element | None) -> tuple[str | None, str | None]:
    """(start, end) of a ValidityPeriod: the date, else the datetime."""
    if el is None:
        return None, None
    got = _group(el, _PERIOD)
    get = got.get
    start = _first_text(get("StartDate")) or _first_text(get("StartDateTime"))
    end = _first_text(get("EndDate")) or _first_text(get("EndDateTime"))
    return start, end


# ---------------------------------------------------------------------------------- namespaces


def strip_ern_namespace(el: Element, namespace: str) -> None:
    """Make ``el``'s subtree unqualified when a producer namespaced the children (schema-invalid but
    seen in the wild: ``xmlns="…/ern/382"``), so the plain-tag lookups above still apply."""
    prefix = "{" + namespace + "}"
    cut = len(prefix)
    for node in el.iter():
        tag = node.tag
        if isinstance(tag, str) and tag.startswith(prefix):
            node.tag = tag[cut:]


def unqualify_children(root: Element) -> bool:
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


# ---------------------------------------------------------------------------------- the whole message


def extract_all(root: Element, ern_version: str, message_type: str) -> Message:
    """The Message of a parsed root with every object read now (3.x; ``lazy.extract_message(lazy=False)``).

    Every object keeps the element it was read from (``_source``, see ``model``), so ``build`` at
    this version can re-emit what the model does not hold.
    """
    legacy = is_legacy(ern_version)
    ctx = Context(legacy=legacy)
    keep = not unqualify_children(root)  # a namespaced-children document is rebuilt from the model
    header: MessageHeader | None = None
    party_objs: list[Party] = []
    resource_objs: list[Resource] = []
    release_objs: list[Release] = []
    deal_objs: list[Deal] = []
    purged: list[Release] = []

    def kept(obj: Any, el: Element) -> Any:
        """``obj`` with its source element attached (when this document can be re-emitted)."""
        if keep:
            set_source(obj, el)
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
                    party_objs.append(party)
        elif tag == "ResourceList":
            resource_objs.extend(kept(extract_resource(el, ctx), el) for el in section if isinstance(el.tag, str))
        elif tag == "ReleaseList":
            release_objs.extend(kept(extract_release(el, ctx), el) for el in section if isinstance(el.tag, str))
        elif tag == "DealList":
            for el in section:
                if el.tag == "ReleaseDeal":
                    found = extract_release_deal(el)
                    for deal, deal_el in zip(found, (d for d in el if d.tag == "Deal"), strict=True):
                        kept(deal, deal_el)
                    deal_objs.extend(found)
        elif tag == "PurgedRelease":
            purged.append(kept(extract_purged_release(section), section))
    if legacy:
        party_objs = list(ctx.named_parties)
    return new_message(ern_version, message_type, header, party_objs, release_objs, resource_objs, deal_objs, purged,
                       root, keep)


def new_message(ern_version: str, message_type: str, header: MessageHeader | None, parties: list[Party],
                releases: list[Release], resources: list[Resource], deals: list[Deal], purged: list[Release],
                root: Element, keep: bool) -> Message:
    """The Message of what was read (its root kept as ``_source`` when the document can be re-emitted)."""
    return _new_message(
        ern_version=ern_version,
        message_type=message_type,
        header=_NO_HEADER if header is None else header,
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

#: Each model class's ``_source`` and ``_parsed`` slot setters (set once, right after extraction:
#: past the frozen dataclass's ``__setattr__``).
SOURCE_SLOTS: dict[type, tuple[Callable[[object, Any], None], Callable[[object, Any], None]]] = {
    cls: (cls.__dict__["_source"].__set__, cls.__dict__["_parsed"].__set__)
    for cls in (Message, MessageHeader, Party, Release, Resource, Deal)
}


def set_source(obj: object, element: Element) -> None:
    """Set a model object's ``_source`` (the element it was read from) and ``_parsed``, once, right after extraction."""
    store_source, store_parsed = SOURCE_SLOTS[type(obj)]
    store_source(obj, element)
    store_parsed(obj, True)
