"""``stream`` agrees with ``parse``, yields incrementally, fails typed, and keeps memory flat."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ddex_otel.ern import (
    Deal,
    MalformedXMLError,
    MessageHeader,
    Party,
    Release,
    Resource,
    StreamStart,
    TruncatedInputError,
    parse,
    stream,
    streaming,
)


def _split(items: list) -> dict[type, list]:
    out: dict[type, list] = {t: [] for t in (StreamStart, MessageHeader, Party, Resource, Release, Deal)}
    for item in items:
        out[type(item)].append(item)
    return out


def _assert_agrees(items: list, data_or_path) -> None:
    message = parse(data_or_path)
    kinds = _split(items)
    assert items[0] == StreamStart(ern_version=message.ern_version, message_type=message.message_type)
    assert kinds[StreamStart] == [items[0]]
    assert kinds[MessageHeader] == [message.header]
    assert tuple(kinds[Party]) == message.parties
    assert tuple(kinds[Resource]) == message.resources
    # stream yields a purge's PurgedRelease as a Release item; parse keeps it in purged_releases
    assert tuple(kinds[Release]) == message.releases + message.purged_releases
    assert tuple(kinds[Deal]) == message.deals


def test_stream_agrees_with_parse(sample_path: Path) -> None:
    _assert_agrees(list(stream(sample_path)), sample_path)


def test_stream_agrees_with_parse_in_tiny_chunks(sample_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk boundaries anywhere (inside tags, names, multi-byte characters) change nothing."""
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 61)
    _assert_agrees(list(stream(sample_path)), sample_path)


_FOREIGN = 'xmlns:x="urn:example:other"'


@pytest.mark.parametrize("name", ["daddykev__Samples43_3_MixedMedia.xml", "AudiusProject__01_delivery.xml"])
def test_elements_of_another_namespace_named_like_ours_change_nothing(samples_dir: Path, name: str) -> None:
    """The parser reports our names in any namespace; one of another namespace (a list child, a
    track-list entry, a deal reference) is read as ``parse`` reads it."""
    text = (samples_dir / name).read_text("utf-8")
    for tag in ("<ResourceList>", "<ReleaseList>", "<ResourceGroup>", "<ReleaseDeal>", "<PartyList>"):
        local = tag[1:-1]
        piece = {"ResourceGroup": "ResourceGroupContentItem", "ReleaseDeal": "DealReleaseReference",
                 "ResourceList": "SoundRecording", "ReleaseList": "Release", "PartyList": "Party"}[local]
        foreign = f"<x:{piece} {_FOREIGN}><x:{piece}>X</x:{piece}></x:{piece}>"
        text = text.replace(tag, tag + foreign, 1)
        text = text.replace(f"</{local}>", foreign + f"</{local}>", 1)
    data = text.encode("utf-8")
    assert data.count(b"urn:example:other") >= 6
    _assert_agrees(list(stream(data)), data)


def test_a_track_list_entry_with_two_sequence_numbers_sorts_alike(samples_dir: Path) -> None:
    """Schema-invalid but seen: an entry with a second SequenceNumber. ``parse`` and ``stream``
    both order it by its first (as ``extract.sequence_number`` reads a group's)."""
    text = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_text("utf-8")
    entry = "<SequenceNumber>2</SequenceNumber>"
    assert entry in text
    data = text.replace(entry, entry + "<SequenceNumber>0</SequenceNumber>", 1).encode("utf-8")
    message = parse(data)
    assert message.releases[0].resource_refs[:3] == ("A1", "A2", "A3")
    _assert_agrees(list(stream(data)), data)


def test_items_come_in_document_order(samples_dir: Path) -> None:
    items = list(stream(samples_dir / "daddykev__Samples43_1_Audio.xml"))
    order = [type(i).__name__ for i in items]
    assert order[:2] == ["StreamStart", "MessageHeader"]
    assert order == sorted(order, key=["StreamStart", "MessageHeader", "Party", "Resource", "Release", "Deal"].index)
    assert order.count("Resource") == 22 and order.count("Release") == 22 and order.count("Deal") == 3


def test_4x_resources_releases_and_deals_stream_lazily_as_their_model_class(samples_dir: Path) -> None:
    from ddex_otel.ern.lazy import is_pending

    items = list(stream(samples_dir / "daddykev__Samples43_1_Audio.xml"))  # read after the stream ended
    lazy = [i for i in items if isinstance(i, (Resource, Release, Deal))]
    assert lazy and all(is_pending(i) for i in lazy)
    assert not any(is_pending(i) for i in items if isinstance(i, (Party, MessageHeader)))
    kinds = {Resource: "Resource", Release: "Release", Deal: "Deal"}
    for item in lazy:  # seen as its model class by type equality, name and dict lookups, unread
        assert type(item) in kinds and kinds[type(item)] == type(item).__name__
        assert type(item) == next(cls for cls in kinds if isinstance(item, cls))  # noqa: E721 - == is under test
        assert is_pending(item)
    message = parse(samples_dir / "daddykev__Samples43_1_Audio.xml")
    resources = [i for i in lazy if isinstance(i, Resource)]
    assert [r.title for r in resources] == [r.title for r in message.resources]
    assert all(type(r) is Resource and not is_pending(r) for r in resources)


