"""The ERN 3.x ↔ 4.x family mapping: reshaping a working tree before it is fitted (``convert``).

ERN 3.x and 4.x name most leaf elements alike but shape their containers differently. This module
moves and renames elements of the working copy of a source document (each still marked with its
source index, ``MARK``) so that the fitting that follows finds them where the target family
holds them; what has no place in the target is left for the fitting to remove with its reason.

3.x → 4.x:
  * each ``*DetailsByTerritory`` block is dissolved into its resource or release; its elements take
    the block's territory as ``ApplicableTerritoryCode`` (its ``TerritoryCode`` text is not kept as a
    value: 4.x writes the territory as that attribute);
  * parties named inline (``DisplayArtist``, ``ResourceContributor``, ``IndirectResourceContributor``)
    and a release's ``LabelName`` become a ``PartyList`` (one ``Party`` per distinct name and ids,
    in the order the 3.x reader lists them, references ``P1``, ``P2``… not used by the source) and
    are referenced (``ArtistPartyReference``, ``ContributorPartyReference``, ``ReleaseLabelReference``);
    after fitting, a party only a removed element referenced is removed too;
  * ``Title`` typed ``DisplayTitle`` → ``DisplayTitle`` (and ``DisplayTitleText``), ``ReferenceTitle``
    and other titles → ``AdditionalTitle`` (the first of them the ``DisplayTitleText`` when no
    display title exists); ``{Kind}Type`` → ``Type``; ``{Kind}Id`` → ``ResourceId``;
    ``Technical{Kind}Details`` → ``TechnicalDetails`` (``File`` → ``DeliveryFile``/``File`` with
    ``URI``); ``ResourceContributorRole`` → ``Role``; ``ArtistRole`` → ``DisplayArtistRole``;
  * the main release (``IsMainRelease``, else the first not typed ``TrackRelease``) stays a
    ``Release`` whose ``ResourceGroup`` is the details' group (else one made from
    ``ReleaseResourceReferenceList``); releases typed ``TrackRelease`` become ``TrackRelease``;
  * ``GlobalReleaseDate``/``GlobalOriginalReleaseDate`` → ``ReleaseDate``/``OriginalReleaseDate``;
    ``DealTerms/Usage`` gives its children (``UseType`` …) to ``DealTerms``.

4.x → 3.x: the reverse — territory-scoped elements go into a ``*DetailsByTerritory`` block per
``ApplicableTerritoryCode`` (``Worldwide`` when none), party references are replaced by the
party's names (``PartyName``) and the label reference by ``LabelName``, ``PartyList`` is removed
(its values reappear where the parties are referenced), ``DisplayTitleText`` → ``ReferenceTitle``,
the track list is written both as ``ReleaseResourceReferenceList`` and as the details'
``ResourceGroup``, ``TrackRelease``/``ClipRelease`` become ``Release`` elements (a track release
typed ``TrackRelease``), ``DealTerms/UseType`` go into one ``Usage``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeAlias

from lxml import etree

from ddex_otel.ern import identifiers, versions
from ddex_otel.ern.extract import element_text, first_child
from ddex_otel.ern.validation import RELEASE_KINDS

if TYPE_CHECKING:  # pragma: no cover
    from ddex_otel.ern.convert import ContentModel, Conversion

Element: TypeAlias = etree._Element

#: Marks each working element with the index of its source element (removed from the output).
MARK = "{urn:ddex-otel:convert}i"
TERRITORY = "ApplicableTerritoryCode"
WORLDWIDE = "Worldwide"
#: ERN 4.3's editions (a resource's details per edition; 3.x, 4.1.1 and 4.2 have none).
EDITIONS = ("SoundRecordingEdition", "VideoEdition", "ImageEdition", "TextEdition", "SheetMusicEdition",
            "SoftwareEdition")

#: Inline party holders of ERN 3.x → (4.x element, 4.x reference child, 3.x role → 4.x role).
_PARTY_HOLDERS = {
    "DisplayArtist": ("DisplayArtist", "ArtistPartyReference", ("ArtistRole", "DisplayArtistRole")),
    "ResourceContributor": ("Contributor", "ContributorPartyReference", ("ResourceContributorRole", "Role")),
    # 4.x lists a work's contributors (composer, lyricist) among the resource's Contributors
    "IndirectResourceContributor": ("Contributor", "ContributorPartyReference", ("IndirectResourceContributorRole", "Role")),
}
#: 4.x party references → the 3.x element they sit in and its role child (4.x role → 3.x role).
_PARTY_REFS = {
    "ArtistPartyReference": ("DisplayArtist", ("DisplayArtistRole", "ArtistRole")),
    "ContributorPartyReference": ("ResourceContributor", ("Role", "ResourceContributorRole")),
}


def _new(tag: str, text: str | None = None, **attrib: str) -> Element:
    el = etree.Element(tag, attrib)
    if text is not None:
        el.text = text
    return el


def _text(el: Element | None) -> str:
    return element_text(el) or ""


def _children(el: Element, tag: str) -> list[Element]:
    return [c for c in el if c.tag == tag]


def hoist(container: Element, children: Iterable[Element]) -> None:
    """Move ``children``, in order, to just after ``container`` (they become its siblings)."""
    anchor = container
    for child in children:
        anchor.addnext(child)
        anchor = child


def _unmarked(el: Element) -> Element:
    """A copy of ``el`` (values duplicated into a second place) without the conversion's marks."""
    out = copy.deepcopy(el)
    for node in out.iter():
        if isinstance(node.tag, str) and MARK in node.attrib:
            del node.attrib[MARK]
    return out


