"""Synthetic, schema-valid ERN messages of any size, for load tests and benchmarks.

The XML is written as text, track by track, straight to the output: a 1 GB message never exists
in memory (``write_message``). Every value is escaped; identifiers are valid (ISRC shape, ICPN
and GRid check characters); the same arguments and ``seed`` always give the same bytes (the
creation time is a fixed constant, not the clock).

Shape. ERN 3.8.2: ``releases`` Releases (albums) of ``tracks_per_release`` SoundRecordings each,
one ReleaseDeal per album. ERN 4.x allows only one main Release per message, so there the
``releases`` × ``tracks_per_release`` tracks form one album (release ``releases`` is then its
number of components: each component has its own artist) plus one TrackRelease per track, as
DDEX's own 4.x samples deliver them; two ReleaseDeals (album, track releases).
With ``target_bytes`` the track count is chosen so the file is about that size (within a few
per cent); the smallest valid message (one track) is a few KB, so smaller targets give that.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from ddex_otel.ern import identifiers, validation, versions
from ddex_otel.ern.builder import AVS_VERSION_43, LANGUAGE_DEFAULT, normalize_version
from ddex_otel.ern.durations import format_duration
from ddex_otel.outputs import atomic_write

Progress = Callable[[int, int], None]  # (bytes written, estimated total bytes)

CREATED = "2024-01-01T00:00:00Z"  # fixed: generated files must be reproducible
_WORDS = (
    "Midnight", "Echo", "River", "Neon", "Café", "Rock & Roll", "Über", "Dreams", "<Live>", "Silver",
    "Ghost", "Señorita", "Static", "Horizon", "Velvet", "\"Quoted\"", "Ember", "夢", "Tide", "Signal",
)
_COUNTRIES = ("US", "GB", "DE", "FR", "JP", "SE", "BR", "NL")
_GENRES = ("Pop", "Rock", "Electronic", "Jazz", "Hip-Hop", "Classical", "Folk")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHUNK_TRACKS = 500  # tracks rendered per write: big enough to amortise I/O, small in memory


def _x(text: str) -> str:
    return escape(text)


@dataclass(frozen=True)
class _Plan:
    """Everything fixed before writing: version, album sizes and the seed-derived constants."""

    version: str
    sizes: tuple[int, ...]  # tracks per release (3.x) / per component (4.x)
    seed: int

    @property
    def tracks(self) -> int:
        return sum(self.sizes)


class _Text:
    """Deterministic values derived from the seed and an index, never from global state."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.country = rng.choice(_COUNTRIES)
        self.registrant = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2))
        self.year = rng.randrange(0, 100)
        self.sender = "PADPIDA" + "".join(rng.choice("0123456789") for _ in range(10)) + "S"
        self.recipient = "PADPIDA" + "".join(rng.choice("0123456789") for _ in range(10)) + "R"
        self.issuer = "".join(rng.choice(_ALNUM) for _ in range(5))
        self.icpn_base = rng.randrange(10**10, 10**11)
        self.seed = seed

    def rng(self, *key: int) -> random.Random:
        """A generator for one item: string seeds are hashed with SHA-512, stable everywhere."""
        return random.Random(f"{self.seed}:{':'.join(map(str, key))}")

    def title(self, rng: random.Random) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))

    def isrc(self, track: int) -> str:
        """Unique for 360 million tracks: the 5-digit designation rolls over into the registrant's
        third character (36 values), which rolls over into the year (100 values)."""
        block, number = divmod(track, 100_000)
        years, third = divmod(block, 36)
        year = (self.year + years) % 100
        return f"{self.country}{self.registrant}{_ALNUM[third]}{year:02d}{number:05d}"

    def icpn(self, release: int) -> str:
        return identifiers.make_icpn(f"{self.icpn_base + release:012d}")

    def grid(self, release: int) -> str:
        return identifiers.make_grid(f"A1{self.issuer}{release:010d}")


# ------------------------------------------------------------------------------------ templates


def _root_open(plan: _Plan) -> str:
    ns = versions.namespace_for(plan.version)
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    attrs = f'LanguageAndScriptCode="{LANGUAGE_DEFAULT}"'
    if plan.version == "4.3":
        attrs += f' AvsVersionId="{AVS_VERSION_43}"'
    if not validation.is_4x(plan.version):
        attrs = f'MessageSchemaVersionId="ern/382" {attrs}'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ern:NewReleaseMessage xmlns:ern="{ns}" xmlns:xsi="{xsi}" '
        f'xsi:schemaLocation="{ns} {ns}/release-notification.xsd" {attrs}>\n'
    )


