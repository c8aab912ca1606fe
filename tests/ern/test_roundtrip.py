"""parse → build → parse on every sample, same version and across versions, plus random models.

What "survives" is defined once, in ``expected_after`` below, from the builder's documented rules:

* same version: header, releases, resources and deals come back equal; the source's parties come
  back first and unchanged, followed only by parties the builder synthesized for display-artist
  and label names that had none (ERN 4.x refers to artists and labels through the PartyList).
* another version, on top of that (each case is a warning of ``build``):
  - 3.x → 4.x: a Release typed ``TrackRelease`` becomes a ``TrackRelease`` (no release type,
    display artist, release date or P/C line); release ISRCs are dropped; a missing release type
    becomes ``UserDefined``, a missing resource type ``Unknown``; a resource with no display
    artist gets its release's; message parties keep their first party id.
  - 4.x → 3.x: TrackRelease/ClipRelease become ``Release`` (a TrackRelease typed ``TrackRelease``);
    a track release without a title takes its resource's; parties survive only as the names of
    display artists and labels (3.x has no PartyList).
  - any value missing from the target's allowed-value set comes back as ``UserDefined``.

A parsed sample is converted from its own document, so what the families scope differently is read
from the XML of source and output (``territory_values``, ``*_party_names``): in every conversion a
display title, display artist name, label and genre keep their territory (4.x
``ApplicableTerritoryCode`` ↔ 3.x ``*DetailsByTerritory`` block), and every party the source names
where the target has a place for it comes back (3.x → 4.x in the source's order, first in the PartyList). The model's ``title``,
``display_artist`` and ``label`` are one pick among those values, and the families pick differently
(4.x: ``DisplayTitleText``, any territory; 3.x: the Worldwide block's DisplayTitle ``TitleText``,
its ``SubTitle`` apart), so 4.x → 3.x they are compared through the XML, not the model.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from ddex_otel.ern import identifiers, parse, validation
from ddex_otel.ern.builder import build
from ddex_otel.ern.errors import DDEXValidationError
from ddex_otel.ern.model import Deal, Identifiers, Line, Message, MessageHeader, Party, ProprietaryId, Release, Resource
from ddex_otel.ern.schema import validate_against_schema
from support import sample_files

VERSIONS = ("4.3", "4.2", "4.1.1", "3.8.2")
# Official samples with an empty <MessageId/>: schema-valid, kept as "" and only warned about.
EMPTY_MESSAGE_ID = {"daddykev__Samples42_8_DjMix.xml", "daddykev__Samples43_8_DjMix.xml", "miqwit__001_audioalbum_complete.xml"}
# miqwit 001 also uses placeholder sender/recipient ids ("DPID_OF_THE_SENDER"), which ERN 4.x rejects.
NOT_4X_BUILDABLE = {"miqwit__001_audioalbum_complete.xml"}


# ------------------------------------------------------------------------------ the comparison


def _user_defined(field: str, value: str | None, target: str) -> str | None:
    return validation.USER_DEFINED if validation.unavailable(field, value, target) else value


def _expected_release(src: Message, r: Release, target: str) -> Release:
    if r.kind == "PurgedRelease":  # ids and title only; 4.x release ids have no ISRC
        return dataclasses.replace(r, ids=dataclasses.replace(r.ids, isrc=None)) if validation.is_4x(target) else r
    if not validation.is_4x(target):
        kind = "Release"
        release_type = r.release_type or ("TrackRelease" if r.kind == "TrackRelease" else None)
        return dataclasses.replace(r, kind=kind, release_type=_user_defined("release_type", release_type, target),
                                   title=validation.derived_release_title(r, validation.resource_titles(src)))
    kind = validation.effective_release_kind(r, target)
    ids = dataclasses.replace(r.ids, isrc=None)
    if kind == "Release":
        release_type = _user_defined("release_type", r.release_type or validation.DEFAULT_RELEASE_TYPE_4X, target)
        return dataclasses.replace(r, kind=kind, release_type=release_type, ids=ids)
    return dataclasses.replace(r, kind=kind, release_type=None, ids=ids, display_artist=None, release_date=None,
                               p_line=None, c_line=None)


def _expected_resource(src: Message, r: Resource, target: str) -> Resource:
    resource_type = r.resource_type
    display_artist = r.display_artist
    if validation.is_4x(target):
        resource_type = resource_type or validation.default_resource_type(r.kind, target)
        if r.kind in ("SoundRecording", "Video", "SheetMusic"):
            display_artist = display_artist or validation.derived_resource_artists(src).get(r.reference)
    return dataclasses.replace(r, resource_type=_user_defined(r.kind, resource_type, target), display_artist=display_artist)


def _expected_deal(d: Deal, target: str) -> Deal:
    return dataclasses.replace(
        d,
        commercial_model_types=tuple(_user_defined("commercial_model_type", v, target) for v in d.commercial_model_types),
        use_types=tuple(_user_defined("use_type", v, target) for v in d.use_types),
    )


def _expected_header(h: MessageHeader, target: str) -> MessageHeader:
    if not validation.is_4x(target):
        return h
    first = lambda p: p and dataclasses.replace(p, party_ids=p.party_ids[:1])  # noqa: E731
    return dataclasses.replace(h, sender=first(h.sender), recipients=tuple(first(p) for p in h.recipients))


def _names_the_builder_needs(src: Message, target: str) -> set[str]:
    """Names that must come back as parties: 4.x writes a party for every display artist (derived
    ones included) and label; 3.x names parties only in DisplayArtist (releases, recordings, videos)
    and LabelName — other resources carry just a DisplayArtistName."""
    names = {r.display_artist for r in src.releases} | {r.label for r in src.releases}
    if validation.is_4x(target):
        names |= {r.display_artist for r in src.resources} | set(validation.derived_resource_artists(src).values())
    else:
        names |= {r.display_artist for r in src.resources if r.kind in ("SoundRecording", "Video")}
    return {n for n in names if n}


#: Model fields a cross-version build does not carry (read from every version, written back only
#: at the source's own version; each dropped element is a ``ddex.build.dropped`` finding).
NOT_CARRIED = {
    Resource: {"parental_warning": None, "p_line": None, "c_line": None, "contributors": (), "technical_details": (),
               "display_titles": (), "display_artist_names": ()},
    Release: {"parental_warning": None, "keywords": (), "display_titles": (), "display_artist_names": ()},
    Deal: {"prices": ()},
}


def carried(message: Message) -> Message:
    """``message`` without the fields a conversion does not carry (see ``NOT_CARRIED``)."""
    def strip(obj):  # type: ignore[no-untyped-def]
        return dataclasses.replace(obj, **next(v for cls, v in NOT_CARRIED.items() if isinstance(obj, cls)))
    return dataclasses.replace(message, resources=tuple(map(strip, message.resources)),
                               releases=tuple(map(strip, message.releases)), deals=tuple(map(strip, message.deals)),
                               purged_releases=tuple(map(strip, message.purged_releases)))


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""  # comments have no name


def _child_texts(el: etree._Element, *tags: str) -> tuple[str, ...]:
    return tuple("".join(c.itertext()).strip() for tag in tags for c in el if _local(c) == tag)


def _objects(root: etree._Element) -> list[tuple[str, str, etree._Element]]:
    """(``"release"``/``"resource"``, reference, element) of every release and resource."""
    out = []
    for section, kind, ref_tag in (("ResourceList", "resource", "ResourceReference"),
                                   ("ReleaseList", "release", "ReleaseReference")):
        for holder in root:
            if _local(holder) == section:
                out += [(kind, _child_texts(el, ref_tag)[0], el) for el in holder if _child_texts(el, ref_tag)]
    return out


def _party_names_4x(root: etree._Element) -> dict[str, str]:
    """Party reference → the party's first full name."""
    return {_child_texts(p, "PartyReference")[0]: next(_child_texts(n, "FullName")[0] for n in p if _local(n) == "PartyName")
            for pl in root if _local(pl) == "PartyList" for p in pl if any(_local(n) == "PartyName" for n in p)}


