"""``stream`` and ``parse`` agree item by item on generated messages of every version, and the
values they share are the right ones.

``stream`` and ``parse`` call the same extraction functions, so agreement alone cannot catch a
wrong extractor: the field-level checks below pin known values of a real sample and of the
generator's output (titles, ISRCs, durations, contributors, display titles with territories).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ddex_otel.ern import (
    Deal,
    Line,
    MessageHeader,
    Party,
    Release,
    Resource,
    StreamStart,
    parse,
    stream,
    streaming,
)
from ddex_otel.ern.generator import generate_message
from ddex_otel.ern.model import Contributor, Localized

VERSIONS = ("4.3", "4.2", "4.1.1", "3.8.2")
SHAPES = ((1, 1, 0), (3, 10, 1), (2, 40, 7))  # (releases, tracks per release, seed)


def _expected_items(data: bytes) -> list[tuple[str, dict]]:
    """What ``stream`` must yield, built from ``parse`` (every field read through ``to_dict``)."""
    message = parse(data)
    start = StreamStart(ern_version=message.ern_version, message_type=message.message_type)
    objects = [start, message.header, *message.parties, *message.resources, *message.releases,
               *message.purged_releases, *message.deals]
    read = [obj.to_dict() for obj in objects]  # first: a lazy object is of its model class once read
    return [(type(obj).__name__, fields) for obj, fields in zip(objects, read, strict=True)]


def _streamed_items(data: bytes) -> list[tuple[str, dict]]:
    """``stream``'s items grouped as ``parse`` groups them (3.x parties come interleaved)."""
    order = (StreamStart, MessageHeader, Party, Resource, Release, Deal)
    items = list(stream(data))
    items.sort(key=lambda item: order.index(type(item)))  # stable: document order within a kind
    return [(type(item).__name__, item.to_dict()) for item in items]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("releases", "tracks", "seed"), SHAPES)
