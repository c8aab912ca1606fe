"""Nothing lost in build: same-version round trips are canonical-equal, edits keep everything else,
conversions report every element they cannot carry (``ddex.build.dropped``)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from ddex_otel.ern import lossless, parse, validation
from ddex_otel.ern.builder import build
from ddex_otel.ern.errors import DDEXValidationError
from ddex_otel.ern.model import Release
from ddex_otel.ern.schema import validate_against_schema

A43 = "daddykev__Samples43_1_Audio.xml"
A382 = "AudiusProject__01_delivery.xml"


def canonical(data: bytes) -> str:
    """C14N 2.0 without comments and insignificant whitespace (prefixes and attribute order are normalised)."""
    return etree.canonicalize(etree.fromstring(data), with_comments=False, strip_text=True)


def edited_source(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    """The source document with ``edit(root)`` applied by hand: what a lossless edit must produce."""
    root = etree.fromstring(data)
    edit(root)
    return etree.tostring(root)


def _only(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath)
    assert len(found) >= 1, xpath
    return found[0]


# ------------------------------------------------------------------------------ 1. no edit


def test_same_version_build_is_canonically_equal_to_the_source(sample_path: Path, xsd_dir: Path) -> None:
    data = sample_path.read_bytes()
    # The promise is for XSD-valid messages: every real sample is one (a new invalid sample fails here, loudly).
    assert validate_against_schema(data, xsd_dir) == [], f"{sample_path.name} is not XSD-valid"
    message = parse(data)
    built = build(message, message.ern_version)
    assert canonical(built) == canonical(data)
    assert not [f for f in built.findings if f.code in (lossless.DROPPED, lossless.REGENERATED)]


def test_source_is_not_part_of_equality_repr_or_json(samples_dir: Path) -> None:
    data = (samples_dir / A43).read_bytes()
    a, b = parse(data), parse(data)
    assert a == b and a._source is not b._source and a.releases[0]._source is not None
    assert "_source" not in repr(a.releases[0]) and "_source" not in a.to_dict()
    assert "_source" not in a.to_dict()["releases"][0]
    assert dataclasses.replace(a, _source=None) == a


def test_parsed_marks_only_the_objects_exactly_as_parse_read_them(samples_dir: Path) -> None:
    message = parse((samples_dir / A43).read_bytes())
    read = [message, message.header, *message.parties, *message.resources, *message.releases, *message.deals]
    assert all(obj._parsed for obj in read)
    edited = dataclasses.replace(message.releases[0], title="A New Title")
    unchanged_copy = dataclasses.replace(message.releases[0])
    assert not edited._parsed and not unchanged_copy._parsed
    assert edited._source is message.releases[0]._source  # it still knows where it came from
    assert not Release(kind="Release", reference="R1")._parsed
    assert "_parsed" not in repr(message.releases[0]) and "_parsed" not in message.to_dict()["releases"][0]
    assert unchanged_copy == message.releases[0]  # not part of equality either


def test_an_edit_is_still_checked_for_illegal_xml_characters(samples_dir: Path) -> None:
    message = parse((samples_dir / A43).read_bytes())
    assert not [f for f in validation.check(message, "warn").findings if f.code == "illegal-xml-character"]
    bad = dataclasses.replace(message.resources[0], title="bad\x01title")
    edited = dataclasses.replace(message, resources=(bad, *message.resources[1:]))
    with pytest.raises(DDEXValidationError) as caught:
        build(edited, message.ern_version)
    assert any(f.code == "illegal-xml-character" and f.path.startswith("resources[0]") for f in caught.value.findings)


# ------------------------------------------------------------------------------ 2. edits


def _rebuild(samples_dir: Path, xsd_dir: Path, name: str, change, *, whole: bool = True):  # type: ignore[no-untyped-def]
    data = (samples_dir / name).read_bytes()
    message = parse(data)
    edited = change(message)
    built = build(edited, message.ern_version)
    assert validate_against_schema(built, xsd_dir) == []
    assert not [f for f in built.findings if f.code == lossless.REGENERATED]
    again = parse(built)
    if whole:  # the chosen title/artist is one of display_titles/display_artist_names: they follow it
        def follow(obj):  # type: ignore[no-untyped-def]
            return dataclasses.replace(obj, display_titles=(), display_artist_names=())
        assert dataclasses.replace(again, releases=tuple(map(follow, again.releases))) == \
            dataclasses.replace(edited, releases=tuple(map(follow, edited.releases)))
    else:
        assert again.parties == edited.parties
    return data, built


def test_edit_release_title_changes_only_that_title(samples_dir: Path, xsd_dir: Path) -> None:
    def change(m):  # type: ignore[no-untyped-def]
        release = dataclasses.replace(m.releases[0], title="A New Title")
        return dataclasses.replace(m, releases=(release, *m.releases[1:]))

    def by_hand(root: etree._Element) -> None:
        release = _only(root, "ReleaseList/Release")
        for el in (_only(release, "DisplayTitleText"), _only(release, "DisplayTitle/TitleText")):
            el.text = "A New Title"

    data, built = _rebuild(samples_dir, xsd_dir, A43, change)
    assert canonical(built) == canonical(edited_source(data, by_hand))


def test_edit_deal_date_and_resource_isrc(samples_dir: Path, xsd_dir: Path) -> None:
    def change(m):  # type: ignore[no-untyped-def]
        deal = dataclasses.replace(m.deals[0], start_date="2030-01-02")
        res = m.resources[0]
        res = dataclasses.replace(res, ids=dataclasses.replace(res.ids, isrc="GBAAA3000001"))
        return dataclasses.replace(m, deals=(deal, *m.deals[1:]), resources=(res, *m.resources[1:]))

    def by_hand(root: etree._Element) -> None:
        _only(root, "DealList/ReleaseDeal/Deal/DealTerms/ValidityPeriod/StartDate").text = "2030-01-02"
        _only(root, "ResourceList/SoundRecording/SoundRecordingEdition/ResourceId/ISRC").text = "GBAAA3000001"

    data, built = _rebuild(samples_dir, xsd_dir, A43, change)
    assert canonical(built) == canonical(edited_source(data, by_hand))


def test_remove_a_track_release_and_its_deals(samples_dir: Path, xsd_dir: Path) -> None:
    data = (samples_dir / A43).read_bytes()
    gone = next(r for r in parse(data).releases if r.kind == "TrackRelease").reference

    def change(m):  # type: ignore[no-untyped-def]
        return dataclasses.replace(m, releases=tuple(r for r in m.releases if r.reference != gone),
                                   deals=tuple(d for d in m.deals if gone not in d.release_refs))

    def by_hand(root: etree._Element) -> None:
        for rel in root.xpath(f"ReleaseList/*[ReleaseReference='{gone}']"):
            rel.getparent().remove(rel)
        for rd in root.xpath(f"DealList/ReleaseDeal[DealReleaseReference='{gone}']"):
            rd.getparent().remove(rd)

    _, built = _rebuild(samples_dir, xsd_dir, A43, change)
    assert canonical(built) == canonical(edited_source(data, by_hand))


def test_edit_in_ern_3_release_date_and_party_name_4x(samples_dir: Path, xsd_dir: Path) -> None:
    def change(m):  # type: ignore[no-untyped-def]
        release = dataclasses.replace(m.releases[0], release_date="2031-05-06", display_artist="Someone Else")
        return dataclasses.replace(m, releases=(release, *m.releases[1:]))

    data, built = _rebuild(samples_dir, xsd_dir, A382, change)
    source, out = etree.fromstring(data), etree.fromstring(built)
    assert len(list(out.iter())) == len(list(source.iter()))  # nothing added, nothing lost

    def party(m):  # type: ignore[no-untyped-def]
        return dataclasses.replace(m, parties=(dataclasses.replace(m.parties[0], name="Renamed"), *m.parties[1:]))

    # (names resolved through the party — contributors, labels — follow it: compare the parties)
    data, built = _rebuild(samples_dir, xsd_dir, A43, party, whole=False)
    assert canonical(built) != canonical(data)
    assert len(list(etree.fromstring(built).iter())) == len(list(etree.fromstring(data).iter()))


def test_an_edit_the_source_cannot_hold_is_regenerated_and_reported(samples_dir: Path, xsd_dir: Path) -> None:
    message = parse((samples_dir / A43).read_bytes())
    main = message.releases[0]
    edited = dataclasses.replace(main, resource_refs=tuple(reversed(main.resource_refs)))
    built = build(dataclasses.replace(message, releases=(edited, *message.releases[1:])), "4.3")
    regenerated = [f for f in built.findings if f.code == lossless.REGENERATED]
    assert [f.path for f in regenerated] == [f"ReleaseList/Release[{main.reference}]"]
    assert validate_against_schema(built, xsd_dir) == []
    assert parse(built).releases[0].resource_refs == edited.resource_refs


def test_new_objects_are_written_from_the_model(samples_dir: Path, xsd_dir: Path) -> None:
    message = parse((samples_dir / A43).read_bytes())
    extra = dataclasses.replace(message.resources[0], reference="A999", title="Bonus", _source=None)
    built = build(dataclasses.replace(message, resources=(*message.resources, extra)), "4.3")
    assert validate_against_schema(built, xsd_dir) == []
    assert [r.reference for r in parse(built).resources if r.title == "Bonus"] == ["A999"]


# ------------------------------------------------------------------------------ 3. conversions


TARGETS = ("4.3", "4.2", "4.1.1", "3.8.2")
#: Leaf elements with some text: the values a conversion carries or reports (read from the XML alone).
LEAVES = etree.XPath("//*[not(*)][normalize-space(text())]")
def leaf_values(root: etree._Element) -> Counter[str]:
    return Counter(el.text.strip() for el in LEAVES(root))


#: Attributes below the root (the root's carry the version itself: rewritten, not carried).
ATTRIBUTES = etree.XPath("/*/descendant::*/@*")


def attribute_values(root: etree._Element) -> Counter[tuple[str, str]]:
    return Counter((etree.QName(a.attrname).localname, str(a)) for a in ATTRIBUTES(root))


def _reported_values(source: etree._Element, finding) -> list[str]:  # type: ignore[no-untyped-def]
    """The source values under the element a ``ddex.build.dropped`` finding names (its path is an XPath)."""
    ns = {"ern": etree.QName(source).namespace}
    (el,) = source.getroottree().xpath(finding.path, namespaces=ns)
    return [leaf.text.strip() for leaf in el.xpath("descendant-or-self::*[not(*)][normalize-space(text())]")]


@pytest.mark.parametrize("target", TARGETS)
def test_conversion_is_schema_valid_and_its_loss_report_exact(sample_path: Path, target: str, xsd_dir: Path) -> None:
    """Every sample × every target: a schema-valid source gives a schema-valid output, and the
    reported drops are exactly the source's leaf values the output lacks (XPath on both documents)."""
    data = sample_path.read_bytes()
    source = etree.fromstring(data)
    assert validate_against_schema(data, xsd_dir) == []
    message = parse(data)
    try:
        built = build(message, target)
    except DDEXValidationError as exc:  # a refusal names what the source lacks and how to supply it
        errors = [f for f in exc.findings if f.severity == "error"]
        assert errors and all("supply" in f.message for f in errors), errors
        return
    assert validate_against_schema(built, xsd_dir) == [], (sample_path.name, target)
    output = etree.fromstring(built)
    absent = leaf_values(source) - leaf_values(output)
    every = [f for f in built.findings if f.code == lossless.DROPPED]
    drops = [f for f in every if "/@" not in f.path]
    if message.ern_version == target:
        assert not absent and not every
        return
    # Attributes: every (name, value) the output has fewer of than the source is reported, and each
    # reported attribute is one of the source's (its path an XPath to it).
    reported_attributes: Counter[tuple[str, str]] = Counter()
    for finding in every:
        if "/@" in finding.path:
            (value,) = source.getroottree().xpath(finding.path, namespaces={"ern": etree.QName(source).namespace})
            reported_attributes[(finding.path.rsplit("/@", 1)[1], str(value))] += 1
    absent_attributes = attribute_values(source) - attribute_values(output)
    # Carried in another form: a 4.x territory as a 3.x TerritoryCode, a 3.x display title as 4.x DisplayTitle.
    territories = set(output.xpath("//TerritoryCode/text()")) if target == "3.8.2" else set()
    for name, value in list(absent_attributes):
        if (name == "ApplicableTerritoryCode" and value in territories) or (
                (name, value) == ("TitleType", "DisplayTitle") and output.xpath("//DisplayTitle")):
            del absent_attributes[(name, value)]
    assert not absent_attributes - reported_attributes, (sample_path.name, target)
    reported = 0
    held: Counter[str] = Counter()
    for finding in drops:
        values = _reported_values(source, finding)
        n = int(finding.message.split(" value", 1)[0].rsplit("(", 1)[-1])  # "Tag (N values: …)"
        assert 0 < n <= len(values), finding
        reported += n
        held.update(values)
    # As many values reported as are absent, and every absent value lies in a reported element.
    assert reported == sum(absent.values()), (sample_path.name, target)
    assert not absent - held, (sample_path.name, target)