def territory_values(root: etree._Element) -> Counter:
    """(kind, reference, territory, field, values) of each display title, display artist name,
    release label and release genre, read from ERN 4.x elements' ``ApplicableTerritoryCode``
    (Worldwide when absent) or from ERN 3.x ``*DetailsByTerritory`` blocks."""
    legacy = etree.QName(root).namespace.endswith("/382")
    parties = {} if legacy else _party_names_4x(root)
    out: Counter = Counter()
    for kind, ref, el in _objects(root):
        if legacy:
            scoped = [(_child_texts(b, "TerritoryCode")[0], c) for b in el if _local(b).endswith("DetailsByTerritory")
                      and _child_texts(b, "TerritoryCode") for c in b]
        else:
            scoped = [(c.get("ApplicableTerritoryCode", "Worldwide"), c) for c in el]
        for territory, c in scoped:
            tag = _local(c)
            if tag in ("DisplayTitle", "Title") and (not legacy or c.get("TitleType") == "DisplayTitle"):
                item = ("title", _child_texts(c, "TitleText", "SubTitle"))
            elif tag == "DisplayArtistName":
                item = ("artist", ("".join(c.itertext()).strip(),))
            elif kind == "release" and tag in ("LabelName", "ReleaseLabelReference"):
                text = "".join(c.itertext()).strip()
                item = ("label", (parties.get(text, text),))
            elif kind == "release" and tag == "Genre":
                item = ("genre", _child_texts(c, "GenreText", "SubGenre"))
            else:
                continue
            out[(kind, ref, territory, *item)] += 1
    return out