class _Mapper:
    def __init__(self, root: Element, model: ContentModel, conversion: Conversion) -> None:
        self.root = root
        self.model = model
        self.c = conversion
        self.v = model.version

    def remove(self, el: Element, reason: str) -> None:
        self.c.note_removed(el, reason)
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)

    def consumed(self, el: Element, attribute: str) -> None:
        """``el``'s ``attribute`` is carried in another form (a territory block, an element name)."""
        mark = el.get(MARK)
        if mark is not None:
            self.c.consumed.add((int(mark), attribute))

    def referenced(self, el: Element, holder: Element) -> None:
        """``el``'s values are carried as a reference to a PartyList party from ``holder``."""
        mark, held = el.get(MARK), holder.get(MARK)
        if mark is not None and held is not None:
            self.c.references[int(mark)] = int(held)

    def type_children(self, parent_type: str) -> dict[str, tuple[int, str, int, int]]:
        return self.model.children(parent_type)

    def type_of(self, parent_type: str | None, tag: str) -> str | None:
        entry = self.type_children(parent_type).get(tag) if parent_type else None
        return entry[1] if entry else None

    def list_type(self, name: str) -> str | None:
        """The target's type of the message's ``name`` section (ResourceList, ReleaseList)."""
        return self.type_of(self.model.roots.get(etree.QName(self.root).localname), name)


# --------------------------------------------------------------------------------- 4.x → 3.x


