"""The builder on hand-made models: XSD-valid output, determinism, defaults, errors, stage contract."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from ddex_otel.ern import builder, validation
from ddex_otel.ern.builder import BuiltMessage, build
from ddex_otel.ern.errors import DDEXValidationError, UnsupportedVersionError
from ddex_otel.ern.model import Deal, Identifiers, Line, Message, MessageHeader, Party, ProprietaryId, Release, Resource
from ddex_otel.ern.schema import validate_against_schema

VERSIONS = ("4.3", "4.2", "4.1.1", "3.8.2")
NS = {"4.3": "43", "4.2": "42", "4.1.1": "411", "3.8.2": "382"}
SENDER = "PADPIDA2013042401U"


def message(**changes: object) -> Message:
    """An album with two tracks, cover art, a track release and three deals."""
    m = Message(
        ern_version="4.3",
        message_type="NewReleaseMessage",
        header=MessageHeader(
            message_id="MSG-1", thread_id="TH-1",
            sender=Party(party_ids=(SENDER,), name="Label & Co"),
            recipients=(Party(party_ids=("PADPIDA2009101501Y",), name="DSP"),),
            created="2024-05-01T10:00:00Z", control_type="LiveMessage",
        ),
        resources=(
            Resource(kind="SoundRecording", reference="A1", resource_type="MusicalWorkSoundRecording",
                     ids=Identifiers(isrc="USRC12345678", catalog_number="CAT-1",
                                     proprietary=(ProprietaryId(SENDER, "SR-1"),)),
                     title="Café <Live>", display_artist="Ünïcode Artist", duration=200.5),
            Resource(kind="SoundRecording", reference="A2", ids=Identifiers(isrc="USRC12345679"),
                     title="Second", duration=3723.0),
            Resource(kind="Image", reference="A3", resource_type="FrontCoverImage",
                     ids=Identifiers(proprietary=(ProprietaryId(SENDER, "IMG-1"),))),
        ),
        releases=(
            Release(kind="Release", reference="R0", release_type="Album",
                    ids=Identifiers(icpn="00094631432057", grid="A12425GABC1234002M", catalog_number="CAT-A"),
                    title="Album \"Quoted\"", display_artist="Ünïcode Artist", label="Label & Co", genre="Pop",
                    subgenre="Synth", release_date="2024-05", p_line=Line("2024", "(P) 2024 Label"),
                    c_line=Line(None, "(C) Label"), resource_refs=("A1", "A2", "A3")),
            Release(kind="TrackRelease", reference="R1", title="Café <Live>", label="Label & Co", genre="Pop",
                    ids=Identifiers(proprietary=(ProprietaryId(SENDER, "TR-1"),)), resource_refs=("A1",)),
        ),
        deals=(
            Deal(release_refs=("R0",), territories=("Worldwide",), commercial_model_types=("PayAsYouGoModel",),
                 use_types=("PermanentDownload",), start_date="2024-05-01"),
            Deal(release_refs=("R0",), excluded_territories=("US", "CA"), commercial_model_types=("SubscriptionModel",),
                 use_types=("OnDemandStream", "ConditionalDownload"), start_date="2024-05-01", end_date="2026-01-01"),
            Deal(release_refs=("R1",), territories=("DE",), commercial_model_types=("AdvertisementSupportedModel",),
                 use_types=("OnDemandStream",), start_date="2024-05-01T00:00:00", end_date="2024-12-31T23:59:59"),
        ),
    )
    return dataclasses.replace(m, **changes)


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def texts(root: etree._Element, path: str) -> list[str]:
    return [el.text for el in root.iterfind(path)]


# ---------------------------------------------------------------------------- schema validity


@pytest.mark.parametrize("version", VERSIONS)
def test_built_message_validates_against_the_official_xsd(version: str, xsd_dir: Path) -> None:
    data = build(message(), version)
    assert validate_against_schema(data, xsd_dir) == []
    assert etree.QName(tree(data)).namespace == f"http://ddex.net/xml/ern/{NS[version]}"


@pytest.mark.parametrize("version", VERSIONS)
def test_minimal_message_validates(version: str, xsd_dir: Path) -> None:
    minimal = message(
        resources=(Resource(kind="SoundRecording", reference="A1", title="T", display_artist="X", duration=0.0),),
        releases=(Release(kind="Release", reference="R1", title="T", display_artist="X", label="L", genre="G",
                          resource_refs=("A1",)),),
        deals=(),
    )
    built = build(minimal, version)
    assert validate_against_schema(built, xsd_dir) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_purge_message_validates(version: str, xsd_dir: Path) -> None:
    purge = message(message_type="PurgeReleaseMessage", resources=(), deals=(), releases=(),
                    purged_releases=(Release(kind="PurgedRelease", reference="", title="Gone",
                                      ids=Identifiers(icpn="00094631432057", catalog_number="C1")),))
    data = build(purge, version)
    assert validate_against_schema(data, xsd_dir) == []
    assert texts(tree(data), "PurgedRelease/ReleaseId/ICPN") == ["00094631432057"]


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("version", VERSIONS)
def test_output_is_deterministic(version: str) -> None:
    first = build(message(), version)
    assert build(message(), version) == first  # equal models built separately
    assert build(dataclasses.replace(message()), version) == first


def test_serialization_format() -> None:
    data = bytes(build(message(), "4.3"))
    lines = data.decode("utf-8").split("\n")
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1].startswith('<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43" '
                               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation=')
    assert lines[1].endswith('LanguageAndScriptCode="en" AvsVersionId="3">')
    assert lines[2] == "  <MessageHeader>" and lines[3] == "    <MessageThreadId>TH-1</MessageThreadId>"
    assert data.endswith(b"</ern:NewReleaseMessage>\n")
    assert "Café &lt;Live&gt;".encode() in data and b"Label &amp; Co" in data  # UTF-8, escaped


def test_built_message_is_bytes_with_findings() -> None:
    built = build(message(), "4.3")
    assert isinstance(built, bytes) and isinstance(built, BuiltMessage)
    # A2 has no display artist (derived from R0) and no type (defaulted): both said, never silent.
    assert [(f.severity, f.code, f.path) for f in built.findings] == [
        ("warning", "derived-value", "resources[1](A2).display_artist"),
        ("warning", "default-value", "resources[1](A2).resource_type"),
    ]


# ---------------------------------------------------------------------------- errors & levels


def test_errors_raise_with_every_finding() -> None:
    broken = message(header=MessageHeader(), deals=(Deal(release_refs=("R404",)),))
    with pytest.raises(DDEXValidationError) as info:
        build(broken)
    got = {(f.code, f.path) for f in info.value.findings}
    assert {("missing-field", "header.message_id"), ("missing-field", "header.created"),
            ("missing-field", "header.recipients"), ("dangling-reference", "deals[0].release_refs[0]")} <= got


def test_warnings_are_returned_not_silent() -> None:
    bad_icpn = message(releases=(dataclasses.replace(message().releases[0], ids=Identifiers(icpn="00094631432058")),
                                 message().releases[1]))
    built = build(bad_icpn, "4.3")
    assert [(f.severity, f.code) for f in built.findings if f.code == "bad-icpn"] == [("warning", "bad-icpn")]
    with pytest.raises(DDEXValidationError):
        build(bad_icpn, "4.3", validation="strict")


def test_validation_off_builds_without_checking() -> None:
    broken = message(header=MessageHeader(), releases=(Release(kind="Release", reference="R1"),), deals=())
    built = build(broken, "4.3", validation="off")
    assert built.findings == () and texts(tree(built), "MessageHeader/MessageId") == [None]


@pytest.mark.parametrize("version", ["3.8", "4.1", "4.3.1", "5.0", "", "banana"])
def test_unsupported_versions(version: str) -> None:
    with pytest.raises(UnsupportedVersionError) as info:
        build(message(), version)
    assert info.value.supported == ("4.3", "4.2", "4.1.1", "3.8.2")


@pytest.mark.parametrize("alias", ["43", "ern/43", "http://ddex.net/xml/ern/43"])
def test_version_aliases(alias: str) -> None:
    assert build(message(), alias) == build(message(), "4.3")


# ------------------------------------------------------------------------- what gets written


def test_4x_defaults_and_party_synthesis() -> None:
    root = tree(build(message(), "4.3"))
    assert texts(root, "PartyList/Party/PartyReference") == ["P1", "P2"]
    assert texts(root, "PartyList/Party/PartyName/FullName") == ["Ünïcode Artist", "Label & Co"]
    assert texts(root, "ResourceList/SoundRecording/DisplayArtist/ArtistPartyReference") == ["P1", "P1"]
    assert texts(root, "ResourceList/SoundRecording/DisplayArtistName") == ["Ünïcode Artist"] * 2  # A2 derived
    assert texts(root, "ResourceList/SoundRecording/Type") == ["MusicalWorkSoundRecording", "Unknown"]
    assert texts(root, "ReleaseList/Release/ReleaseLabelReference") == ["P2"]
    assert texts(root, "ReleaseList/TrackRelease/ReleaseLabelReference") == ["P2"]
    assert texts(root, "ReleaseList/Release/ParentalWarningType") == ["NoAdviceAvailable"]
    assert texts(root, "MessageHeader/MessageControlType") == ["LiveMessage"]
    assert texts(root, "ResourceList/SoundRecording/Duration") == ["PT3M20.5S", "PT1H2M3S"]
    assert texts(root, "ResourceList/SoundRecording/SoundRecordingEdition/ResourceId/CatalogNumber") == ["CAT-1"]
    assert root.find("ResourceList/SoundRecording/SoundRecordingEdition/ResourceId/CatalogNumber").get("Namespace") == SENDER
    assert texts(root, ".//ResourceGroupContentItem/ReleaseResourceReference") == ["A1", "A2", "A3"]
    # consecutive deals on the same releases share a ReleaseDeal
    assert [len(rd.findall("Deal")) for rd in root.iterfind("DealList/ReleaseDeal")] == [2, 1]
    assert texts(root, ".//Deal/DealTerms/ValidityPeriod/StartDateTime") == ["2024-05-01T00:00:00"]


def test_existing_parties_are_reused_and_new_references_avoid_them() -> None:
    parties = (Party(reference="P1", name="Someone Else"), Party(reference="PLabel", name="Label & Co"),
               Party(reference=None, party_ids=("0000000121032683",), name="From 3.x"))
    root = tree(build(message(parties=parties), "4.3"))
    assert texts(root, "PartyList/Party/PartyReference") == ["P1", "PLabel", "P2", "P3"]
    assert texts(root, "PartyList/Party/PartyName/FullName") == ["Someone Else", "Label & Co", "From 3.x", "Ünïcode Artist"]
    assert texts(root, "ReleaseList/Release/ReleaseLabelReference") == ["PLabel"]
    assert texts(root, "PartyList/Party/PartyId/ISNI") == ["0000000121032683"]


def test_3x_shape() -> None:
    root = tree(build(message(), "3.8.2"))
    assert root.get("MessageSchemaVersionId") == "ern/382"
    assert root.find("PartyList") is None
    releases = root.findall("ReleaseList/Release")
    assert [r.findtext("ReleaseReference") for r in releases] == ["R0", "R1"]
    assert [r.findtext("ReleaseType") for r in releases] == ["Album", "TrackRelease"]
    assert texts(root, "ReleaseList/Release/ReleaseDetailsByTerritory/LabelName") == ["Label & Co"] * 2
    assert texts(root, ".//DealTerms/Usage/UseType") == ["PermanentDownload", "OnDemandStream", "ConditionalDownload",
                                                         "OnDemandStream"]
    assert texts(root, "ResourceList/SoundRecording/SoundRecordingDetailsByTerritory/TerritoryCode") == ["Worldwide"] * 2


def test_values_a_version_lacks_become_user_defined(xsd_dir: Path) -> None:
    m = message(deals=(dataclasses.replace(message().deals[0], commercial_model_types=("AsPerContract",),
                                           use_types=("Unknown",)),))
    built = build(m, "4.3")
    cmt = tree(built).find(".//CommercialModelType")
    assert (cmt.text, cmt.get("UserDefinedValue")) == ("UserDefined", "AsPerContract")
    assert [f.path for f in built.findings if f.code == "user-defined-value"] == [
        "deals[0].commercial_model_types[0]", "deals[0].use_types[0]"]
    assert validate_against_schema(built, xsd_dir) == []
    assert tree(build(m, "4.1.1")).find(".//CommercialModelType").text == "AsPerContract"  # 4.1.1 has it


def test_4x_refuses_what_it_cannot_express() -> None:
    two_albums = message(releases=(message().releases[0], dataclasses.replace(message().releases[0], reference="R9")),
                         deals=())
    with pytest.raises(DDEXValidationError) as info:
        build(two_albums, "4.3")
    assert [f.code for f in info.value.findings if f.severity == "error"] == ["too-many-main-releases"]
    assert build(two_albums, "3.8.2")  # 3.x carries any number of releases


# --------------------------------------------------------------------------------- contract


def test_build_goes_through_the_stage_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_check, real_assemble, real_serialize = validation.check, builder.assemble, builder.serialize

    def check(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("validate")
        return real_check(*args, **kwargs)

    def assemble(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("assemble")
        return real_assemble(*args, **kwargs)

    def serialize(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("serialize")
        return real_serialize(*args, **kwargs)

    monkeypatch.setattr(validation, "check", check)
    monkeypatch.setattr(builder, "assemble", assemble)
    monkeypatch.setattr(builder, "serialize", serialize)
    build(message())
    assert calls == ["validate", "assemble", "serialize"]


def test_engine_never_imports_telemetry() -> None:
    code = ("import sys, ddex_otel.ern, ddex_otel.ern.builder, ddex_otel.ern.generator, ddex_otel.ern.schema;"
            "bad = [m for m in sys.modules if m.startswith('ddex_otel.telemetry')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------ the CLI


def test_cli_build_converts_and_reports_warnings(samples_dir: Path, tmp_path: Path, xsd_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    out = tmp_path / "out.xml"
    source = samples_dir / "AudiusProject__01_delivery.xml"
    assert main(["build", str(source), "--version", "4.3", "-o", str(out)]) == 0
    assert validate_against_schema(out, xsd_dir) == []
    err = capsys.readouterr().err.splitlines()
    assert all(line.startswith(f"ddex-otel: warning: {source}: ") for line in err)
    assert any("(bad-grid)" in line for line in err)
    # each part 4.3 requires and the source lacks is written as a default, and said so with its option
    defaults = [line for line in err if line.endswith("(default-value)")]
    assert any("'UserDefined' is written" in line and "--default Release/ReleaseType=VALUE" in line for line in defaults)
    assert any("'Unknown' is written" in line and "--default SoundRecording/Type=VALUE" in line for line in defaults)
    assert len(err) == 1 + len(defaults) + 1
    assert "values are not carried into ERN 4.3" in err[-1]  # the conversion's losses, summarised


def test_cli_build_writes_stdout_and_fails_with_every_error(samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    assert main(["build", str(samples_dir / "AudiusProject__03_delete.xml"), "--version", "3.8.2"]) == 0
    assert capsys.readouterr().out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<ern:PurgeReleaseMessage')
    assert main(["build", str(samples_dir / "miqwit__001_audioalbum_complete.xml")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    # Its placeholder party ids are errors for ERN 4.x (its empty <MessageId/> only a warning).
    assert [line.rsplit("(", 1)[-1] for line in captured.err.splitlines()] == ["bad-party-id)", "bad-party-id)"]


def test_cli_build_unsupported_version_is_one_line(samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    assert main(["build", str(samples_dir / "AudiusProject__03_delete.xml"), "--version", "3.7"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unsupported ERN version" in err


def test_clip_releases_are_43_only(xsd_dir: Path) -> None:
    clip = Release(kind="ClipRelease", reference="R2", label="Label & Co", genre="Pop", resource_refs=("A1",))
    m = message(releases=message().releases + (clip,))
    built = build(m, "4.3")
    assert validate_against_schema(built, xsd_dir) == []
    assert texts(tree(built), "ReleaseList/ClipRelease/ReleaseResourceReference") == ["A1"]
    for version in ("4.2", "4.1.1"):
        with pytest.raises(DDEXValidationError) as info:
            build(m, version)
        assert [(f.code, f.path) for f in info.value.findings if f.severity == "error"] == [
            ("unsupported-kind", "releases[2](R2).kind")]
    as_382 = build(m, "3.8.2")  # a Release there, with a warning
    assert validate_against_schema(as_382, xsd_dir) == []
    assert ("dropped-value", "releases[2](R2).kind") in {(f.code, f.path) for f in as_382.findings}