def _header(t: _Text) -> str:
    return (
        "  <MessageHeader>\n"
        f"    <MessageThreadId>GEN-{t.seed}</MessageThreadId>\n"
        f"    <MessageId>GEN-{t.seed}-1</MessageId>\n"
        f"    <MessageSender>\n      <PartyId>{t.sender}</PartyId>\n"
        "      <PartyName>\n        <FullName>Synthetic Records</FullName>\n      </PartyName>\n"
        "    </MessageSender>\n"
        f"    <MessageRecipient>\n      <PartyId>{t.recipient}</PartyId>\n"
        "      <PartyName>\n        <FullName>Synthetic DSP</FullName>\n      </PartyName>\n"
        "    </MessageRecipient>\n"
        f"    <MessageCreatedDateTime>{CREATED}</MessageCreatedDateTime>\n"
        "    <MessageControlType>TestMessage</MessageControlType>\n"
        "  </MessageHeader>\n"
    )


def _artist_name(t: _Text, component: int) -> str:
    return f"{t.title(t.rng(1, component))} Band {component + 1}"


def _track_fields(t: _Text, track: int) -> tuple[str, float]:
    rng = t.rng(2, track)
    return t.title(rng), float(rng.randint(90, 420))


def _components(plan: _Plan) -> Iterator[tuple[int, int, int]]:
    """(component/release index, first track index, track count)."""
    first = 0
    for i, size in enumerate(plan.sizes):
        yield i, first, size
        first += size


# ---- ERN 4.x


def _chunks_4x(plan: _Plan, t: _Text) -> Iterator[str]:
    """An ERN 4.x message in write-sized chunks: parties, recordings, the album, its track releases, deals."""
    yield _root_open(plan) + _header(t) + "  <PartyList>\n"
    yield from _parties_4x(plan, t)
    yield from _sound_recordings_4x(plan, t)
    genre = _GENRES[t.rng(4, 0).randrange(len(_GENRES))]
    yield "  </ResourceList>\n  <ReleaseList>\n" + _main_release_open_4x(plan, t, genre)
    yield from _batched(
        f"        <ResourceGroupContentItem>\n          <SequenceNumber>{n + 1}</SequenceNumber>\n"
        f"          <ReleaseResourceReference>A{n + 1}</ReleaseResourceReference>\n"
        "        </ResourceGroupContentItem>\n" for n in range(plan.tracks))
    yield "      </ResourceGroup>\n    </Release>\n"
    yield from _batched(
        f"    <TrackRelease>\n      <ReleaseReference>R{n + 1}</ReleaseReference>\n"
        f"      <ReleaseId>\n        <ProprietaryId Namespace=\"{t.sender}\">TR{n + 1}</ProprietaryId>\n"
        f"      </ReleaseId>\n      <ReleaseResourceReference>A{n + 1}</ReleaseResourceReference>\n"
        "      <ReleaseLabelReference>PLabel</ReleaseLabelReference>\n"
        f"      <Genre>\n        <GenreText>{genre}</GenreText>\n      </Genre>\n    </TrackRelease>\n"
        for n in range(plan.tracks))
    yield ("  </ReleaseList>\n  <DealList>\n    <ReleaseDeal>\n      <DealReleaseReference>R0</DealReleaseReference>\n"
           + _deal_4x("PayAsYouGoModel", "PermanentDownload") + "    </ReleaseDeal>\n    <ReleaseDeal>\n")
    yield from _batched(f"      <DealReleaseReference>R{n + 1}</DealReleaseReference>\n" for n in range(plan.tracks))
    yield _deal_4x("SubscriptionModel", "OnDemandStream") + "    </ReleaseDeal>\n  </DealList>\n</ern:NewReleaseMessage>\n"


def _parties_4x(plan: _Plan, t: _Text) -> Iterator[str]:
    """The PartyList's parties: one artist per component, Various Artists for several, the label."""
    for i, _, _ in _components(plan):
        yield (f"    <Party>\n      <PartyReference>PA{i + 1}</PartyReference>\n"
               f"      <PartyName>\n        <FullName>{_x(_artist_name(t, i))}</FullName>\n      </PartyName>\n"
               "    </Party>\n")
    if len(plan.sizes) > 1:
        yield ("    <Party>\n      <PartyReference>PVarious</PartyReference>\n"
               "      <PartyName>\n        <FullName>Various Artists</FullName>\n      </PartyName>\n    </Party>\n")
    yield ("    <Party>\n      <PartyReference>PLabel</PartyReference>\n"
           "      <PartyName>\n        <FullName>Synthetic Records</FullName>\n      </PartyName>\n"
           "    </Party>\n  </PartyList>\n  <ResourceList>\n")