class _To3x(_Mapper):
    def run(self) -> None:
        party_list = first_child(self.root, "PartyList")
        self.parties: dict[str, Element] = {}
        if party_list is not None:
            for party in _children(party_list, "Party"):
                self.parties[_text(first_child(party, "PartyReference"))] = party
        resource_list = first_child(self.root, "ResourceList")
        titles: dict[str, str] = {}
        kinds: dict[str, str] = {}
        if resource_list is not None:
            for res in list(resource_list):
                if isinstance(res.tag, str):
                    ref = _text(first_child(res, "ResourceReference"))
                    kinds[ref] = res.tag
                    title = first_child(res, "DisplayTitleText")
                    display = first_child(res, "DisplayTitle")
                    if title is None and display is not None:
                        title = first_child(display, "TitleText")
                    titles[ref] = _text(title)
                    self.resource(res)
        release_list = first_child(self.root, "ReleaseList")
        if release_list is not None:
            for rel in list(release_list):
                if isinstance(rel.tag, str) and rel.tag in RELEASE_KINDS:
                    self.release(rel, titles, kinds)
        deal_list = first_child(self.root, "DealList")
        if deal_list is not None:
            for terms in deal_list.iter("DealTerms"):
                self.deal_terms(terms)
            self.party_names(deal_list)
        header = first_child(self.root, "MessageHeader")
        if header is not None:
            self.party_names(header)
        for pid in [p for p in self.root.iter("PartyId") if len(p)]:
            self.party_id(pid)
        if party_list is not None:
            self.remove(party_list, f"ERN {self.v} has no PartyList: parties are named where they are referenced")

    # ---- parties

    def party_names(self, holder: Element) -> None:
        """Replace each party reference under ``holder`` with the party's names (3.x names parties inline)."""
        refs = [el for el in holder.iter() if isinstance(el.tag, str) and el.tag.endswith("PartyReference")
                and el.tag != "PartyReference" and _text(el) in self.parties]
        for ref in refs:
            parent = ref.getparent()
            party = self.parties.get(_text(ref))
            if ref.tag in _PARTY_REFS:
                tag, (old_role, new_role) = _PARTY_REFS[ref.tag]
                if parent.tag != tag and parent.tag in ("DisplayArtist", "Contributor"):
                    parent.tag = tag
                for role in _children(parent, old_role):
                    role.tag = new_role
            if party is None:
                continue
            hoist(ref, [_unmarked(name) for name in [*_children(party, "PartyName"), *_children(party, "PartyId")]])
            self.remove(ref, f"ERN {self.v} names parties inline: the reference is replaced by the party's name")

    def party_id(self, pid: Element) -> None:
        """A 4.x PartyId (ISNI, DPID, ProprietaryId… children) → one 3.x PartyId per identifier."""
        if pid.getparent() is None or (pid.getparent().tag == "Party" and pid.getparent().getparent() is not None
                                       and pid.getparent().getparent().tag == "PartyList"):
            return  # the PartyList is removed as a whole
        ids = [child for child in pid if isinstance(child.tag, str)]
        for child in ids:
            scheme = child.tag
            child.tag = "PartyId"
            if scheme == "DPID":
                child.set("IsDPID", "true")
            elif scheme == "ISNI":
                child.set("IsISNI", "true")
            elif scheme != "ProprietaryId":
                child.set("Namespace", scheme)
        hoist(pid, ids)
        pid.getparent().remove(pid)  # an emptied container: nothing of its own is lost

    def label_name(self, label_ref: Element) -> Element | None:
        name = first_child(first_child(self.parties.get(_text(label_ref)), "PartyName"), "FullName")
        if name is None:
            return None
        self.consumed(label_ref, TERRITORY)
        out = _new("LabelName", _text(name))
        self.remove(label_ref, f"ERN {self.v} names the label (LabelName) instead of referencing a party")
        return out

    # ---- territory blocks

    def spread(self, el: Element, own_type: str, details_tag: str, moved: list[Element]) -> None:
        """Move ``moved`` into ``details_tag`` blocks of ``el``, one per ApplicableTerritoryCode."""
        details_type = self.type_of(own_type, details_tag)
        wanted = self.type_children(details_type) if details_type else {}
        blocks: dict[str, Element] = {}
        for child in moved:
            territory = child.get(TERRITORY) or WORLDWIDE
            if child.get(TERRITORY) is not None:
                self.consumed(child, TERRITORY)
                del child.attrib[TERRITORY]
            block = blocks.get(territory)
            if block is None:
                block = blocks[territory] = _new(details_tag)
                block.append(_new("TerritoryCode", territory))
            if child.tag in wanted:
                block.append(child)
        if not blocks:
            block = blocks[WORLDWIDE] = _new(details_tag)
            block.append(_new("TerritoryCode", WORLDWIDE))
        for block in blocks.values():
            el.append(block)

    def place(self, el: Element, own_type: str, details_tag: str) -> None:
        """What ``el``'s 3.x type lacks and its details block holds moves into the details block, and
        so does what both hold when it is scoped to a territory (only the block keeps the territory)."""
        own = self.type_children(own_type)
        details_type = self.type_of(own_type, details_tag)
        wanted = self.type_children(details_type) if details_type else {}
        moved = [c for c in el if isinstance(c.tag, str) and c.tag in wanted
                 and (c.tag not in own or c.get(TERRITORY) is not None)]
        for child in moved:
            el.remove(child)
        self.spread(el, own_type, details_tag, moved)

    def titles(self, el: Element, own_type: str) -> None:
        """DisplayTitleText → ReferenceTitle; DisplayTitle/AdditionalTitle → Title."""
        texts = _children(el, "DisplayTitleText")
        display = _children(el, "DisplayTitle")
        for i, t in enumerate(texts):
            if i == 0:
                reference = _new("ReferenceTitle")
                t.tag = "TitleText"
                t.addprevious(reference)
                reference.append(t)
            else:
                self.remove(t, f"ERN {self.v} has one ReferenceTitle")
        if not texts and display and self.type_of(own_type, "ReferenceTitle"):
            el.append(_new("ReferenceTitle"))
            shown_text = first_child(display[0], "TitleText")
            el[-1].append(_unmarked(shown_text) if shown_text is not None else _new("TitleText", ""))
        for t in display:
            t.tag = "Title"
            t.set("TitleType", "DisplayTitle")
        for t in _children(el, "AdditionalTitle"):
            t.tag = "Title"

    # ---- resources

    def resource(self, res: Element) -> None:
        kind = res.tag
        own_type = self.type_of(self.list_type("ResourceList"), kind)
        if own_type is None:
            return
        for edition in [c for c in res if c.tag in EDITIONS]:  # 4.3 editions give back their children
            hoist(edition, list(edition))
            self.remove(edition, f"ERN {self.v} has no {edition.tag}")
        self.party_names(res)
        for child in list(res):
            tag = child.tag
            if tag == "Type":
                child.tag = f"{kind}Type"
            elif tag == "ResourceId":
                child.tag = f"{kind}Id"
            elif tag == "TechnicalDetails":
                child.tag = f"Technical{kind}Details"
                self.technical_to_3x(child)
        self.titles(res, own_type)
        self.place(res, own_type, f"{kind}DetailsByTerritory")

    def technical_to_3x(self, tech: Element) -> None:
        for delivery in _children(tech, "DeliveryFile"):  # 4.3: the file's details sit in DeliveryFile
            hoist(delivery, [child for child in delivery if child.tag != "Type"])
            self.remove(delivery, f"ERN {self.v} has no DeliveryFile: its file and codec details go into "
                                  "the technical details")
        for file_ in _children(tech, "File"):
            for uri in _children(file_, "URI"):
                uri.tag = "URL"

    # ---- releases

    def release(self, rel: Element, titles: dict[str, str], kinds: dict[str, str]) -> None:
        kind = rel.tag
        rel.tag = "Release"
        own_type = self.type_of(self.list_type("ReleaseList"), "Release") or "Release"
        if kind == "TrackRelease" and first_child(rel, "ReleaseType") is None:
            rel.insert(0, _new("ReleaseType", "TrackRelease"))
        self.party_names(rel)
        for label in _children(rel, "ReleaseLabelReference"):
            name = self.label_name(label)
            if name is not None:
                territory = label.get(TERRITORY)
                if territory:
                    name.set(TERRITORY, territory)
                rel.append(name)
        refs = [_text(r) for r in _children(rel, "ReleaseResourceReference")]
        group = first_child(rel, "ResourceGroup")
        if group is not None:
            refs += [_text(r) for r in group.iter("ReleaseResourceReference")]
            for item in group.iter("ResourceGroupContentItem"):
                ref = _text(first_child(item, "ReleaseResourceReference"))
                if ref in kinds and first_child(item, "ResourceType") is None:
                    item.insert(0, _new("ResourceType", kinds[ref]))
            for sub in group.iter("AdditionalTitle"):
                sub.tag = "Title"
        direct = _children(rel, "ReleaseResourceReference")
        if refs:
            listed = _new("ReleaseResourceReferenceList")
            for r in direct:
                listed.append(r)
            for ref in refs[len(direct):]:
                listed.append(_new("ReleaseResourceReference", ref))
            rel.append(listed)
        if not _children(rel, "DisplayTitleText") and not _children(rel, "DisplayTitle") and refs:
            rel.append(_new("ReferenceTitle"))
            rel[-1].append(_new("TitleText", titles.get(refs[0], "")))
        self.titles(rel, own_type)
        if group is not None:
            group.set(TERRITORY, group.get(TERRITORY) or WORLDWIDE)
        self.place(rel, own_type, "ReleaseDetailsByTerritory")

    # ---- deals

    def deal_terms(self, terms: Element) -> None:
        uses = [c for c in terms if c.tag in ("UseType", "UserInterfaceType", "CarrierType", "TechnicalInstantiation",
                                             "NumberOfUsages")]
        if not uses:
            return
        usage = _new("Usage")
        uses[0].addprevious(usage)
        for use in uses:
            usage.append(use)