def test_conversion_43_to_42_keeps_parental_warnings_and_reports_the_true_reasons(samples_dir: Path) -> None:
    """The ParentalWarningType of every recording reappears, so none is reported; what is reported is
    absent from the output and says which 4.2 element lacks it."""
    data = (samples_dir / A43).read_bytes()
    source = etree.fromstring(data)
    built = build(parse(data), "4.2")
    out = etree.fromstring(built)
    for ref in source.xpath("ResourceList/SoundRecording/ResourceReference/text()"):
        src = source.xpath(f"ResourceList/SoundRecording[ResourceReference='{ref}']/ParentalWarningType/text()")
        got = out.xpath(f"ResourceList/SoundRecording[ResourceReference='{ref}']/ParentalWarningType/text()")
        assert src and got == src
    drops = [f for f in built.findings if f.code == lossless.DROPPED]
    assert drops and not [f for f in drops if "ParentalWarningType" in f.path or "not in the model" in f.message]
    # 4.3's DeliveryFile gives its File to 4.2's TechnicalDetails; only its Type has no place there.
    for ref in source.xpath("ResourceList/SoundRecording/ResourceReference/text()"):
        uris = source.xpath(f"ResourceList/SoundRecording[ResourceReference='{ref}']//DeliveryFile/File/URI/text()")
        assert out.xpath(f"ResourceList/SoundRecording[ResourceReference='{ref}']/TechnicalDetails/File/URI/text()") \
            == uris[:1]
    assert any(f.path.endswith("TechnicalDetails/DeliveryFile") and "4.2 has no DeliveryFile in TechnicalDetails"
               in f.message and "'AudioFile'" in f.message and "URI" not in f.message for f in drops)
    # Contributors, display titles and P lines are carried (4.2 has them all).
    for xpath in ("ResourceList/SoundRecording/Contributor", "ResourceList/SoundRecording/DisplayTitle",
                  "DealList/ReleaseDeal/Deal/DealTerms"):
        assert len(out.xpath(xpath)) == len(source.xpath(xpath)) > 0
    assert len(out.xpath("ResourceList/SoundRecording/PLine")) == len(
        source.xpath("ResourceList/SoundRecording/SoundRecordingEdition/PLine")) > 0