def _sound_recordings_4x(plan: _Plan, t: _Text) -> Iterator[str]:
    """Every track's SoundRecording, in chunks of ``_CHUNK_TRACKS`` and one chunk per component's rest."""
    for i, first, size in _components(plan):
        artist = _x(_artist_name(t, i))
        parts: list[str] = []
        for track in range(first, first + size):
            parts.append(_sound_recording_4x(plan, t, track, i, artist))
            if len(parts) >= _CHUNK_TRACKS:
                yield "".join(parts)
                parts = []
        yield "".join(parts)


def _sound_recording_4x(plan: _Plan, t: _Text, track: int, component: int, artist: str) -> str:
    """One track's SoundRecording, credited to its component's artist party."""
    title, duration = _track_fields(t, track)
    if plan.version == "4.3":  # 4.3 wraps the ids in a SoundRecordingEdition
        ids = (f"      <SoundRecordingEdition>\n        <ResourceId>\n          <ISRC>{t.isrc(track)}</ISRC>\n"
               "        </ResourceId>\n      </SoundRecordingEdition>\n")
    else:
        ids = f"      <ResourceId>\n        <ISRC>{t.isrc(track)}</ISRC>\n      </ResourceId>\n"
    return (
        f"    <SoundRecording>\n      <ResourceReference>A{track + 1}</ResourceReference>\n"
        f"      <Type>MusicalWorkSoundRecording</Type>\n{ids}"
        f"      <DisplayTitleText>{_x(title)}</DisplayTitleText>\n"
        f"      <DisplayTitle>\n        <TitleText>{_x(title)}</TitleText>\n      </DisplayTitle>\n"
        f"      <DisplayArtistName>{artist}</DisplayArtistName>\n"
        f"      <DisplayArtist>\n        <ArtistPartyReference>PA{component + 1}</ArtistPartyReference>\n"
        "        <DisplayArtistRole>MainArtist</DisplayArtistRole>\n      </DisplayArtist>\n"
        f"      <Duration>{format_duration(duration)}</Duration>\n"
        "      <ParentalWarningType>NoAdviceAvailable</ParentalWarningType>\n    </SoundRecording>\n"
    )


def _main_release_open_4x(plan: _Plan, t: _Text, genre: str) -> str:
    """The album Release up to its ResourceGroup's items (one artist, or Various Artists)."""
    album = _x(t.title(t.rng(3, 0)))
    artist = _x(_artist_name(t, 0)) if len(plan.sizes) == 1 else "Various Artists"
    artist_ref = "PA1" if len(plan.sizes) == 1 else "PVarious"
    return (
        "    <Release>\n      <ReleaseReference>R0</ReleaseReference>\n"
        f"      <ReleaseType>{'Album' if plan.tracks > 1 else 'Single'}</ReleaseType>\n"
        f"      <ReleaseId>\n        <GRid>{t.grid(0)}</GRid>\n        <ICPN>{t.icpn(0)}</ICPN>\n      </ReleaseId>\n"
        f"      <DisplayTitleText>{album}</DisplayTitleText>\n"
        f"      <DisplayTitle>\n        <TitleText>{album}</TitleText>\n      </DisplayTitle>\n"
        f"      <DisplayArtistName>{artist}</DisplayArtistName>\n"
        f"      <DisplayArtist>\n        <ArtistPartyReference>{artist_ref}</ArtistPartyReference>\n"
        "        <DisplayArtistRole>MainArtist</DisplayArtistRole>\n      </DisplayArtist>\n"
        "      <ReleaseLabelReference>PLabel</ReleaseLabelReference>\n"
        "      <PLine>\n        <Year>2024</Year>\n        <PLineText>(P) 2024 Synthetic Records</PLineText>\n"
        "      </PLine>\n"
        f"      <Genre>\n        <GenreText>{genre}</GenreText>\n      </Genre>\n"
        "      <ReleaseDate>2024-01-01</ReleaseDate>\n"
        "      <ParentalWarningType>NoAdviceAvailable</ParentalWarningType>\n      <ResourceGroup>\n"
    )


