"""The typed, immutable model of an ERN message: what parse produces and build consumes.

Every field is plain data (str, float, tuples of these, or nested model objects) so a model
compares by value (round-trip tests use ``==``) and converts to JSON through ``to_dict``.
Text values are kept as they appear in the XML (dates and datetimes as ISO strings) so a
parse → build → parse cycle is lossless for what the model holds.

SOURCE: objects read by ``parse`` keep the lxml element they were read from in ``_source``
(the Message keeps the document's root element). It is not part of ``==``, ``hash``, ``repr`` or
``to_dict``; ``dataclasses.replace`` carries it over, so an edited object still knows where it came
from. ``build`` at the source's own ERN version re-emits everything the model does not hold from
it (see ``lossless``). Objects made by hand or by ``stream`` have ``_source=None``. Keeping it means
a parsed Message keeps its document's tree alive (``stream`` is the flat-memory reader).

LAZY: ``parse`` of an ERN 4.x message creates each Party, Resource, Release and Deal with only
its element (and, for a Deal, its ``release_refs``) and reads the rest of its fields from that
element the first time any field is read: once, for all fields together, with the very extraction
an eager read uses, so the values are the same (tests compare them field by field). It is
invisible to users: ``==``, ``hash``, ``repr``, ``to_dict``, ``dataclasses.replace``/``asdict``,
``copy`` and ``__getstate__`` all read the fields through attribute access and so fill the object
first. Until then the object is of a private subclass (``isinstance`` holds; the subclass bears
the model class's name and equals it as a type, so ``type(obj) == Resource`` and dicts keyed by
model classes hold too; ``type(obj) is Resource`` once read). Extraction raises no errors (only parsing and version detection do), so nothing is deferred
but work. The element is kept alive anyway (``_source``); a filled object drops its loader. Read
eagerly: the Message and its header (telemetry reads the header of every message), purged
releases and 3.x messages (whose parties are gathered while reading every resource and release).
``stream`` makes its 4.x Resources, Releases and Deals lazily the same way, each holding only its
own element (unlinked from the streamed tree once finished); its header, parties and 3.x items are
read eagerly. ``ern.lazy`` has the how.

PARSED: ``_parsed`` is True only on the very object ``parse`` made from ``_source`` (lazy or not),
which therefore holds exactly what that element says: ``build`` skips re-reading the element to find edits, and the text
check skips what libxml2 already accepted. It is ``init=False``, so ``dataclasses.replace`` (an
edit) yields ``_parsed=False``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def _plain(value: Any) -> Any:
    """Convert model objects, tuples and dicts into JSON-serialisable builtins (``_source``/``_parsed`` left out)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class _Model:
    """Mixin giving every model class ``to_dict``."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable data for this object."""
        return _plain(self)


class LazyModel(_Model):
    """Mixin of the classes ``parse`` fills on first read (see LAZY above).

    ``_load`` holds ``(fill, element, context)`` while the object's fields are still unread, None
    once they are filled, and is unset on objects made any other way (so they never load). The
    reading itself lives in a subclass per model class (``lazy``): only an unfilled object is of
    it, and the first read of a field turns it into this class proper. A ``__getattr__`` here would
    slow every attribute read of every model object about 3× (no specialised slot loads).
    """

    __slots__ = ("_load",)


@dataclass(frozen=True, slots=True)
class Party(LazyModel):
    """A party: message sender/recipient, or a PartyList entry (4.x) / named party (3.x)."""

    reference: str | None = None
    party_ids: tuple[str, ...] = ()
    name: str | None = None
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class MessageHeader(_Model):
    """MessageHeader: ids, sender and recipients, creation time and control type."""

    message_id: str | None = None
    thread_id: str | None = None
    sender: Party | None = None
    recipients: tuple[Party, ...] = ()
    created: str | None = None
    control_type: str | None = None
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class ProprietaryId(_Model):
    """A ProprietaryId with its Namespace attribute."""

    namespace: str
    value: str


@dataclass(frozen=True, slots=True)
class Identifiers(_Model):
    """Identifiers of a release or resource; absent ones are None / empty."""

    icpn: str | None = None
    grid: str | None = None
    isrc: str | None = None
    catalog_number: str | None = None
    proprietary: tuple[ProprietaryId, ...] = ()