def test_3x_items_stream_eagerly(samples_dir: Path) -> None:
    from ddex_otel.ern.lazy import is_pending

    items = list(stream(samples_dir / "AudiusProject__01_delivery.xml"))
    assert items[0].ern_version.startswith("3.")
    assert any(isinstance(i, Resource) for i in items)
    assert not any(is_pending(i) for i in items)


def test_3x_named_parties_come_before_the_item_naming_them(samples_dir: Path) -> None:
    items = list(stream(samples_dir / "AudiusProject__01_delivery.xml"))
    names = [(type(i).__name__, getattr(i, "name", None) or getattr(i, "reference", None)) for i in items[2:]]
    assert names == [
        ("Party", "Label Name, Inc."),
        ("Party", "Robert Louis"),
        ("Resource", "A1"),
        ("Resource", "A2"),
        ("Party", "Iron Crown Music"),
        ("Party", "DJ Theo"),
        ("Release", "RL1"),
        ("Deal", None),
    ]


def test_stream_accepts_every_source_kind(samples_dir: Path) -> None:
    path = samples_dir / "daddykev__Samples43_2_Video.xml"
    data = path.read_bytes()
    expected = list(stream(path))
    assert len(expected) == 14
    for source in (str(path), data, bytearray(data), io.BytesIO(data), data.decode("utf-8")):
        assert list(stream(source)) == expected