def test_cli_show_losses_prints_one_line_per_drop(samples_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    source = samples_dir / A43
    out = tmp_path / "out.xml"
    assert main(["build", str(source), "--version", "4.2", "-o", str(out), "--show-losses"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.endswith("(ddex.build.dropped)")]
    built = build(parse(source.read_bytes()), "4.2")
    expected = [f for f in built.findings if f.code == lossless.DROPPED]
    assert len(lines) == len(expected) > 0 and not any("values are not carried" in line for line in lines)
    src = etree.parse(str(source))
    for line in lines:  # each names an XPath of the source and an element the output lacks there
        path = line.split(f"{source}: ", 1)[1].split(": ", 1)[0]
        assert len(src.xpath(path, namespaces={"ern": "http://ddex.net/xml/ern/43"})) == 1


def test_cli_prints_losses_and_fail_on_loss_exits_1(samples_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    source = str(samples_dir / A43)
    out = tmp_path / "out.xml"
    assert main(["build", source, "--version", "4.2", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    total = sum(leaf_values(etree.parse(source).getroot()).values())
    assert f"of {total} values are not carried into ERN 4.2" in err and "DeliveryFile" in err
    out.unlink()
    assert main(["build", source, "--version", "4.2", "-o", str(out), "--fail-on-loss"]) == 1
    assert "--fail-on-loss" in capsys.readouterr().err and not out.exists()
    assert main(["build", source, "--version", "4.3", "-o", str(out), "--fail-on-loss"]) == 0
    assert capsys.readouterr().err == ""


def test_valid_unmodified_message_with_empty_genre_builds_at_its_own_version(samples_dir: Path, xsd_dir: Path) -> None:
    """A schema-valid 4.3 message with an empty GenreText builds back as it came, with the business
    rule as a warning; converting it to 4.2 keeps the empty genre as it is (the schema accepts it)."""
    root = etree.fromstring((samples_dir / A43).read_bytes())
    for text in root.xpath("ReleaseList/*/Genre/GenreText"):
        text.text = ""
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert validate_against_schema(data, xsd_dir) == []
    message = parse(data)
    built = build(message, "4.3")
    assert canonical(built) == canonical(data)
    genre = [f for f in built.findings if f.path.endswith(".genre")]
    assert genre and all(f.severity == "warning" and "re-emitted as it came" in f.message for f in genre)
    assert validate_against_schema(build(message, "4.2"), xsd_dir) == []
    edited = dataclasses.replace(message, releases=message.releases)  # no longer the parsed message itself
    with pytest.raises(DDEXValidationError, match="requires a genre"):
        build(edited, "4.3")


# ------------------------------------------------------------------------------ 4. order and text


def _renumbered(data: bytes) -> bytes:
    """The sample with its track list's SequenceNumbers reversed (document order unchanged)."""
    root = etree.fromstring(data)
    items = root.xpath("ReleaseList/Release/ResourceGroup/ResourceGroupContentItem")
    for i, item in enumerate(items):
        item.find("SequenceNumber").text = str(len(items) - i)
    return etree.tostring(root)


def test_track_order_follows_sequence_number(samples_dir: Path, xsd_dir: Path) -> None:
    from ddex_otel.ern import stream

    data = (samples_dir / A43).read_bytes()
    in_document_order = parse(data).releases[0].resource_refs
    renumbered = _renumbered(data)
    assert validate_against_schema(renumbered, xsd_dir) == []
    message = parse(renumbered)
    assert message.releases[0].resource_refs == tuple(reversed(in_document_order))
    streamed = [i for i in stream(renumbered) if type(i).__name__ == "Release"]
    assert streamed[0].resource_refs == message.releases[0].resource_refs
    assert canonical(build(message, "4.3")) == canonical(renumbered)  # unchanged: the source as it was


def test_nested_groups_order_by_their_sequence_numbers(samples_dir: Path) -> None:
    from ddex_otel.ern import stream

    root = etree.fromstring((samples_dir / A43).read_bytes())
    group = root.xpath("ReleaseList/Release/ResourceGroup")[0]
    items = group.findall("ResourceGroupContentItem")
    halves = (items[: len(items) // 2], items[len(items) // 2:])
    for seq, half in zip(("2", "1"), halves, strict=True):  # the first half becomes the second disc
        sub = etree.SubElement(group, "ResourceGroup")
        etree.SubElement(sub, "SequenceNumber").text = seq
        for item in half:
            sub.append(item)
    data = etree.tostring(root)
    refs = parse(data).releases[0].resource_refs
    first, second = [[i.findtext("ReleaseResourceReference") for i in h] for h in halves]
    assert refs == tuple(second + first)
    streamed = [i for i in stream(data) if type(i).__name__ == "Release"]
    assert streamed[0].resource_refs == refs


def test_comments_and_processing_instructions_are_not_values(samples_dir: Path) -> None:
    from ddex_otel.ern import stream

    data = (samples_dir / A43).read_bytes().decode()
    plain = parse(data.encode())
    party_id = plain.header.sender.party_ids[0]
    noisy = data.replace(f">{party_id}<", f"><!-- a note -->{party_id[:4]}<?pi x?>{party_id[4:]}<", 1)
    title = plain.releases[0].title
    noisy = noisy.replace(f"<DisplayTitleText>{title}</DisplayTitleText>",
                          f"<DisplayTitleText><!-- c -->{title}<!-- d --></DisplayTitleText>", 1)
    assert noisy != data
    message = parse(noisy.encode())
    assert message == plain
    assert message.header.sender.party_ids == (party_id,)
    assert [i for i in stream(noisy.encode()) if type(i).__name__ == "MessageHeader"][0] == plain.header


# ------------------------------------------------------------------------------ 5. richer model


def test_contributors_files_warnings_and_lines_are_read_in_4x_and_3x(samples_dir: Path) -> None:
    m43 = parse(samples_dir / A43)
    a1 = m43.resources[0]
    assert a1.parental_warning == "NoAdviceAvailable" and a1.p_line.year == "1994"
    assert [(c.name, c.party_reference, c.roles, c.sequence) for c in a1.contributors] == [
        ("Saeko Shu", "PSaekoShu", ("Artist",), 1)]
    assert [(t.reference, t.file_uri) for t in a1.technical_details] == [("T1", "0094631432057_01_001.wav")]
    classical = parse(samples_dir / "daddykev__Samples42_Variant_Classical.xml").resources[0]
    (file,) = classical.technical_details
    assert (file.file_uri, file.codec, file.hash, file.hash_algorithm) == (
        "resources/1.flac", "FLAC", "db7dd2f3bb9b322646e3f4d7b65b47ab", "MD5")
    m382 = parse(samples_dir / "miqwit__001_audioalbum_complete.xml")
    r = m382.resources[0]
    assert r.parental_warning == "NotExplicit" and r.p_line.text == "(P) 2010 Iron Crown Music"
    assert (r.contributors[0].name, r.contributors[0].roles) == ("Steve Albino", ("Producer",))
    assert r.technical_details[0].file_uri == "A1UCASE0000000401X_01_01.wav"
    assert m382.releases[0].parental_warning == "NotExplicit"
    as_json = m43.to_dict()["resources"][0]
    assert as_json["contributors"][0]["roles"] == ["Artist"] and as_json["technical_details"][0]["reference"] == "T1"


def test_display_genre_of_ern_431_is_the_genre() -> None:
    xml = b"""<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/431"><ReleaseList><Release>
      <ReleaseReference>R0</ReleaseReference>
      <DisplayGenre><GenreText>Jazz</GenreText><SubGenre>Bebop</SubGenre></DisplayGenre>
    </Release></ReleaseList></ern:NewReleaseMessage>"""
    (release,) = parse(xml).releases
    assert (release.genre, release.subgenre) == ("Jazz", "Bebop")


def test_edit_a_richer_field_is_written_in_place(samples_dir: Path, xsd_dir: Path) -> None:
    def change(m):  # type: ignore[no-untyped-def]
        res = dataclasses.replace(m.resources[0], parental_warning="Explicit",
                                  p_line=dataclasses.replace(m.resources[0].p_line, year="1995"))
        return dataclasses.replace(m, resources=(res, *m.resources[1:]))

    def by_hand(root: etree._Element) -> None:
        rec = _only(root, "ResourceList/SoundRecording")
        _only(rec, "ParentalWarningType").text = "Explicit"
        _only(rec, "SoundRecordingEdition/PLine/Year").text = "1995"

    data, built = _rebuild(samples_dir, xsd_dir, A43, change)
    assert canonical(built) == canonical(edited_source(data, by_hand))


def test_display_titles_and_artists_per_territory_and_deal_prices(samples_dir: Path) -> None:
    m = parse(samples_dir / A43)
    a1 = m.resources[0]
    assert [(t.text, t.territory, t.language, t.is_default) for t in a1.display_titles] == [
        ("Yume no Lullaby", "Worldwide", None, True), ("夢のララバイ", "Worldwide", "ja-Jpan", False)]
    assert [a.text for a in a1.display_artist_names] == ["Saeko Shu", "しゅうさえこ"]
    assert any(p.code == "AAAA" and p.code_namespace == "PADPIDA2013042401U" for d in m.deals for p in d.prices)
    old = parse(samples_dir / "miqwit__001_audioalbum_complete.xml").releases[0]
    assert old.display_titles and all(t.territory for t in old.display_titles)
    assert m.to_dict()["resources"][0]["display_titles"][1]["language"] == "ja-Jpan"


def test_a_regenerated_release_naming_a_new_artist_gets_its_party(samples_dir: Path, xsd_dir: Path) -> None:
    message = parse((samples_dir / A43).read_bytes())
    main = message.releases[0]
    edited = dataclasses.replace(main, resource_refs=tuple(reversed(main.resource_refs)), display_artist="New Artist")
    built = build(dataclasses.replace(message, releases=(edited, *message.releases[1:])), "4.3")
    assert validate_against_schema(built, xsd_dir) == []
    again = parse(built)
    assert again.releases[0].display_artist == "New Artist"
    assert [p.name for p in again.parties][-1] == "New Artist" and again.parties[:-1] == message.parties


def _converted(path: Path, version: str, xsd_dir: Path) -> tuple[etree._Element, etree._Element]:
    """(source, output) documents of ``path`` built at ``version``; the output is schema-valid."""
    data = path.read_bytes()
    built = build(parse(data), version)
    assert validate_against_schema(built, xsd_dir) == []
    return etree.fromstring(data), etree.fromstring(built)


def test_4x_to_382_carries_territory_details_parties_and_deal_terms(samples_dir: Path, xsd_dir: Path) -> None:
    """4.3 → 3.8.2, read with XPath from both documents: display titles and artists, P lines,
    parental warnings and technical details land in each recording's DetailsByTerritory, party
    references become the parties' names, the label reference its LabelName, use types a Usage."""
    source, out = _converted(samples_dir / A43, "3.8.2", xsd_dir)
    names = {p.findtext("PartyReference"): p.xpath("PartyName/FullName/text()") for p in source.iter("Party")}
    for rec in source.xpath("ResourceList/SoundRecording"):
        ref = rec.findtext("ResourceReference")
        (got,) = out.xpath(f"ResourceList/SoundRecording[ResourceReference='{ref}']")
        details = got.find("SoundRecordingDetailsByTerritory")
        assert details.findtext("TerritoryCode") == "Worldwide"
        assert details.xpath("Title[@TitleType='DisplayTitle']/TitleText/text()") == rec.xpath("DisplayTitle/TitleText/text()")
        assert details.xpath("DisplayArtistName/text()") == rec.xpath("DisplayArtistName/text()")
        assert details.xpath("DisplayArtist/PartyName/FullName/text()") == [
            name for r in rec.xpath("DisplayArtist/ArtistPartyReference/text()") for name in names[r]]
        assert details.xpath("ParentalWarningType/text()") == rec.xpath("ParentalWarningType/text()")
        assert details.xpath("PLine/PLineText/text()") == rec.xpath("SoundRecordingEdition/PLine/PLineText/text()")
        assert details.xpath("TechnicalSoundRecordingDetails/File/URL/text()") == rec.xpath(
            "SoundRecordingEdition/TechnicalDetails/DeliveryFile/File/URI/text()")
        assert got.xpath("SoundRecordingId/ISRC/text()") == rec.xpath("SoundRecordingEdition/ResourceId/ISRC/text()")
    (release,) = out.xpath("ReleaseList/Release[ReleaseReference='R0']")
    assert release.xpath("ReleaseDetailsByTerritory/LabelName/text()") == [
        names[r][0] for r in source.xpath("ReleaseList/Release/ReleaseLabelReference/text()")]
    assert release.xpath("ReleaseResourceReferenceList/ReleaseResourceReference/text()") == source.xpath(
        "ReleaseList/Release/ResourceGroup//ReleaseResourceReference/text()")
    assert len(out.xpath("ReleaseList/Release")) == len(source.xpath("ReleaseList/*"))
    assert sorted(out.xpath("DealList//DealTerms/Usage/UseType/text()")) == sorted(
        source.xpath("DealList//DealTerms/UseType/text()"))
    assert not out.xpath("PartyList")


def test_382_to_4x_makes_a_party_list_and_dissolves_territory_details(samples_dir: Path, xsd_dir: Path) -> None:
    """3.8.2 → 4.3: DetailsByTerritory elements move up with their territory; inline-named parties
    and the label become PartyList parties, referenced by name."""
    source, out = _converted(samples_dir / A382, "4.3", xsd_dir)
    parties = {p.findtext("PartyReference"): p.findtext("PartyName/FullName") for p in out.iter("Party")}
    (release,) = out.xpath("ReleaseList/Release")
    assert [parties[r] for r in release.xpath("ReleaseLabelReference/text()")] == source.xpath(
        "ReleaseList/Release/ReleaseDetailsByTerritory/LabelName/text()")
    assert [parties[r] for r in release.xpath("DisplayArtist/ArtistPartyReference/text()")] == source.xpath(
        "ReleaseList/Release/ReleaseDetailsByTerritory/DisplayArtist/PartyName/FullName/text()")
    assert release.xpath("DisplayTitle/TitleText/text()") == source.xpath(
        "ReleaseList/Release/ReleaseDetailsByTerritory/Title[@TitleType='DisplayTitle']/TitleText/text()")
    assert release.xpath("Genre/GenreText/text()") == source.xpath(
        "ReleaseList/Release/ReleaseDetailsByTerritory/Genre/GenreText/text()")
    assert release.xpath("Genre/@ApplicableTerritoryCode") == ["Worldwide"]
    assert release.xpath("ResourceGroup/ResourceGroupContentItem/ReleaseResourceReference/text()") == source.xpath(
        "ReleaseList/Release/ReleaseResourceReferenceList/ReleaseResourceReference/text()")
    (rec,) = out.xpath("ResourceList/SoundRecording")
    assert rec.xpath("SoundRecordingEdition/PLine/PLineText/text()") == source.xpath(
        "ResourceList/SoundRecording/SoundRecordingDetailsByTerritory/PLine/PLineText/text()")
    assert rec.xpath("SoundRecordingEdition/TechnicalDetails/DeliveryFile/AudioCodecType/text()") == ["FLAC"]
    assert sorted(out.xpath("DealList//DealTerms/UseType/text()")) == sorted(
        source.xpath("DealList//DealTerms/Usage/UseType/text()"))


def test_removed_attributes_are_reported(samples_dir: Path) -> None:
    """An attribute the target has no place for (4.3 DisplayTitle/@IsDefault in 3.8.2) is a
    ``ddex.build.dropped`` finding whose path is an XPath to that attribute in the source."""
    data = (samples_dir / A43).read_bytes()
    source = etree.fromstring(data)
    built = build(parse(data), "3.8.2")
    out = etree.fromstring(built)
    ns = {"ern": etree.QName(source).namespace}
    attrs = [f for f in built.findings if f.code == lossless.DROPPED and "/@" in f.path]
    is_default = [f for f in attrs if re.sub(r"\[\d+\]", "", f.path).endswith("/DisplayTitle/@IsDefault")]
    assert len(is_default) == len(source.xpath("//DisplayTitle[@IsDefault]")) > 0
    assert not out.xpath("//Title[@IsDefault]")
    for f in attrs:
        (value,) = source.getroottree().xpath(f.path, namespaces=ns)
        assert f"={str(value)!r}" in f.message and "ERN 3.8.2" in f.message


def test_cli_default_supplies_a_required_part(samples_dir: Path, tmp_path: Path, xsd_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A 3.8.2 release without a genre is refused as 4.3, naming ``--default Release/Genre=VALUE``;
    with that option it builds, schema-valid, with the genre given."""
    from ddex_otel.cli import main

    def drop_release_genre(root: etree._Element) -> None:
        for genre in root.xpath("ReleaseList/Release/ReleaseDetailsByTerritory/Genre"):
            genre.getparent().remove(genre)

    source = tmp_path / "no-genre.xml"
    source.write_bytes(edited_source((samples_dir / A382).read_bytes(), drop_release_genre))
    assert validate_against_schema(source.read_bytes(), xsd_dir) == []
    out = tmp_path / "out.xml"
    assert main(["build", str(source), "--version", "4.3", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--default Release/Genre=VALUE" in err and not out.exists()
    assert main(["build", str(source), "--version", "4.3", "-o", str(out), "--default", "Release/Genre=Folk"]) == 0
    assert validate_against_schema(out.read_bytes(), xsd_dir) == []
    assert etree.parse(str(out)).xpath("ReleaseList/Release/Genre/GenreText/text()") == ["Folk"]
    with pytest.raises(SystemExit):
        main(["build", str(source), "--default", "Genre"])
    assert "expected PATH=VALUE" in capsys.readouterr().err