def placed_party_names_3x(root: etree._Element) -> set[str]:
    """Names of the 3.x parties ERN 4.x has a place for: display artists and (indirect) contributors
    of details blocks, and release labels (a resource's LabelName or RightsController has none)."""
    names = set()
    for block in root.iter():
        if not isinstance(block.tag, str) or not _local(block).endswith("DetailsByTerritory"):
            continue
        for c in block:
            tag = _local(c)
            if tag in ("DisplayArtist", "ResourceContributor", "IndirectResourceContributor"):
                names |= {_child_texts(n, "FullName")[0] for n in c if _local(n) == "PartyName"}
            elif tag == "LabelName" and _local(block) == "ReleaseDetailsByTerritory":
                names.add("".join(c.itertext()).strip())
    return names


def referenced_party_names_4x(root: etree._Element) -> set[str]:
    """Names of the 4.x parties the releases and resources reference as artists, contributors, labels."""
    parties = _party_names_4x(root)
    refs = {"ArtistPartyReference", "ContributorPartyReference", "ReleaseLabelReference"}
    return {parties[el.text.strip()] for _, _, obj in _objects(root) for el in obj.iter()
            if isinstance(el.tag, str) and _local(el) in refs and el.text.strip() in parties}


#: Model fields that are one pick among territory-scoped values, compared through the XML 4.x → 3.x.
PICKED = {Resource: {"title": None, "display_artist": None}, Release: {"title": None, "display_artist": None, "label": None}}


def picked_out(message: Message) -> Message:
    """``message`` without the fields ``PICKED`` names."""
    def strip(obj):  # type: ignore[no-untyped-def]
        return dataclasses.replace(obj, **next((v for cls, v in PICKED.items() if isinstance(obj, cls)), {}))
    return dataclasses.replace(message, resources=tuple(map(strip, message.resources)),
                               releases=tuple(map(strip, message.releases)))


def assert_preserved(src: Message, out: Message, target: str, *, xml: tuple[etree._Element, etree._Element] | None = None) -> None:
    """``out`` (parsed from ``build(src, target)``) holds everything of ``src`` the rules above keep;
    ``xml``: the (source, output) documents of a converted sample (see the module docstring)."""
    src, out = carried(src), carried(out)
    across = xml is not None and validation.is_4x(src.ern_version) != validation.is_4x(target)
    if xml is not None:
        tracks = {r.reference for r in out.releases if r.kind != "Release"}  # a 4.x TrackRelease has no display artist
        assert Counter({k: n for k, n in territory_values(xml[0]).items()
                        if not (k[0] == "release" and k[1] in tracks and k[3] == "artist")}) \
            - territory_values(xml[1]) == Counter()
        if across and not validation.is_4x(target):
            src, out = picked_out(src), picked_out(out)
    assert (out.ern_version, out.message_type) == (target, src.message_type)
    assert out.header == _expected_header(src.header, target)
    releases = [_expected_release(src, r, target) for r in src.releases]
    if validation.is_4x(target):  # ReleaseList order: Release, TrackReleases, ClipReleases
        releases.sort(key=lambda r: validation.RELEASE_KINDS.index(r.kind) if r.kind in validation.RELEASE_KINDS else 0)
    assert list(out.releases) == releases
    assert list(out.purged_releases) == [_expected_release(src, r, target) for r in src.purged_releases]
    resources = sorted((_expected_resource(src, r, target) for r in src.resources),
                       key=lambda r: validation.RESOURCE_KINDS.index(r.kind))
    assert list(out.resources) == resources
    assert list(out.deals) == [_expected_deal(d, target) for d in src.deals]
    needed = _names_the_builder_needs(src, target)
    if across and validation.is_4x(target):  # 3.x → 4.x: the parties 4.x has a place for, in order
        placed = placed_party_names_3x(xml[0])
        kept = [(p.name, p.party_ids) for p in src.parties if p.name in placed]
        assert [(p.name, p.party_ids) for p in out.parties[:len(kept)]] == kept
        assert all(p.reference for p in out.parties)
        assert {p.name for p in out.parties[len(kept):]} <= needed
    elif across:  # 4.x → 3.x: every party referenced as an artist, contributor or label is named
        assert referenced_party_names_4x(xml[0]) <= {p.name for p in out.parties}
    elif validation.is_4x(target):
        head, extra = out.parties[:len(src.parties)], out.parties[len(src.parties):]
        assert [(p.name, p.party_ids) for p in head] == [(p.name, p.party_ids) for p in src.parties]
        assert all(p.reference for p in out.parties)
        if src.ern_version.startswith("4."):
            assert [p.reference for p in head] == [p.reference for p in src.parties]
        assert {p.name for p in extra} <= needed and all(not p.party_ids for p in extra)
    else:
        assert needed <= {p.name for p in out.parties}