def test_open_input_is_the_stage_and_counts_bytes(samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``stream`` calls ``open_input`` through the module global (the telemetry hook)."""
    path = samples_dir / "daddykev__Samples43_3_MixedMedia.xml"
    opened: list[streaming.StreamInput] = []
    real = streaming.open_input

    def spy(source):
        opened.append(real(source))
        return opened[-1]

    monkeypatch.setattr(streaming, "open_input", spy)
    list(stream(path))
    (inp,) = opened
    assert inp.path == str(path)
    assert inp.bytes_read == path.stat().st_size
    assert inp._handle.closed  # opened by stream, so closed by it


def test_callers_file_is_left_open(samples_dir: Path) -> None:
    with open(samples_dir / "daddykev__Samples43_2_Video.xml", "rb") as handle:
        list(stream(handle))
        assert not handle.closed


def _collect_until_error(source) -> tuple[list, Exception]:
    items = []
    with pytest.raises(Exception) as info:  # the type is checked by the caller
        for item in stream(source):
            items.append(item)
    return items, info.value


def test_error_mid_stream_comes_after_the_valid_items(samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 4096)
    data = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()
    broken_line = data[: data.index(b"<DealList>")].count(b"\n") + 1
    broken = data.replace(b"<DealList>", b"<DealList><oops></DealList>", 1)
    items, error = _collect_until_error(broken)
    assert type(error) is MalformedXMLError
    assert error.line == broken_line
    kinds = _split(items)
    assert len(kinds[Resource]) == 22 and len(kinds[Release]) == 22  # everything before the error
    assert kinds[Deal] == []


def test_truncated_stream_yields_what_was_complete(samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 4096)
    data = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()
    cut = data.index(b"<ResourceReference>A12<")
    items, error = _collect_until_error(data[:cut])
    assert isinstance(error, TruncatedInputError)
    assert [r.reference for r in _split(items)[Resource]] == [f"A{n}" for n in range(1, 12)]  # A12 is cut


class _Unseekable(io.RawIOBase):
    """A caller's file object that can be read once only (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("chunk_size", [4096, 4095])
def test_errors_at_the_end_are_placed_alike_for_every_input_kind(
    samples_dir: Path, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    """Where the input ends is counted as it is read (a caller's file object) or read again on the
    error path (bytes, a path): the same error either way, UTF-16 included (chunks after the first
    carry no byte-order mark; an odd chunk size starts some of them inside a code unit)."""
    monkeypatch.setattr(streaming, "CHUNK_SIZE", chunk_size)
    data = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()
    utf16 = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1).encode("utf-16")
    for whole in (data, utf16):
        for cut in (whole[: len(whole) // 3 * 2], whole[: len(whole) - 40]):  # (even: whole UTF-16 units)
            errors = [_collect_until_error(source)[1] for source in (cut, _Unseekable(cut))]
            assert all(isinstance(error, TruncatedInputError) for error in errors), errors
            assert len({(error.line, error.column) for error in errors}) == 1, errors
    malformed = data.replace(b"</DealList>", b"</DealLis>", 1)
    errors = [_collect_until_error(source)[1] for source in (malformed, _Unseekable(malformed))]
    assert all(type(error) is MalformedXMLError for error in errors), errors


def test_every_cut_of_every_sample_is_truncated_and_yields_only_whole_items(
    sample_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut anywhere, a stream raises ``TruncatedInputError`` after yielding only items that the
    whole message yields too, in the same order: never an item built from a cut element."""
    monkeypatch.setattr(streaming, "CHUNK_SIZE", 4096)
    data = sample_path.read_bytes()
    whole = list(stream(data))
    start = data.index(b"Message")
    cuts = range(start + 20, len(data.rstrip()) - 1, max(1, len(data) // 29))
    assert len(cuts) >= 20
    for cut in cuts:
        items, error = _collect_until_error(data[:cut])
        assert isinstance(error, TruncatedInputError), cut
        assert items == whole[: len(items)], f"cut at byte {cut} yielded an item the whole message does not"


# ----------------------------------------------------------------------------- flat memory


def write_ern43(path: Path, tracks: int) -> int:
    """A schema-shaped ERN 4.3 message: one album of ``tracks`` tracks plus a TrackRelease per track
    (the shape that stresses a streamer most: one huge Release and one huge ReleaseDeal)."""
    ns = "http://ddex.net/xml/ern/43"
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ern:NewReleaseMessage xmlns:ern="{ns}">\n'
            "<MessageHeader><MessageId>GEN-1</MessageId><MessageSender><PartyId>PADPIDA0000000001S</PartyId>"
            "</MessageSender><MessageCreatedDateTime>2024-01-01T00:00:00Z</MessageCreatedDateTime></MessageHeader>\n"
            "<PartyList><Party><PartyReference>PL</PartyReference><PartyName><FullName>Label</FullName>"
            "</PartyName></Party></PartyList>\n<ResourceList>\n"
        )
        for batch in range(0, tracks, 1000):
            out.write("".join(
                f"<SoundRecording><ResourceReference>A{n}</ResourceReference><Type>MusicalWorkSoundRecording</Type>"
                f"<SoundRecordingEdition><ResourceId><ISRC>USX9P24{n:05d}</ISRC></ResourceId></SoundRecordingEdition>"
                f"<DisplayTitleText>Track number {n} of the big album</DisplayTitleText>"
                f"<DisplayTitle><TitleText>Track number {n} of the big album</TitleText></DisplayTitle>"
                "<DisplayArtistName>Generated Artist</DisplayArtistName><Duration>PT3M20S</Duration>"
                "</SoundRecording>\n" for n in range(batch, min(batch + 1000, tracks))))
        out.write("</ResourceList>\n<ReleaseList>\n<Release><ReleaseReference>R0</ReleaseReference>"
                  "<ReleaseType>Album</ReleaseType><ReleaseId><ICPN>0000000000000</ICPN></ReleaseId>"
                  "<DisplayTitleText>Big</DisplayTitleText><ReleaseLabelReference>PL</ReleaseLabelReference>"
                  "<ResourceGroup>\n")
        for batch in range(0, tracks, 1000):
            out.write("".join(
                f"<ResourceGroupContentItem><SequenceNumber>{n + 1}</SequenceNumber>"
                f"<ReleaseResourceReference>A{n}</ReleaseResourceReference></ResourceGroupContentItem>\n"
                for n in range(batch, min(batch + 1000, tracks))))
        out.write("</ResourceGroup></Release>\n")
        for batch in range(0, tracks, 1000):
            out.write("".join(
                f"<TrackRelease><ReleaseReference>T{n}</ReleaseReference><ReleaseId><ProprietaryId Namespace="
                f'"PADPIDA0000000001S">TR{n}</ProprietaryId></ReleaseId><ReleaseResourceReference>A{n}'
                "</ReleaseResourceReference><ReleaseLabelReference>PL</ReleaseLabelReference>"
                "<Genre><GenreText>Pop</GenreText></Genre></TrackRelease>\n"
                for n in range(batch, min(batch + 1000, tracks))))
        out.write("</ReleaseList>\n<DealList><ReleaseDeal>")
        for batch in range(0, tracks, 1000):
            out.write("".join(f"<DealReleaseReference>T{n}</DealReleaseReference>\n"
                              for n in range(batch, min(batch + 1000, tracks))))
        out.write("<Deal><DealTerms><TerritoryCode>Worldwide</TerritoryCode><ValidityPeriod><StartDate>2024-01-01"
                  "</StartDate></ValidityPeriod><CommercialModelType>SubscriptionModel</CommercialModelType>"
                  "<UseType>OnDemandStream</UseType></DealTerms></Deal></ReleaseDeal></DealList>\n"
                  "</ern:NewReleaseMessage>\n")
    return path.stat().st_size


def test_local_generator_output_agrees(tmp_path: Path) -> None:
    path = tmp_path / "small.xml"
    write_ern43(path, 30)
    message = parse(path)
    assert (len(message.resources), len(message.releases), len(message.deals)) == (30, 31, 1)
    assert message.releases[0].resource_refs == tuple(f"A{n}" for n in range(30))
    assert message.deals[0].release_refs == tuple(f"T{n}" for n in range(30))
    _assert_agrees(list(stream(path)), path)


_CHILD = textwrap.dedent(
    """
    import sys
    from ddex_otel.ern import stream, Release, Resource, Deal
    counts = {"Resource": 0, "Release": 0, "refs": 0, "deal_refs": 0}
    for item in stream(sys.argv[1]):
        name = type(item).__name__
        if name in counts:
            counts[name] += 1
        if isinstance(item, Release) and item.reference == "R0":
            counts["refs"] = len(item.resource_refs)
        if isinstance(item, Deal):
            counts["deal_refs"] += len(item.release_refs)
    print(counts["Resource"], counts["Release"], counts["refs"], counts["deal_refs"])
    """
)
_LAUNCHER = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]], capture_output=True, text=True, check=True)
    print(done.stdout.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


def _stream_in_child(path: Path) -> tuple[list[int], float]:
    """Stream ``path`` in a fresh child process; (its counts, its peak RSS in MiB).

    The launcher's only child is the streaming process, so RUSAGE_CHILDREN is exactly its peak.
    """
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, _CHILD, str(path)], capture_output=True, text=True, check=True, timeout=600
    )
    *counts, peak_kib = done.stdout.split()
    return [int(c) for c in counts], int(peak_kib) / 1024


@pytest.mark.slow
def test_streaming_memory_stays_flat(tmp_path: Path) -> None:
    small, big = tmp_path / "small.xml", tmp_path / "big.xml"
    small_tracks, big_tracks = 5_200, 52_000
    write_ern43(small, small_tracks)
    assert write_ern43(big, big_tracks) > 48 * 1024 * 1024  # ~50 MB
    small_counts, small_peak = _stream_in_child(small)
    big_counts, big_peak = _stream_in_child(big)
    assert small_counts == [small_tracks, small_tracks + 1, small_tracks, small_tracks]
    assert big_counts == [big_tracks, big_tracks + 1, big_tracks, big_tracks]
    assert big_peak < 150
    # Ten times the input must not mean noticeably more memory (parse would need ~10× as much).
    assert big_peak - small_peak < 20, (small_peak, big_peak)


def test_track_list_sorts_like_parse_only_when_out_of_order() -> None:
    """The streamer's compact track list gives what ``extract.sort_keyed_refs`` gives (stable, exact)."""
    from lxml import etree

    from ddex_otel.ern.extract import sort_keyed_refs

    inf, big = float("inf"), 2**60
    entries = [((), 3, ["A3"]), ((), 1, ["A1", "A1b"]), ((2,), 1, ["B1"]), ((1,), inf, ["C9"]),
               ((1,), 5, ["C5"]), ((), 1, ["A1c"]), ((), big + 1, ["Z2"]), ((), big, ["Z1"]), ((), 2, [])]

    def entry(seq: float, refs: list[str]) -> etree._Element:
        number = "" if seq == inf else f"<SequenceNumber>{seq}</SequenceNumber>"
        linked = "<LinkedReleaseResourceReference>L</LinkedReleaseResourceReference>"
        refs_xml = "".join(f"<ReleaseResourceReference> {ref} </ReleaseResourceReference>" for ref in refs)
        return etree.fromstring(f"<ResourceGroupContentItem>{number}{refs_xml}{linked}</ResourceGroupContentItem>")

    tracks = streaming._TrackList(etree.Element("Release"))
    for path, seq, refs in entries:
        tracks.group_path = path
        tracks.take(entry(seq, refs))
    expected = [ref for _, refs in sort_keyed_refs([((*p, s), r) for p, s, r in entries]) for ref in refs]
    assert not tracks.ordered and tracks.references() == expected
    assert expected.index("Z1") < expected.index("Z2")  # 2**60 and 2**60 + 1: one float, kept apart

    in_order = streaming._TrackList(etree.Element("Release"))
    in_order.group_path = (1,)
    for n in range(5):
        in_order.take(entry(n, [f"A{n}"]))
    assert in_order.ordered and in_order.references() is in_order.refs == [f"A{n}" for n in range(5)]