def test_generated_messages_stream_as_they_parse(version: str, releases: int, tracks: int, seed: int) -> None:
    data = generate_message(releases=releases, tracks_per_release=tracks, version=version, seed=seed)
    expected = _expected_items(data)
    streamed = _streamed_items(data)
    assert len(streamed) == len(expected)
    for got, want in zip(streamed, expected, strict=True):
        assert got == want


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_messages_stream_the_same_in_tiny_chunks(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items and track-list entries split across parser batches change nothing."""
    data = generate_message(releases=2, tracks_per_release=25, version=version, seed=3)
    expected = _streamed_items(data)
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 97)
    assert _streamed_items(data) == expected


def _of(items: list, kind: type, reference: str):
    (found,) = [item for item in items if isinstance(item, kind) and item.reference == reference]
    return found


def test_streamed_sample_values(samples_dir: Path) -> None:
    """Known values of daddykev__Samples42_1_Audio.xml, read from the file by hand."""
    items = list(stream(samples_dir / "daddykev__Samples42_1_Audio.xml"))
    a1 = _of(items, Resource, "A1")
    assert (a1.kind, a1.resource_type, a1.ids.isrc) == ("SoundRecording", "MusicalWorkSoundRecording", "JPTO09404900")
    assert (a1.title, a1.display_artist, a1.duration) == ("Yume no Lullaby", "Saeko Shu", 148.0)  # PT2M28S
    assert a1.parental_warning == "NoAdviceAvailable"
    assert a1.p_line == Line("1994", "(P) 1994 EMI Music Japan Inc.")
    assert a1.contributors == (Contributor(name="Saeko Shu", party_reference="PSaekoShu", roles=("Artist",), sequence=1),)
    assert a1.display_titles == (
        Localized("Yume no Lullaby", territory="Worldwide", language=None, is_default=True),
        Localized("夢のララバイ", territory="Worldwide", language="ja-Jpan", is_default=False),
    )
    assert a1.display_artist_names == (
        Localized("Saeko Shu", territory="Worldwide", language="ja-Latn", is_default=True),
        Localized("しゅうさえこ", territory="Worldwide", language="ja-Jpan", is_default=False),
    )
    assert [t.file_uri for t in a1.technical_details] == ["0094631432057_01_001.wav"]
    album = _of(items, Release, "R0")
    assert (album.release_type, album.title, album.display_artist) == ("Album", "Yume no Hajmari", "Saeko Shu")
    assert [(t.text, t.language, t.is_default) for t in album.display_titles] == [
        ("Yume no Hajmari", None, True), ("夢のはじまり", "ja-Jpan", False), ("ﾕﾒﾉﾊｼﾞﾏﾘ", "ja-Kana", False)
    ]
    assert {t.territory for t in album.display_titles} == {"Worldwide"}


def test_streamed_generated_values() -> None:
    """The generator's first track and releases (seed 0), 4.3 and 3.8.2."""
    items = list(stream(generate_message(releases=2, tracks_per_release=3, version="4.3", seed=0)))
    a1 = _of(items, Resource, "A1")
    assert (a1.ids.isrc, a1.title, a1.display_artist, a1.duration) == ("BRPB03300000", "River Café Ghost",
                                                                       "Static Band 1", 412.0)  # PT6M52S
    assert a1.display_titles == (Localized("River Café Ghost"),)
    assert a1.display_artist_names == (Localized("Static Band 1"),)
    album = _of(items, Release, "R0")
    assert (album.title, album.label, album.genre, album.release_date) == ("Ghost", "Synthetic Records", "Classical",
                                                                          "2024-01-01")
    assert album.resource_refs == tuple(f"A{n}" for n in range(1, 7))
    assert album.p_line == Line("2024", "(P) 2024 Synthetic Records")
    track = _of(items, Release, "R1")
    assert (track.kind, track.resource_refs, track.label, track.title) == ("TrackRelease", ("A1",),
                                                                           "Synthetic Records", None)
    assert [(p.namespace, p.value) for p in track.ids.proprietary] == [("PADPIDA8764759382S", "TR1")]

    legacy = list(stream(generate_message(releases=2, tracks_per_release=3, version="3.8.2", seed=0)))
    a1 = _of(legacy, Resource, "A1")
    assert (a1.ids.isrc, a1.title, a1.duration) == ("BRPB03300000", "River Café Ghost", 412.0)
    assert a1.display_titles == (Localized("River Café Ghost", territory="Worldwide"),)
    r2 = _of(legacy, Release, "R2")
    assert (r2.title, r2.display_artist, r2.genre, r2.resource_refs) == ("Static Señorita", "Über Über Señorita Band 2",
                                                                         "Rock", ("A4", "A5", "A6"))


_ONE_EACH = """<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43"><ResourceList>
  <SoundRecording><ResourceReference> A1 </ResourceReference><Type>MusicalWorkSoundRecording</Type>
    <SoundRecordingEdition><ResourceId><ISRC>DEX000000001</ISRC></ResourceId>
      <PLine><Year>2001</Year><PLineText>(P) 2001 X</PLineText></PLine></SoundRecordingEdition>
    <DisplayTitleText>Lied</DisplayTitleText>
    <DisplayTitle ApplicableTerritoryCode="DE" LanguageAndScriptCode="de" IsDefault="true"><TitleText> Das Lied </TitleText></DisplayTitle>
    <DisplayArtistName ApplicableTerritoryCode="" LanguageAndScriptCode="de-Latn">Die Band</DisplayArtistName>
    <Duration>P0DT1H0M1.5S</Duration></SoundRecording>
  <SoundRecording><ResourceReference>A2</ResourceReference>
    <DisplayTitleText ApplicableTerritoryCode="AT">Only Text</DisplayTitleText><DisplayTitle><TitleText/></DisplayTitle>
    <DisplayArtistName>  </DisplayArtistName></SoundRecording>
</ResourceList><ReleaseList>
  <TrackRelease><ReleaseReference>R1</ReleaseReference><ReleaseResourceReference>A1</ReleaseResourceReference>
    <DisplayTitle ApplicableTerritoryCode="CH"><TitleText>Das Lied (CH)</TitleText></DisplayTitle>
    <Genre><SubGenre>Sub</SubGenre><GenreText>Pop</GenreText><GenreText>Rock</GenreText></Genre></TrackRelease>
</ReleaseList></ern:NewReleaseMessage>"""


def test_lone_localized_elements_keep_their_attributes() -> None:
    """One DisplayTitle / DisplayTitleText / DisplayArtistName each (the usual case): territory,
    language and IsDefault come through; blank texts and empty attributes read as None."""
    for items in (list(stream(_ONE_EACH)), [*parse(_ONE_EACH).resources, *parse(_ONE_EACH).releases]):
        a1 = _of(items, Resource, "A1")
        assert (a1.title, a1.display_artist, a1.duration, a1.ids.isrc) == ("Lied", "Die Band", 3601.5, "DEX000000001")
        assert a1.display_titles == (Localized("Das Lied", territory="DE", language="de", is_default=True),)
        assert a1.display_artist_names == (Localized("Die Band", territory=None, language="de-Latn"),)
        assert a1.p_line == Line("2001", "(P) 2001 X")
        a2 = _of(items, Resource, "A2")
        assert (a2.title, a2.display_artist, a2.resource_type, a2.duration) == ("Only Text", None, None, None)
        assert a2.display_titles == (Localized("Only Text", territory="AT"),)
        assert a2.display_artist_names == ()
        r1 = _of(items, Release, "R1")
        assert (r1.title, r1.genre, r1.subgenre, r1.resource_refs) == ("Das Lied (CH)", "Pop", "Sub", ("A1",))
        assert r1.display_titles == (Localized("Das Lied (CH)", territory="CH"),)