# --------------------------------------------------------------------------------- 3.x → 4.x


class _To4x(_Mapper):
    def run(self) -> None:
        self.party_list = _new("PartyList")
        self.by_key: dict[tuple[str, tuple[str, ...]], str] = {}
        self.refs = identifiers.free_references({_text(r) for r in self.root.iter("ResourceReference", "ReleaseReference")})
        self.named_parties()
        resource_list = first_child(self.root, "ResourceList")
        release_artist = ""  # the main release's artist: the 3.x convention for a recording without one
        if resource_list is not None:
            for res in list(resource_list):
                if isinstance(res.tag, str):
                    self.resource(res)
        release_list = first_child(self.root, "ReleaseList")
        if release_list is not None:
            releases = [r for r in release_list if r.tag == "Release"]
            main = next((r for r in releases if r.get("IsMainRelease") == "true"), None)
            if main is None:
                main = next((r for r in releases if _text(first_child(r, "ReleaseType")) != "TrackRelease"), None)
            for rel in releases:
                self.release(rel, main=rel is main or main is None and rel is releases[0])
            if main is not None:
                release_artist = _text(first_child(main, "DisplayArtistName"))
        if resource_list is not None:
            for res in resource_list:
                self.required_artists(res, release_artist)
        deal_list = first_child(self.root, "DealList")
        if deal_list is not None:
            for usage in list(deal_list.iter("Usage")):
                hoist(usage, list(usage))
                usage.getparent().remove(usage)
        if len(self.party_list):
            header = first_child(self.root, "MessageHeader")
            if header is not None:
                header.addnext(self.party_list)
            else:
                self.root.insert(0, self.party_list)

    # ---- parties

    def named_parties(self) -> None:
        """One party per name the 4.x output references, in the order the 3.x reader lists the named
        parties (``Message.parties``: document order of the details blocks), so a 3.x message's
        parties come out in the order it parses to. A resource's LabelName has no 4.x place."""
        for el in self.root.iter(*_PARTY_HOLDERS, "LabelName"):
            block = el.getparent()
            if not block.tag.endswith("DetailsByTerritory"):
                continue
            if el.tag != "LabelName":
                self.party_ref(_children(el, "PartyName"), _children(el, "PartyId"))
            elif block.tag == "ReleaseDetailsByTerritory":
                self.party_ref([], [], _text(el))

    def party_ref(self, names: list[Element], ids: list[Element], text: str | None = None) -> str:
        full = text if text is not None else next((_text(first_child(n, "FullName")) for n in names), "")
        key = (full, tuple(_text(i) for i in ids))
        ref = self.by_key.get(key)
        if ref is None and not ids:
            ref = next((r for (name, _), r in self.by_key.items() if name == full), None)
        if ref is not None:
            return ref
        ref = self.by_key[key] = next(self.refs)
        party = etree.SubElement(self.party_list, "Party")
        etree.SubElement(party, "PartyReference").text = ref
        if names:
            for name in names:
                party.append(_unmarked(name))
        elif full:
            etree.SubElement(etree.SubElement(party, "PartyName"), "FullName").text = full
        for pid in ids:
            party.append(self.detailed_party_id(pid))
        return ref

    @staticmethod
    def detailed_party_id(pid: Element) -> Element:
        value = _text(pid)
        out = _new("PartyId")
        scheme = identifiers.party_id_scheme(value)
        out.append(_new(scheme, value) if scheme else _new("ProprietaryId", value, Namespace=pid.get("Namespace") or "Unknown"))
        return out

    def party_holder(self, el: Element) -> None:
        """An inline-named 3.x party (DisplayArtist, ResourceContributor) → a 4.x party reference."""
        tag, ref_tag, (old_role, new_role) = _PARTY_HOLDERS[el.tag]
        names = _children(el, "PartyName")
        ids = _children(el, "PartyId")
        ref = self.party_ref(names, ids)
        for n in [*names, *ids]:
            self.referenced(n, el)
            self.remove(n, f"ERN {self.v} names parties in the PartyList: written as a party reference")
        el.tag = tag
        el.insert(0, _new(ref_tag, ref))
        for role in _children(el, old_role):
            role.tag = new_role

    # ---- territory blocks

    def dissolve(self, el: Element, details_tag: str) -> None:
        """Move the children of ``el``'s details blocks up, each scoped by the block's territory."""
        for block in _children(el, details_tag):
            codes = _children(block, "TerritoryCode")
            territory = _text(codes[0]) if codes else WORLDWIDE
            scoped = [c for c in block
                      if isinstance(c.tag, str) and c.tag not in ("TerritoryCode", "ExcludedTerritoryCode")]
            for child in scoped:
                child.set(TERRITORY, territory)
            hoist(block, scoped)
            for code in codes[:1]:
                self.remove(code, f"ERN {self.v} writes a territory as the ApplicableTerritoryCode of each element")
            for rest in list(block):  # more territories: 4.x scopes each element by one
                if isinstance(rest.tag, str):
                    self.remove(rest, f"ERN {self.v} scopes each element by one ApplicableTerritoryCode")
            block.getparent().remove(block)  # an emptied container: nothing of its own is lost

    def titles(self, el: Element) -> None:
        for ref in _children(el, "ReferenceTitle"):  # the display title, when there is one, is shown
            ref.tag = "AdditionalTitle"
        for t in list(el):
            if t.tag != "Title":
                continue
            if t.get("TitleType") == "DisplayTitle":
                t.tag = "DisplayTitle"
                self.consumed(t, "TitleType")
                del t.attrib["TitleType"]
            else:
                t.tag = "AdditionalTitle"
        if not _children(el, "DisplayTitleText"):
            shown = _children(el, "DisplayTitle") or _children(el, "AdditionalTitle")
            if shown and first_child(shown[0], "TitleText") is not None:
                shown[0].addprevious(_new("DisplayTitleText", _text(first_child(shown[0], "TitleText"))))
        if _children(el, "DisplayTitleText") and not _children(el, "DisplayTitle"):
            made = _new("DisplayTitle")
            made.append(_new("TitleText", _text(_children(el, "DisplayTitleText")[0])))
            _children(el, "DisplayTitleText")[-1].addnext(made)

    def required_artists(self, el: Element, fallback: str) -> None:
        """A 4.x DisplayArtistName and DisplayArtist where the 3.x source gives only one of them."""
        if el.tag not in ("SoundRecording", "Video", "Release"):
            return
        names = _children(el, "DisplayArtistName")
        artists = _children(el, "DisplayArtist")
        if not names:
            name = ""
            if artists:
                ref = _text(first_child(artists[0], "ArtistPartyReference"))
                party = next((p for p in self.party_list if _text(first_child(p, "PartyReference")) == ref), None)
                name = _text(first_child(first_child(party, "PartyName"), "FullName"))
            name = name or fallback
            if name:
                el.append(_new("DisplayArtistName", name))
        if not artists:
            names = _children(el, "DisplayArtistName")
            if names:
                da = _new("DisplayArtist")
                da.append(_new("ArtistPartyReference", self.party_ref([], [], _text(names[0]))))
                da.append(_new("DisplayArtistRole", "MainArtist"))
                el.append(da)

    # ---- resources

    def resource(self, res: Element) -> None:
        kind = res.tag
        self.dissolve(res, f"{kind}DetailsByTerritory")
        for holder in [c for c in res if c.tag in _PARTY_HOLDERS]:
            self.party_holder(holder)
        for child in list(res):
            tag = child.tag
            if tag == f"{kind}Type":
                child.tag = "Type"
            elif tag == f"{kind}Id":
                child.tag = "ResourceId"
            elif tag == f"Technical{kind}Details":
                child.tag = "TechnicalDetails"
                self.technical_to_4x(child)
        self.titles(res)

    def technical_to_4x(self, tech: Element) -> None:
        """A 3.x File (FileName, FilePath or URL) → a 4.x File with its URI (4.3's DeliveryFile is
        made around it by the fitting)."""
        for file_ in _children(tech, "File"):
            name, path, url = first_child(file_, "FileName"), first_child(file_, "FilePath"), first_child(file_, "URL")
            uri = url if url is not None else name
            if uri is None:
                continue
            if url is None and path is not None:  # uri is the FileName
                joined = _text(path) + _text(uri)
                reason = f"ERN {self.v} gives a file as one URI: FilePath and FileName are joined ({joined!r})"
                self.c.note_changed(uri, reason)
                uri.text = joined
                self.remove(path, reason)
            uri.tag = "URI"
            file_.insert(0, uri)

    # ---- releases

    def release(self, rel: Element, *, main: bool) -> None:
        self.dissolve(rel, "ReleaseDetailsByTerritory")
        for holder in [c for c in rel if c.tag in _PARTY_HOLDERS]:
            self.party_holder(holder)
        for label in _children(rel, "LabelName"):
            self.referenced(label, label)
            label.tag = "ReleaseLabelReference"
            label.text = self.party_ref([], [], _text(label))
        for child in list(rel):
            if child.tag == "GlobalReleaseDate" and not _children(rel, "ReleaseDate"):
                child.tag = "ReleaseDate"
            elif child.tag == "GlobalOriginalReleaseDate" and not _children(rel, "OriginalReleaseDate"):
                child.tag = "OriginalReleaseDate"
        self.titles(rel)
        self.required_artists(rel, "")
        listed = first_child(rel, "ReleaseResourceReferenceList")
        groups = _children(rel, "ResourceGroup")
        if main:
            if not groups and listed is not None:
                group = _new("ResourceGroup")
                listed.addprevious(group)
                for i, ref in enumerate(_children(listed, "ReleaseResourceReference"), start=1):
                    item = etree.SubElement(group, "ResourceGroupContentItem")
                    item.append(_new("SequenceNumber", str(i)))
                    item.append(ref)
                self.remove(listed, f"ERN {self.v} lists a release's resources in its ResourceGroup")
            elif listed is not None:
                self.remove(listed, f"ERN {self.v} lists a release's resources in its ResourceGroup")
            for group in _children(rel, "ResourceGroup"):
                for sub in group.iter("ResourceGroup"):
                    if sub is not group and sub.get("ResourceGroupType") is None:
                        sub.set("ResourceGroupType", "Component")
                    if sub is not group:
                        self.titles(sub)
            return
        rel.tag = "TrackRelease"
        for rt in _children(rel, "ReleaseType"):
            self.remove(rt, f"ERN {self.v} has no ReleaseType in a TrackRelease")
        for group in groups:
            self.remove(group, f"ERN {self.v} has no ResourceGroup in a TrackRelease: it names its one resource")
        if listed is not None:
            refs = _children(listed, "ReleaseResourceReference")
            for ref in refs[:1]:
                listed.addprevious(ref)
            self.remove(listed, f"ERN {self.v} has one ReleaseResourceReference in a TrackRelease")


def drop_unreferenced_parties(root: Element, source_version: str) -> None:
    """After fitting a 3.x source to 4.x: the parties this mapping made that nothing in the output
    references (their only holder has no place in 4.x, e.g. a TrackRelease's display artist) are
    removed, so their names are reported with that holder's reason; the PartyList keeps one."""
    party_list = first_child(root, "PartyList")
    if party_list is None or not versions.is_legacy(source_version):
        return
    used = {_text(el) for el in root.iter() if isinstance(el.tag, str) and not len(el) and el.tag != "PartyReference"}
    made = [p for p in party_list if p.tag == "Party" and p.get(MARK) is None]
    for party in [p for p in made if _text(first_child(p, "PartyReference")) not in used][:len(party_list) - 1]:
        party_list.remove(party)


def to_family(root: Element, source_version: str, model: ContentModel, conversion: Conversion) -> None:
    """Reshape the working tree ``root`` from ``source_version``'s family to ``model``'s (in place)."""
    legacy_target = versions.is_legacy(model.version)
    if legacy_target == versions.is_legacy(source_version):
        return
    (_To3x if legacy_target else _To4x)(root, model, conversion).run()