@dataclass(frozen=True, slots=True)
class Line(_Model):
    """A PLine or CLine: optional year and the line's text."""

    year: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Localized(_Model):
    """One display title / display artist name with the territory and language it applies to."""

    text: str
    territory: str | None = None  # 4.x @ApplicableTerritoryCode; 3.x the block's TerritoryCode
    language: str | None = None  # @LanguageAndScriptCode
    is_default: bool = False  # 4.x @IsDefault="true"


@dataclass(frozen=True, slots=True)
class Price(_Model):
    """One PriceInformation of a deal: its price code/type and, when given, an amount."""

    code: str | None = None  # 4.x PriceCode, 3.x PriceType
    code_namespace: str | None = None
    kind: str | None = None  # WholesalePricePerUnit, SuggestedRetailPrice, …
    amount: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Contributor(_Model):
    """A resource contributor: who (4.x party reference and its name; 3.x the name), roles, sequence."""

    name: str | None = None
    party_reference: str | None = None
    roles: tuple[str, ...] = ()
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class TechnicalDetails(_Model):
    """One delivered file of a resource (4.x TechnicalDetails, 3.x Technical*Details)."""

    reference: str | None = None
    file_uri: str | None = None  # 4.x URI; 3.x FilePath + FileName
    codec: str | None = None  # AudioCodecType / VideoCodecType / ImageCodecType
    bit_rate: str | None = None
    duration: float | None = None  # seconds
    hash: str | None = None  # HashSumValue (4.x) / HashSum (3.x)
    hash_algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class Resource(LazyModel):
    """A child of ResourceList (SoundRecording, Video, Image, Text, …)."""

    kind: str
    reference: str
    resource_type: str | None = None
    ids: Identifiers = field(default_factory=Identifiers)
    title: str | None = None
    display_artist: str | None = None
    duration: float | None = None  # seconds, parsed from ISO 8601 (PT3M20S → 200.0)
    # Read from every version; written back only by a same-version build (see ``lossless``).
    parental_warning: str | None = None
    p_line: Line | None = None
    c_line: Line | None = None
    contributors: tuple[Contributor, ...] = ()
    technical_details: tuple[TechnicalDetails, ...] = ()
    display_titles: tuple[Localized, ...] = ()  # every territory/language (``title`` is the chosen one)
    display_artist_names: tuple[Localized, ...] = ()
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class Release(LazyModel):
    """A Release / TrackRelease / ClipRelease of ReleaseList, in document order."""

    kind: str
    reference: str
    release_type: str | None = None
    ids: Identifiers = field(default_factory=Identifiers)
    title: str | None = None
    display_artist: str | None = None
    label: str | None = None
    genre: str | None = None
    subgenre: str | None = None
    release_date: str | None = None
    p_line: Line | None = None
    c_line: Line | None = None
    resource_refs: tuple[str, ...] = ()  # the ordered resource references of its track list
    # Read from every version; written back only by a same-version build (see ``lossless``).
    parental_warning: str | None = None
    keywords: tuple[str, ...] = ()
    display_titles: tuple[Localized, ...] = ()  # every territory/language (``title`` is the chosen one)
    display_artist_names: tuple[Localized, ...] = ()
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class Deal(LazyModel):
    """One Deal inside DealList/ReleaseDeal."""

    release_refs: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    excluded_territories: tuple[str, ...] = ()
    commercial_model_types: tuple[str, ...] = ()
    use_types: tuple[str, ...] = ()
    start_date: str | None = None
    end_date: str | None = None
    prices: tuple[Price, ...] = ()  # read from every version; written back only at the same version
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class Message(_Model):
    """A whole ERN message."""

    ern_version: str  # dotted digits: "4.3", "3.8.2"
    message_type: str  # root element local name: "NewReleaseMessage", "PurgeReleaseMessage"
    header: MessageHeader = field(default_factory=MessageHeader)
    parties: tuple[Party, ...] = ()
    releases: tuple[Release, ...] = ()
    resources: tuple[Resource, ...] = ()
    deals: tuple[Deal, ...] = ()
    #: A PurgeReleaseMessage's PurgedRelease (kind ``"PurgedRelease"``, no reference): not a ReleaseList release.
    purged_releases: tuple[Release, ...] = ()
    _source: Any = field(default=None, compare=False, repr=False)  # see SOURCE above
    _parsed: bool = field(default=False, init=False, compare=False, repr=False)  # see SOURCE above


@dataclass(frozen=True, slots=True)
class StreamStart(_Model):
    """First item ``stream`` yields: what the message is, known from its root element."""

    ern_version: str
    message_type: str

