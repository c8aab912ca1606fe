"""Every real sample parses, and the model holds what the XML says.

All expected values were read from the sample files by hand (grep / reading the XML), never
copied from the parser's output.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddex_otel.ern import Deal, Line, Message, Party, ProprietaryId, Release, Resource, parse, stream
from ddex_otel.ern.durations import format_duration, parse_duration

# file → (version, message type, MessageId, releases, resources, deals, parties)
# Counts: elements in ReleaseList (PurgedRelease: purged_releases), children of ResourceList, Deal elements,
# PartyList/Party (4.x) or distinct named parties (3.x), counted with grep on the files.
EXPECTED: dict[str, tuple[str, str, str | None, int, int, int, int]] = {
    "AudiusProject__01_delivery.xml": ("3.8.2", "NewReleaseMessage", "MessageID5678", 1, 2, 1, 4),
    "AudiusProject__03_delete.xml": ("3.8.2", "PurgeReleaseMessage", "MessageID5680", 0, 0, 0, 0),
    "daddykev__Samples42_1_Audio.xml": ("4.2", "NewReleaseMessage", "Test1.1", 22, 22, 3, 2),
    "daddykev__Samples42_2_Video.xml": ("4.2", "NewReleaseMessage", "test1", 3, 5, 1, 3),
    "daddykev__Samples42_5_SimpleVideoSingle.xml": ("4.2", "NewReleaseMessage", "W83751545", 1, 2, 3, 3),
    "daddykev__Samples42_8_DjMix.xml": ("4.2", "NewReleaseMessage", "", 1, 10, 1, 10),
    "daddykev__Samples42_Variant_Classical.xml": ("4.2", "NewReleaseMessage", "1234-1", 13, 13, 1, 7),
    "daddykev__Samples43_1_Audio.xml": ("4.3", "NewReleaseMessage", "Test1.1", 22, 22, 3, 2),
    "daddykev__Samples43_2_Video.xml": ("4.3", "NewReleaseMessage", "test1", 3, 5, 1, 3),
    "daddykev__Samples43_3_MixedMedia.xml": ("4.3", "NewReleaseMessage", "test1", 18, 22, 44, 3),
    "daddykev__Samples43_5_SimpleVideoSingle.xml": ("4.3", "NewReleaseMessage", "W83751545", 1, 2, 3, 3),
    "daddykev__Samples43_6_Ringtone.xml": ("4.3", "NewReleaseMessage", "W71543837", 1, 2, 140, 17),
    "daddykev__Samples43_7_LongformMusicalWorkVideo.xml": (
        "4.3", "NewReleaseMessage", "3000027906924_67385405006", 1, 16, 9, 4),
    "daddykev__Samples43_8_DjMix.xml": ("4.3", "NewReleaseMessage", "", 1, 10, 1, 10),
    "daddykev__Samples43_Variant_Classical.xml": ("4.3", "NewReleaseMessage", "1234-1", 13, 13, 1, 7),
    "miqwit__001_audioalbum_complete.xml": ("3.8.2", "NewReleaseMessage", "", 7, 7, 0, 5),
    "miqwit__015_ern411.xml": ("4.1.1", "NewReleaseMessage", "Test1.1", 22, 22, 3, 2),
    "miqwit__017_purged_release.xml": ("3.8.2", "PurgeReleaseMessage", "56779846", 0, 0, 0, 0),
}


def test_every_sample_parses_with_expected_shape(sample_path: Path) -> None:
    assert sample_path.name in EXPECTED, f"new sample {sample_path.name}: add its hand-read expectations"
    version, message_type, message_id, releases, resources, deals, parties = EXPECTED[sample_path.name]
    message = parse(sample_path)
    assert message.ern_version == version
    assert message.message_type == message_type
    assert message.header.message_id == message_id
    assert len(message.releases) == releases
    assert len(message.purged_releases) == (message_type == "PurgeReleaseMessage")
    assert len(message.resources) == resources
    assert len(message.deals) == deals
    assert len(message.parties) == parties


def test_every_sample_converts_to_plain_json_data(sample_path: Path) -> None:
    import json

    data = parse(sample_path).to_dict()
    assert json.loads(json.dumps(data)) == data


@pytest.fixture
def sample(samples_dir: Path):
    """``sample(name)`` → the parsed Message of one sample file."""
    cache: dict[str, Message] = {}

    def load(name: str) -> Message:
        if name not in cache:
            cache[name] = parse(samples_dir / name)
        return cache[name]

    return load


def _by_ref(items, reference):
    matches = [item for item in items if item.reference == reference]
    assert len(matches) == 1, f"{reference}: {len(matches)} matches"
    return matches[0]


# ------------------------------------------------------------------------------------- ERN 4.3


def test_43_audio_header(sample) -> None:
    header = sample("daddykev__Samples43_1_Audio.xml").header
    assert header.thread_id == "Test1"
    assert header.sender.party_ids == ("PADPIDA2013042401U",)
    assert header.sender.name == "UniversalMusicGroup"
    assert [r.name for r in header.recipients] == ["Sony DADC"]
    assert header.recipients[0].party_ids == ("PADPIDA2009101501Y",)
    assert header.created == "2014-09-24T14:57:25+01:00"
    assert header.control_type is None


def test_43_audio_album_release(sample) -> None:
    message = sample("daddykev__Samples43_1_Audio.xml")
    album = message.releases[0]
    assert (album.kind, album.reference, album.release_type) == ("Release", "R0", "Album")
    assert album.ids.icpn == "00094631432057"
    assert album.title == "Yume no Hajmari"  # DisplayTitleText, not the ja-Jpan DisplayTitle
    assert album.display_artist == "Saeko Shu"  # the IsDefault DisplayArtistName
    assert album.label == "EMI MUSIC JAPAN INC."  # ReleaseLabelReference PEMI → PartyList
    assert album.genre == "J-Pop"
    # 21 ResourceGroupContentItems; A22 (cover art) is a LinkedReleaseResourceReference, not a track.
    assert album.resource_refs == tuple(f"A{n}" for n in range(1, 22))


def test_43_audio_track_releases(sample) -> None:
    message = sample("daddykev__Samples43_1_Audio.xml")
    first = message.releases[1]
    assert (first.kind, first.reference) == ("TrackRelease", "R1")
    assert first.ids.proprietary == (ProprietaryId("PADPIDA2013042401U", "00094631432057_JPTO09404900_R1"),)
    assert first.resource_refs == ("A1",)
    assert first.title is None  # a TrackRelease without a DisplayTitle
    assert [r.kind for r in message.releases].count("TrackRelease") == 21


def test_43_audio_resources(sample) -> None:
    message = sample("daddykev__Samples43_1_Audio.xml")
    a1 = _by_ref(message.resources, "A1")
    assert (a1.kind, a1.resource_type) == ("SoundRecording", "MusicalWorkSoundRecording")
    assert a1.ids.isrc == "JPTO09404900"  # SoundRecordingEdition/ResourceId/ISRC
    assert a1.title == "Yume no Lullaby"
    assert a1.display_artist == "Saeko Shu"
    assert a1.duration == 148.0  # PT2M28S
    assert _by_ref(message.resources, "A7").duration == 69.0  # PT1M9S
    cover = _by_ref(message.resources, "A22")
    assert (cover.kind, cover.resource_type) == ("Image", "FrontCoverImage")
    assert cover.ids.proprietary == (ProprietaryId("PADPIDA2013042401U", "PACKSHOT:0094631432057"),)
    assert cover.duration is None


def test_43_audio_deals(sample) -> None:
    deals = sample("daddykev__Samples43_1_Audio.xml").deals
    first, second, album = deals
    assert first.release_refs == tuple(f"R{n}" for n in range(1, 22))
    assert first.territories == ("JP",)
    assert first.commercial_model_types == ("SubscriptionModel", "AdvertisementSupportedModel")
    assert first.use_types == ("ConditionalDownload", "Stream")
    assert first.start_date == "2004-04-01"
    assert first.end_date is None
    assert second.release_refs == first.release_refs  # same ReleaseDeal
    assert second.commercial_model_types == ("PayAsYouGoModel",)
    assert album.release_refs == ("R0",)


def test_43_mixed_media(sample) -> None:
    message = sample("daddykev__Samples43_3_MixedMedia.xml")
    bundle = message.releases[0]
    assert (bundle.release_type, bundle.ids.icpn, bundle.title) == ("Bundle", "05099907138655", "Einfach Anna!")
    assert bundle.display_artist == "Anna-Maria Zimmermann"
    assert bundle.label == "EMI"
    # Two component ResourceGroups (A1–A14, A15–A17) then a top-level content item (A22).
    assert bundle.resource_refs == tuple(f"A{n}" for n in range(1, 18)) + ("A22",)
    booklet = _by_ref(message.resources, "A22")
    assert (booklet.kind, booklet.resource_type) == ("Text", "NonInteractiveBooklet")
    assert booklet.ids.proprietary[0].value == "TEXT:5099907138655_00"
    assert _by_ref(message.resources, "A1").ids.isrc == "DEC610900439"
    first_deal = message.deals[0]
    assert first_deal.release_refs == ("R0",)
    assert first_deal.territories == ("AT", "CH", "DE")
    assert first_deal.use_types == (
        "PermanentDownload", "ConditionalDownload", "UserMakeAvailableLabelProvided", "UserMakeAvailableUserProvided"
    )
    r3 = [d for d in message.deals if d.release_refs == ("R3",)][0]
    assert (r3.start_date, r3.end_date) == ("2010-12-10", "2013-07-09")


def test_43_ringtone_picks_the_default_label(sample) -> None:
    release = sample("daddykev__Samples43_6_Ringtone.xml").releases[0]
    assert release.release_type == "RingtoneRelease"  # the first of two ReleaseTypes
    assert release.ids.grid == "A10302B0003814379B"
    assert release.ids.proprietary == (ProprietaryId("PADPIDA2007050901U", "USWB11700001"),)
    assert release.label == "Warner Bros./Nashville"  # IsDefault="true" PWN, not PW
    assert release.p_line.year == "2015"
    assert release.c_line == Line(
        "2016", "2016 Warner Music Nashville LLC and WEA International Inc.for the world outside the U.S."
    )
    assert release.resource_refs == ("A1",)


def test_43_dj_mix_original_release_date_and_empty_message_id(sample) -> None:
    message = sample("daddykev__Samples43_8_DjMix.xml")
    assert message.header.message_id == ""  # <MessageId/>: present, empty (None means absent)
    release = message.releases[0]
    assert release.release_date == "2017-01-02"  # OriginalReleaseDate (there is no ReleaseDate)
    assert release.label == "DubSetMedia"
    assert (release.genre, release.ids.icpn) == ("Nu Disco", "123123123123")
    assert release.p_line == Line("2017", "(P) 2017 Dubset Media")


def test_43_simple_video_entity_in_text(sample) -> None:
    release = sample("daddykev__Samples43_5_SimpleVideoSingle.xml").releases[0]
    assert release.genre == "R&B"  # R&amp;B
    assert release.title == "Been Waiting"
    assert release.label == "WM South Africa"


def test_43_longform_video(sample) -> None:
    message = sample("daddykev__Samples43_7_LongformMusicalWorkVideo.xml")
    release = message.releases[0]
    assert release.resource_refs == ("A16", "A15") + tuple(f"A{n}" for n in range(1, 14))
    concert = _by_ref(message.resources, "A16")
    assert concert.kind == "Video"
    assert concert.ids.isrc == "GBUV71200495"  # VideoEdition/ResourceId
    assert concert.duration == 50 * 60 + 37.0  # PT50M37S
    trailer = _by_ref(message.resources, "A15")
    assert trailer.title == "The Italian - Live In Concert (Trailer)"
    assert trailer.display_artist == "Patrizio Buanne"
    assert trailer.duration == 60.0  # PT1M
    assert release.label == "Universal Music Ltd."


def test_43_classical_nested_groups_and_display_title_text(sample) -> None:
    release = sample("daddykev__Samples43_Variant_Classical.xml").releases[0]
    assert release.title == "Antonio Vivaldi: The Four Seasons (Concertos for Violins and Strings)"
    assert release.display_artist == "The English Concert, Simon Standage, Trevor Pinnock"
    assert release.resource_refs == tuple(f"A{n}" for n in range(1, 13))  # four sub-groups
    assert release.label == "Deutsche Grammophon"
    assert release.c_line == Line("2003", "2003 Deutsche Grammphon")


# ------------------------------------------------------------------------------ ERN 4.2 / 4.1.1


def test_42_video(sample) -> None:
    message = sample("daddykev__Samples42_2_Video.xml")
    video = _by_ref(message.resources, "A1")
    assert (video.kind, video.resource_type) == ("Video", "ShortFormMusicalWorkVideo")
    assert video.ids.isrc == "DEMA61100471"  # ResourceId directly on the Video in 4.2
    assert video.title == "La Première Fois (Video 2D)"
    assert video.duration == 190.0  # PT3M10S
    assert message.releases[0].release_type == "VideoAlbum"
    assert message.releases[0].ids.icpn == "05099962136853"


def test_411_audio(sample) -> None:
    message = sample("miqwit__015_ern411.xml")
    assert _by_ref(message.resources, "A1").ids.isrc == "JPTO09404900"
    assert message.releases[0].title == "Yume no Hajmari"
    assert message.parties[0].reference == "PSaekoShu"
    assert message.parties[0].name == "Saeko Shu"  # the first PartyName, not the ja-Jpan one


# ------------------------------------------------------------------------------------ ERN 3.8.2


def test_382_audius_delivery(sample) -> None:
    message = sample("AudiusProject__01_delivery.xml")
    assert message.header.thread_id == "UniqueThreadID1234"
    assert message.header.sender.party_ids == ("PADPIDA1234567890",)
    assert message.header.recipients[0].name == "Tiki Labs, Inc."
    release = message.releases[0]
    assert (release.kind, release.reference) == ("Release", "RL1")
    assert release.ids.grid == "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0"
    assert release.title == "Example Album"  # TitleType="DisplayTitle", not ReferenceTitle "Example Album 123"
    assert release.display_artist == "DJ Theo"
    assert release.label == "Iron Crown Music"
    assert (release.genre, release.subgenre) == ("Metal", "Progressive Metal")
    assert release.release_date == "2010-01-01"
    assert release.resource_refs == ("A1", "A2")
    song = _by_ref(message.resources, "A1")
    assert song.ids.isrc == "USRC12345678"
    assert song.ids.proprietary == (ProprietaryId("PADPIDA1234567890", "2281606606"),)
    assert (song.title, song.display_artist, song.duration) == ("Example Song", "DJ Theo", 225.0)
    image = _by_ref(message.resources, "A2")
    assert (image.kind, image.resource_type) == ("Image", "FrontCoverImage")
    assert message.deals == (
        Deal(
            release_refs=("RL1",),
            territories=("Worldwide",),
            commercial_model_types=("FreeOfChargeModel",),
            use_types=("OnDemandStream", "PermanentDownload"),  # Usage/UseType
            start_date="2023-09-02",
        ),
    )
    # 3.x has no PartyList: named parties in document order (resource details first).
    assert [p.name for p in message.parties] == ["Label Name, Inc.", "Robert Louis", "Iron Crown Music", "DJ Theo"]


def test_382_album_with_track_releases(sample) -> None:
    message = sample("miqwit__001_audioalbum_complete.xml")
    album = message.releases[0]
    assert (album.reference, album.release_type, album.ids.grid) == ("R0", "Album", "A1UCASE0000000401X")
    assert album.title == "A Monkey Claw in a Velvet Glove"
    assert album.resource_refs == tuple(f"A{n}" for n in range(1, 8))  # ReleaseResourceReferenceList
    assert album.p_line == Line("2010", "(P) 2010 Iron Crown Music")
    assert album.c_line == Line("2010", "(C) 2010 Iron Crown Music")
    assert album.release_date == "2010-01-01"  # details ReleaseDate before GlobalOriginalReleaseDate
    track = message.releases[1]
    assert (track.release_type, track.ids.isrc) == ("TrackRelease", "CASE00000001")
    a1 = _by_ref(message.resources, "A1")
    assert a1.title == "Can you feel ...the Monkey Claw!"  # DisplayTitle, not the FormalTitle
    assert a1.duration == 13 * 60 + 31.0  # PT13M31S
    cover = _by_ref(message.resources, "A7")
    assert cover.ids.proprietary == (ProprietaryId("DPID:PADPIDA0000000001A", "PId0401"),)
    assert [p.name for p in message.parties] == [
        "Monkey Claw", "Second Artist", "Steve Albino", "Bob Black", "Iron Crown Music"
    ]
    assert all(p.reference is None for p in message.parties)


def test_382_purge_messages(sample) -> None:
    message = sample("miqwit__017_purged_release.xml")
    assert message.header.control_type == "TestMessage"
    assert message.header.created == "2023-01-12T21:45:10.345+01:00"
    (purged,) = message.purged_releases
    assert message.releases == ()
    assert (purged.kind, purged.reference) == ("PurgedRelease", "")
    assert (purged.ids.grid, purged.ids.icpn, purged.ids.catalog_number) == (
        "AxxxxxxxxxxxZ", "7665431654967", "46567987654"
    )
    assert purged.title == "Whoa"
    audius = sample("AudiusProject__03_delete.xml")
    assert audius.purged_releases[0].ids.grid == "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0"


# ------------------------------------------------------------------------- inputs and sources


def test_every_source_kind_gives_the_same_message(samples_dir: Path) -> None:
    path = samples_dir / "daddykev__Samples43_2_Video.xml"
    data = path.read_bytes()
    expected = parse(path)
    assert expected.header.message_id == "test1"
    for source in (str(path), data, bytearray(data), memoryview(data), io.BytesIO(data), data.decode("utf-8")):
        assert parse(source) == expected, type(source).__name__
    with open(path, "rb") as handle:
        assert parse(handle) == expected


def test_xml_text_with_leading_whitespace_and_declared_encoding(samples_dir: Path) -> None:
    text = (samples_dir / "daddykev__Samples43_2_Video.xml").read_text("utf-8")
    latin_declared = "\n  " + text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1)
    assert parse(latin_declared).header.message_id == "test1"


def test_utf8_bom_and_utf16_files_parse(samples_dir: Path, tmp_path: Path) -> None:
    text = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_text("utf-8")
    bom = tmp_path / "bom.xml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes(text.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1).encode("utf-16"))  # with BOM
    for path in (bom, utf16):
        message = parse(path)
        assert message.releases[0].title == "Yume no Hajmari"
        assert message.parties[0].name == "Saeko Shu"
        assert len(message.resources) == 22


@pytest.mark.parametrize(
    ("name", "namespace"),
    [("AudiusProject__01_delivery.xml", "382"), ("daddykev__Samples43_3_MixedMedia.xml", "43")],
)
def test_namespaced_children_are_tolerated(samples_dir: Path, name: str, namespace: str) -> None:
    """Some producers put every element in the ERN namespace (xmlns="…"); read them anyway."""
    text = (samples_dir / name).read_text("utf-8")
    uri = f"http://ddex.net/xml/ern/{namespace}"
    qualified = text.replace("<ern:NewReleaseMessage", f'<NewReleaseMessage xmlns="{uri}"', 1)
    qualified = qualified.replace("</ern:NewReleaseMessage>", "</NewReleaseMessage>")
    assert qualified != text and f'xmlns="{uri}"' in qualified
    expected = parse(text)
    assert parse(qualified) == expected
    streamed = list(stream(qualified))
    assert tuple(i for i in streamed if isinstance(i, Release)) == expected.releases
    assert tuple(i for i in streamed if isinstance(i, Resource)) == expected.resources
    assert tuple(i for i in streamed if isinstance(i, Deal)) == expected.deals
    assert tuple(i for i in streamed if isinstance(i, Party)) == expected.parties


_ERN43 = 'xmlns:ern="http://ddex.net/xml/ern/43"'


def test_excluded_territories_and_datetime_validity() -> None:
    xml = f"""<ern:NewReleaseMessage {_ERN43}><DealList><ReleaseDeal>
      <DealReleaseReference>R0</DealReleaseReference>
      <Deal><DealTerms>
        <TerritoryCode>Worldwide</TerritoryCode><ExcludedTerritoryCode>US</ExcludedTerritoryCode>
        <ExcludedTerritoryCode>CA</ExcludedTerritoryCode>
        <ValidityPeriod><StartDateTime>2024-01-01T00:00:00Z</StartDateTime>
          <EndDateTime>2024-12-31T23:59:59Z</EndDateTime></ValidityPeriod>
        <ValidityPeriod><StartDate>2030-01-01</StartDate></ValidityPeriod>
      </DealTerms></Deal>
      <Deal><IsCommunicatedOutOfBand>true</IsCommunicatedOutOfBand></Deal>
    </ReleaseDeal></DealList></ern:NewReleaseMessage>"""
    timed, out_of_band = parse(xml).deals
    assert timed.excluded_territories == ("US", "CA")
    assert (timed.start_date, timed.end_date) == ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z")  # first period
    assert out_of_band == Deal(release_refs=("R0",))


def test_unknown_resource_kinds_and_clip_releases_are_kept_in_order() -> None:
    xml = f"""<ern:NewReleaseMessage {_ERN43}>
      <ResourceList>
        <SoundRecording><ResourceReference>A1</ResourceReference><Duration>PT0.5S</Duration></SoundRecording>
        <FutureResource><ResourceReference>A2</ResourceReference><Type>Hologram</Type></FutureResource>
        <Image><ResourceReference>A3</ResourceReference></Image>
      </ResourceList>
      <ReleaseList>
        <ClipRelease><ReleaseReference>R9</ReleaseReference><ReleaseResourceReference>A1</ReleaseResourceReference>
          <DisplayTitle><TitleText>first</TitleText></DisplayTitle>
          <DisplayTitle IsDefault="true"><TitleText>default</TitleText></DisplayTitle></ClipRelease>
      </ReleaseList></ern:NewReleaseMessage>"""
    message = parse(xml)
    assert [(r.kind, r.reference) for r in message.resources] == [
        ("SoundRecording", "A1"), ("FutureResource", "A2"), ("Image", "A3")
    ]
    assert message.resources[0].duration == 0.5
    assert message.resources[1].resource_type == "Hologram"
    (clip,) = message.releases
    assert (clip.kind, clip.resource_refs, clip.title) == ("ClipRelease", ("A1",), "default")


def test_3x_details_prefer_worldwide() -> None:
    xml = """<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/382"><ReleaseList><Release>
      <ReleaseReference>R1</ReleaseReference>
      <ReferenceTitle><TitleText>Reference</TitleText></ReferenceTitle>
      <ReleaseDetailsByTerritory><TerritoryCode>DE</TerritoryCode><LabelName>Label DE</LabelName>
        <Title TitleType="DisplayTitle"><TitleText>Titel</TitleText></Title></ReleaseDetailsByTerritory>
      <ReleaseDetailsByTerritory><TerritoryCode>Worldwide</TerritoryCode><LabelName>Label WW</LabelName>
        <OriginalReleaseDate>1999-09-09</OriginalReleaseDate></ReleaseDetailsByTerritory>
      <GlobalOriginalReleaseDate>1990-01-01</GlobalOriginalReleaseDate>
    </Release></ReleaseList></ern:NewReleaseMessage>"""
    (release,) = parse(xml).releases
    assert release.label == "Label WW"
    assert release.title == "Reference"  # the Worldwide block has no DisplayTitle
    assert release.release_date == "1999-09-09"


# ------------------------------------------------------------------------------------ durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT3M20S", 200.0),
        ("PT1H2M21S", 3741.0),
        ("PT0.5S", 0.5),
        ("PT1H2M3.25S", 3723.25),
        ("P0Y0M0DT3M20S", 200.0),
        ("P1DT1S", 86401.0),
        ("PT1,5S", 1.5),
        (" PT3M ", 180.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "P", "PT", "P1DT", "3M20S", "PT3M20", "PTXS", "-PT3S"])
def test_parse_duration_rejects_invalid(text: str | None) -> None:
    assert parse_duration(text) is None


def test_format_duration_shapes() -> None:
    assert format_duration(200) == "PT3M20S"
    assert format_duration(0) == "PT0S"
    assert format_duration(3600) == "PT1H"
    assert format_duration(3661.5) == "PT1H1M1.5S"
    with pytest.raises(ValueError):
        format_duration(-1)
    with pytest.raises(ValueError):
        format_duration(math.inf)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_duration_round_trip_is_exact(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(0, 999), st.integers(0, 59), st.integers(0, 59))
def test_duration_components(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"PT{hours}H{minutes}M{seconds}S") == hours * 3600 + minutes * 60 + seconds