def _buildable(path: Path, target: str) -> bool:
    return not (validation.is_4x(target) and path.name in NOT_4X_BUILDABLE)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``sample_target``: every (sample, target version) pair the builder can write — the pairs it
    must refuse are tested on their own in ``test_placeholder_party_ids_block_4x``."""
    if "sample_target" in metafunc.fixturenames:
        cases = [(p, t) for p in sample_files() for t in VERSIONS if _buildable(p, t)]
        metafunc.parametrize("sample_target", cases, ids=[f"{p.name}->{t}" for p, t in cases])


# -------------------------------------------------------------------------------- the samples


def test_same_version_round_trip_is_exact(sample_path: Path, xsd_dir: Path) -> None:
    path = sample_path
    src = parse(path)
    built = build(src, src.ern_version)
    assert validate_against_schema(built, xsd_dir) == []
    out = parse(built)
    assert (out.ern_version, out.message_type, out.header) == (src.ern_version, src.message_type, src.header)
    assert (out.releases, out.resources, out.deals) == (src.releases, src.resources, src.deals)
    if src.ern_version.startswith("4."):
        assert out.parties[:len(src.parties)] == src.parties
    assert_preserved(src, out, src.ern_version)


def test_cross_version_round_trip(sample_target: tuple[Path, str], xsd_dir: Path) -> None:
    path, target = sample_target
    src = parse(path)
    built = build(src, target)
    assert validate_against_schema(built, xsd_dir) == []
    assert b"urn:ddex-otel:convert" not in built  # the conversion's working marks leave no trace
    assert_preserved(src, parse(built), target, xml=(etree.parse(path).getroot(), etree.fromstring(built)))


def test_rebuilding_a_built_message_is_a_fixpoint(sample_target: tuple[Path, str]) -> None:
    path, target = sample_target
    src = parse(path)
    first = build(src, target)
    if "user-defined-value" in {f.code for f in validation.check(src, target_version=target).findings}:
        # A value written as UserDefined keeps the original only in @UserDefinedValue, which the
        # model does not hold: the first rebuild reads "UserDefined"; from then on it is stable.
        first = build(parse(first), target)
    assert build(parse(first), target) == first


@pytest.mark.parametrize("name", sorted(EMPTY_MESSAGE_ID))
def test_an_empty_message_id_is_kept_and_only_warned_about(name: str, samples_dir: Path) -> None:
    src = parse(samples_dir / name)
    assert src.header.message_id == ""
    assert ("warning", "empty-field", "header.message_id") in {
        (f.severity, f.code, f.path) for f in validation.check(src, target_version="3.8.2").findings}
    assert parse(build(src, "3.8.2")).header.message_id == ""


def test_placeholder_party_ids_block_4x(samples_dir: Path) -> None:
    src = parse(samples_dir / "miqwit__001_audioalbum_complete.xml")
    with pytest.raises(DDEXValidationError) as info:
        build(src, "4.3", validation="warn")
    assert {f.code for f in info.value.findings if f.severity == "error"} == {"bad-party-id"}


# ------------------------------------------------------------------------- 3.8.2 → 4.3 explicitly


def test_382_single_to_43(xsd_dir: Path, samples_dir: Path) -> None:
    src = parse(samples_dir / "AudiusProject__01_delivery.xml")
    built = build(src, "4.3")
    assert validate_against_schema(built, xsd_dir) == []
    out = parse(built)
    assert_preserved(src, out, "4.3", xml=(etree.parse(samples_dir / "AudiusProject__01_delivery.xml").getroot(),
                                          etree.fromstring(built)))
    (release,) = out.releases
    assert (release.kind, release.reference, release.release_type) == ("Release", "RL1", "UserDefined")
    assert release.ids.grid == "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0"  # malformed, kept (a warning)
    assert (release.title, release.display_artist, release.label) == ("Example Album", "DJ Theo", "Iron Crown Music")
    assert (release.genre, release.subgenre, release.release_date) == ("Metal", "Progressive Metal", "2010-01-01")
    assert release.resource_refs == ("A1", "A2")
    assert [(r.kind, r.reference, r.ids.isrc) for r in out.resources] == [("SoundRecording", "A1", "USRC12345678"),
                                                                           ("Image", "A2", None)]
    assert out.resources[0].ids.proprietary == (ProprietaryId("PADPIDA1234567890", "2281606606"),)
    assert out.deals == src.deals
    assert {p.name for p in out.parties} >= {"DJ Theo", "Iron Crown Music"}
    assert all(p.reference and p.reference.startswith("P") for p in out.parties)
    assert {f.code for f in built.findings} == {"bad-grid", "default-value", "ddex.build.dropped"}


def test_382_album_with_track_releases_to_43(xsd_dir: Path, samples_dir: Path) -> None:
    src = parse(samples_dir / "miqwit__001_audioalbum_complete.xml")
    header = dataclasses.replace(
        src.header, message_id="MSG-001",
        sender=dataclasses.replace(src.header.sender, party_ids=("PADPIDA0000000001",)),
        recipients=tuple(dataclasses.replace(p, party_ids=("PADPIDA0000000002",)) for p in src.header.recipients))
    src = dataclasses.replace(src, header=header)
    built = build(src, "4.3")
    assert validate_against_schema(built, xsd_dir) == []
    out = parse(built)
    assert_preserved(src, out, "4.3", xml=(etree.parse(samples_dir / "miqwit__001_audioalbum_complete.xml").getroot(),
                                          etree.fromstring(built)))
    assert [(r.kind, r.reference) for r in out.releases] == [("Release", "R0")] + [("TrackRelease", f"R{i}") for i in range(1, 7)]
    assert out.releases[0].resource_refs == ("A1", "A2", "A3", "A4", "A5", "A6", "A7")
    assert out.releases[1].ids.grid == "A1UCASE0000000001X" and out.releases[1].ids.isrc is None  # 4.x: no release ISRC
    dropped = {f.path for f in built.findings if f.code == "ddex.build.dropped"}  # XPaths into the source
    assert {"/ern:NewReleaseMessage/ReleaseList/Release[2]/ReleaseId/ISRC",
            "/ern:NewReleaseMessage/ReleaseList/Release[2]/ReleaseDetailsByTerritory/DisplayArtistName"} <= dropped


def test_a_party_only_a_dropped_element_names_is_reported_not_left_in_the_party_list(samples_dir: Path) -> None:
    """3.8.2 → 4.3: a track release's display artist has no 4.x place; an artist named only there
    gets no PartyList party, and its name is reported with the reason its DisplayArtist is dropped."""
    root = etree.parse(samples_dir / "miqwit__001_audioalbum_complete.xml").getroot()
    ns = {"ern": etree.QName(root).namespace}
    (name,) = root.xpath("ReleaseList/Release[2]/ReleaseDetailsByTerritory/DisplayArtist/PartyName/FullName", namespaces=ns)
    name.text = "Named Only Here"
    for pid in root.xpath("MessageHeader/*/PartyId", namespaces=ns):
        pid.text = "PADPIDA0000000001"
    built = build(parse(etree.tostring(root)), "4.3")
    out = etree.fromstring(built)
    assert "Named Only Here" not in _party_names_4x(out).values() and b"Named Only Here" not in built
    assert [f.path for f in built.findings if "'Named Only Here'" in f.message and "no DisplayArtist in TrackRelease" in f.message] \
        == ["/ern:NewReleaseMessage/ReleaseList/Release[2]/ReleaseDetailsByTerritory/DisplayArtist"]


def test_43_to_382_and_back(xsd_dir: Path, samples_dir: Path) -> None:
    """4.3 → 3.8.2 → 4.3 keeps releases, resources and deals. The display titles come back per
    territory with their SubTitles; a ``DisplayTitleText`` (4.x's flat display string, 3.x's
    ReferenceTitle on the way) comes back as an AdditionalTitle, and the 4.3 ``DisplayTitleText``
    is rebuilt from the display title's TitleText (3.x has no flat display string to give it)."""
    path = samples_dir / "daddykev__Samples43_1_Audio.xml"
    src = parse(path)
    built = build(src, "3.8.2")
    as_382 = parse(built)
    assert_preserved(src, as_382, "3.8.2", xml=(etree.parse(path).getroot(), etree.fromstring(built)))
    assert [r.kind for r in as_382.releases] == ["Release"] * 22
    built_back = build(as_382, "4.3")
    assert validate_against_schema(built_back, xsd_dir) == []
    back = parse(built_back)
    assert [r.kind for r in back.releases] == ["Release"] + ["TrackRelease"] * 21
    assert [r.reference for r in back.releases] == [r.reference for r in src.releases]
    assert picked_out(carried(back)).resources == picked_out(carried(src)).resources
    assert carried(back).deals == carried(src).deals
    assert [(r.ids, r.label, r.genre, r.resource_refs) for r in back.releases] == \
           [(r.ids, r.label, r.genre, r.resource_refs) for r in src.releases]
    src_xml, back_xml = etree.parse(path).getroot(), etree.fromstring(built_back)
    assert territory_values(src_xml) - territory_values(back_xml) == Counter()
    shown = {(kind, ref, text) for kind, ref, el in _objects(back_xml)
             for text in (*_child_texts(el, "DisplayTitleText"),
                          *(x for t in el if _local(t) == "AdditionalTitle" for x in _child_texts(t, "TitleText")))}
    assert {(kind, ref, text) for kind, ref, el in _objects(src_xml) for text in _child_texts(el, "DisplayTitleText")} <= shown