def _deal_4x(model: str, use: str) -> str:
    return (
        "      <Deal>\n        <DealTerms>\n          <TerritoryCode>Worldwide</TerritoryCode>\n"
        "          <ValidityPeriod>\n            <StartDate>2024-01-01</StartDate>\n          </ValidityPeriod>\n"
        f"          <CommercialModelType>{model}</CommercialModelType>\n          <UseType>{use}</UseType>\n"
        "        </DealTerms>\n      </Deal>\n"
    )


def _batched(parts: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    for part in parts:
        batch.append(part)
        if len(batch) >= _CHUNK_TRACKS:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


# ---- ERN 3.8.2


def _chunks_3x(plan: _Plan, t: _Text) -> Iterator[str]:
    yield _root_open(plan) + _header(t) + "  <ResourceList>\n"
    for i, first, size in _components(plan):
        artist = _x(_artist_name(t, i))
        yield from _batched(_sound_recording_3x(t, track, artist) for track in range(first, first + size))
    yield "  </ResourceList>\n  <ReleaseList>\n"
    for i, first, size in _components(plan):
        rng = t.rng(3, i)
        album, artist = _x(t.title(rng)), _x(_artist_name(t, i))
        genre = _GENRES[rng.randrange(len(_GENRES))]
        refs = "".join(f"        <ReleaseResourceReference>A{n + 1}</ReleaseResourceReference>\n"
                       for n in range(first, first + size))
        yield (
            "    <Release>\n"
            f"      <ReleaseId>\n        <GRid>{t.grid(i)}</GRid>\n        <ICPN>{t.icpn(i)}</ICPN>\n      </ReleaseId>\n"
            f"      <ReleaseReference>R{i + 1}</ReleaseReference>\n"
            f"      <ReferenceTitle>\n        <TitleText>{album}</TitleText>\n      </ReferenceTitle>\n"
            f"      <ReleaseResourceReferenceList>\n{refs}      </ReleaseResourceReferenceList>\n"
            f"      <ReleaseType>{'Album' if size > 1 else 'Single'}</ReleaseType>\n"
            "      <ReleaseDetailsByTerritory>\n        <TerritoryCode>Worldwide</TerritoryCode>\n"
            f"        <DisplayArtistName>{artist}</DisplayArtistName>\n"
            "        <LabelName>Synthetic Records</LabelName>\n"
            f"        <Title TitleType=\"DisplayTitle\">\n          <TitleText>{album}</TitleText>\n        </Title>\n"
            f"        <DisplayArtist>\n          <PartyName>\n            <FullName>{artist}</FullName>\n"
            "          </PartyName>\n          <ArtistRole>MainArtist</ArtistRole>\n        </DisplayArtist>\n"
            f"        <Genre>\n          <GenreText>{genre}</GenreText>\n        </Genre>\n"
            "        <ReleaseDate>2024-01-01</ReleaseDate>\n      </ReleaseDetailsByTerritory>\n"
            "      <PLine>\n        <Year>2024</Year>\n        <PLineText>(P) 2024 Synthetic Records</PLineText>\n"
            "      </PLine>\n    </Release>\n"
        )
    yield "  </ReleaseList>\n  <DealList>\n"
    yield from _batched(
        f"    <ReleaseDeal>\n      <DealReleaseReference>R{i + 1}</DealReleaseReference>\n"
        "      <Deal>\n        <DealTerms>\n          <CommercialModelType>PayAsYouGoModel</CommercialModelType>\n"
        "          <Usage>\n            <UseType>PermanentDownload</UseType>\n          </Usage>\n"
        "          <TerritoryCode>Worldwide</TerritoryCode>\n"
        "          <ValidityPeriod>\n            <StartDate>2024-01-01</StartDate>\n          </ValidityPeriod>\n"
        "        </DealTerms>\n      </Deal>\n    </ReleaseDeal>\n" for i in range(len(plan.sizes)))
    yield "  </DealList>\n</ern:NewReleaseMessage>\n"


def _sound_recording_3x(t: _Text, track: int, artist: str) -> str:
    title, duration = _track_fields(t, track)
    return (
        "    <SoundRecording>\n      <SoundRecordingType>MusicalWorkSoundRecording</SoundRecordingType>\n"
        f"      <SoundRecordingId>\n        <ISRC>{t.isrc(track)}</ISRC>\n      </SoundRecordingId>\n"
        f"      <ResourceReference>A{track + 1}</ResourceReference>\n"
        f"      <ReferenceTitle>\n        <TitleText>{_x(title)}</TitleText>\n      </ReferenceTitle>\n"
        f"      <Duration>{format_duration(duration)}</Duration>\n"
        "      <SoundRecordingDetailsByTerritory>\n        <TerritoryCode>Worldwide</TerritoryCode>\n"
        f"        <Title TitleType=\"DisplayTitle\">\n          <TitleText>{_x(title)}</TitleText>\n        </Title>\n"
        f"        <DisplayArtist>\n          <PartyName>\n            <FullName>{artist}</FullName>\n"
        "          </PartyName>\n          <ArtistRole>MainArtist</ArtistRole>\n        </DisplayArtist>\n"
        f"        <DisplayArtistName>{artist}</DisplayArtistName>\n"
        "      </SoundRecordingDetailsByTerritory>\n    </SoundRecording>\n"
    )


# ---------------------------------------------------------------------------------- public API


def _chunks(plan: _Plan) -> Iterator[str]:
    t = _Text(plan.seed)
    return _chunks_4x(plan, t) if validation.is_4x(plan.version) else _chunks_3x(plan, t)


def _sizes(total_tracks: int, per_release: int) -> tuple[int, ...]:
    full, rest = divmod(total_tracks, per_release)
    return (per_release,) * full + ((rest,) if rest else ())


def _encoded_size(plan: _Plan) -> int:
    return sum(len(chunk.encode("utf-8")) for chunk in _chunks(plan))


def _plan_for_size(target_bytes: int, tracks_per_release: int, version: str, seed: int) -> _Plan:
    """The plan whose output is closest to ``target_bytes``, from two small probes (size is linear
    in the track count; titles vary per track, so the per-track cost is averaged over many)."""
    small, large = 50, 250
    size_small = _encoded_size(_Plan(version, _sizes(small, tracks_per_release), seed))
    size_large = _encoded_size(_Plan(version, _sizes(large, tracks_per_release), seed))
    per_track = (size_large - size_small) / (large - small)
    fixed = size_small - per_track * small
    tracks = max(1, round((target_bytes - fixed) / per_track))
    return _Plan(version, _sizes(tracks, tracks_per_release), seed)


def _make_plan(releases: int | None, target_bytes: int | None, tracks_per_release: int,
               version: str, seed: int) -> _Plan:
    version = normalize_version(version)
    if tracks_per_release < 1:
        raise ValueError("tracks_per_release must be at least 1")
    if target_bytes is not None and releases is not None:
        raise ValueError("give releases or target_bytes, not both")
    if target_bytes is not None:
        if target_bytes < 1:
            raise ValueError("target_bytes must be positive")
        return _plan_for_size(target_bytes, tracks_per_release, version, seed)
    releases = 1 if releases is None else releases
    if releases < 1:
        raise ValueError("releases must be at least 1")
    return _Plan(version, (tracks_per_release,) * releases, seed)


def generate_message(releases: int = 1, tracks_per_release: int = 10, version: str = "4.3", seed: int = 0) -> bytes:
    """A whole synthetic message in memory (for small messages; see ``write_message`` for big ones)."""
    buffer = io.BytesIO()
    for chunk in _chunks(_make_plan(releases, None, tracks_per_release, version, seed)):
        buffer.write(chunk.encode("utf-8"))
    return buffer.getvalue()


def write_message(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    target_bytes: int | None = None,
    releases: int | None = None,
    tracks_per_release: int = 10,
    version: str = "4.3",
    seed: int = 0,
    progress: Progress | None = None,
) -> int:
    """Stream a synthetic message to ``path`` (or an open binary stream) and return its size in bytes.

    Give ``target_bytes`` (about that size) or ``releases`` (default 1). ``progress(written,
    estimated_total)`` is called after every chunk (a few hundred tracks). A file is written
    atomically: an interrupted or failed run leaves no partial file (``ddex_otel.outputs``).
    """
    plan = _make_plan(releases, target_bytes, tracks_per_release, version, seed)
    estimate = target_bytes or 0
    written = 0
    if hasattr(path, "write"):  # an open binary stream (``sys.stdout.buffer``), not closed here
        out_cm: Any = contextlib.nullcontext(path)
    else:
        out_cm = atomic_write(path, "wb")
    with out_cm as out:
        for chunk in _chunks(plan):
            data = chunk.encode("utf-8")
            out.write(data)
            written += len(data)
            if progress is not None:
                progress(written, max(estimate, written))
    return written