# --------------------------------------------------------------------------- random valid models

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn"), max_codepoint=0x2FFFF), min_size=1, max_size=12)
TEXT = _TEXT.filter(lambda s: s.strip() == s and s != "")
REF_BODY = st.text("abcXYZ019-_", min_size=1, max_size=4)
DATE = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat)
SAFE_TERRITORIES = ("Worldwide", "DE", "US", "JP", "FR", "GB")
SAFE_USES = ("PermanentDownload", "OnDemandStream", "ConditionalDownload", "NonInteractiveStream")
SAFE_MODELS = ("PayAsYouGoModel", "SubscriptionModel", "AdvertisementSupportedModel", "FreeOfChargeModel")


@st.composite
def isrcs(draw: st.DrawFn) -> str:
    return (draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2))
            + draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=3, max_size=3))
            + draw(st.text("0123456789", min_size=7, max_size=7)))


@st.composite
def proprietary_ids(draw: st.DrawFn, min_size: int = 0) -> tuple[ProprietaryId, ...]:
    return tuple(ProprietaryId("PADPIDA" + draw(st.text("ABC0123456789", min_size=1, max_size=8)), draw(TEXT))
                 for _ in range(draw(st.integers(min_size, 2))))


@st.composite
def resources(draw: st.DrawFn, index: int) -> Resource:
    kind = draw(st.sampled_from(("SoundRecording", "SoundRecording", "Video", "Image", "Text", "Software")))
    ref = f"A{index}"
    if kind in ("SoundRecording", "Video"):
        ids = Identifiers(isrc=draw(st.none() | isrcs()), catalog_number=draw(st.none() | TEXT),
                          proprietary=draw(proprietary_ids()))
        resource_type = draw(st.none() | st.sampled_from(("MusicalWorkSoundRecording", "Unknown"))) \
            if kind == "SoundRecording" else draw(st.none() | st.sampled_from(("ShortFormMusicalWorkVideo", "Unknown")))
        return Resource(kind=kind, reference=ref, resource_type=resource_type, ids=ids, title=draw(TEXT),
                        display_artist=draw(st.none() | TEXT),
                        duration=draw(st.floats(0, 10**6, allow_nan=False, allow_infinity=False)))
    needs_id = kind in ("Image", "Software")
    return Resource(kind=kind, reference=ref, ids=Identifiers(proprietary=draw(proprietary_ids(1 if needs_id else 0))),
                    title=draw(st.none() | TEXT), display_artist=draw(st.none() | TEXT))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Models valid for every written version: one main Release plus TrackReleases over its resources."""
    resource_list = [draw(resources(i)) for i in range(1, draw(st.integers(1, 5)) + 1)]
    if not any(r.kind in ("SoundRecording", "Video") for r in resource_list):
        resource_list[0] = draw(resources(1).filter(lambda r: r.kind == "SoundRecording"))
    refs = [r.reference for r in resource_list]
    timed = [r.reference for r in resource_list if r.kind in ("SoundRecording", "Video")]  # titled: 3.x track titles
    label, genre = draw(TEXT), draw(TEXT)
    main = Release(
        kind="Release", reference="R" + draw(REF_BODY), release_type=draw(st.none() | st.sampled_from(("Album", "Single", "EP"))),
        ids=Identifiers(icpn=identifiers.make_icpn(draw(st.text("0123456789", min_size=12, max_size=12))),
                        grid=draw(st.none() | st.text("0123456789", min_size=10, max_size=10).map(
                            lambda n: identifiers.make_grid("A1ABCDE" + n))),
                        catalog_number=draw(st.none() | TEXT), proprietary=draw(proprietary_ids())),
        title=draw(TEXT), display_artist=draw(TEXT), label=label, genre=genre, subgenre=draw(st.none() | TEXT),
        release_date=draw(st.none() | DATE), p_line=draw(st.none() | st.builds(Line, st.none() | st.integers(1000, 9999).map(str), TEXT)),
        c_line=draw(st.none() | st.builds(Line, st.none() | st.integers(1000, 9999).map(str), TEXT)),
        resource_refs=tuple(refs),
    )
    tracks = [Release(kind="TrackRelease", reference=f"{main.reference}T{i}", title=draw(st.none() | TEXT),
                      label=label, genre=genre, ids=Identifiers(proprietary=draw(proprietary_ids())), resource_refs=(ref,))
              for i, ref in enumerate(draw(st.lists(st.sampled_from(timed), max_size=3)))]
    releases = [main] + tracks
    deals = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(DATE)
        territories = tuple(draw(st.lists(st.sampled_from(SAFE_TERRITORIES), min_size=1, max_size=3, unique=True)))
        excluded = draw(st.booleans()) and "Worldwide" not in territories
        deals.append(Deal(
            release_refs=tuple(draw(st.lists(st.sampled_from([r.reference for r in releases]), min_size=1, max_size=3, unique=True))),
            territories=() if excluded else territories, excluded_territories=territories if excluded else (),
            commercial_model_types=tuple(draw(st.lists(st.sampled_from(SAFE_MODELS), max_size=2, unique=True))),
            use_types=tuple(draw(st.lists(st.sampled_from(SAFE_USES), min_size=1, max_size=2, unique=True))),
            start_date=start, end_date=draw(st.none() | st.just("9999-12-31")),
        ))
    parties = tuple(Party(reference=f"PX{i}", name=draw(TEXT)) for i in range(draw(st.integers(0, 2))))
    header = MessageHeader(
        message_id=draw(TEXT), thread_id=draw(st.none() | TEXT),
        sender=Party(party_ids=("PADPIDA" + draw(st.text("ABC0123456789", min_size=1, max_size=10)),), name=draw(st.none() | TEXT)),
        recipients=tuple(Party(party_ids=(f"PADPIDA{i}RCPT",), name=draw(st.none() | TEXT)) for i in range(draw(st.integers(1, 2)))),
        created=draw(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 1, 1))).replace(microsecond=0).isoformat() + "Z",
        control_type=draw(st.none() | st.sampled_from(validation.CONTROL_TYPES)),
    )
    return Message(ern_version="4.3", message_type="NewReleaseMessage", header=header, parties=parties,
                   releases=tuple(releases), resources=tuple(resource_list), deals=tuple(deals))


@settings(max_examples=int(os.environ.get("DDEX_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(message=messages(), target=st.sampled_from(VERSIONS))
def test_random_valid_models_build_valid_xml_and_round_trip(message: Message, target: str, xsd_dir: Path) -> None:
    assert validation.check(message, "strict", target_version=target).ok
    built = build(message, target, validation="strict")
    assert validate_against_schema(built, xsd_dir) == []
    assert_preserved(message, parse(built), target)
