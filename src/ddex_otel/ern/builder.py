"""Building ERN XML from the model: deterministic, validated before writing.

STAGE CONTRACT (wrapped from outside by telemetry): ``build`` calls, through module globals,
    validation.check(message, level) -> ValidationReport   stage "validate" (raises nothing)
    assemble(message, version) -> lxml root                stage "assemble"
    serialize(root) -> bytes                               stage "serialize"
and raises DDEXValidationError when the report has errors; otherwise it returns a
``BuiltMessage`` (a ``bytes`` subclass carrying ``.findings``, the warnings).
(``check`` also gets ``target_version=version`` so it reports what that version needs.)
When a stage observer is set (``stages.OBSERVER``), each stage is timed and reported to it.

Targets: ERN 4.3, 4.2, 4.1.1 and 3.8.2. The output is byte-for-byte deterministic (UTF-8, an
XML declaration, 2-space indentation, attributes in a fixed order, the ``ern`` prefix, no
timestamp the model does not hold) and is meant to validate against the official XSD of its
version; every message built from a model that passes ``check`` does.

Same version, parsed message: ``assemble`` re-emits the source document (see ``lossless``): the
output equals the input after canonicalisation, edits made with ``dataclasses.replace`` are written
in place, and nothing below applies. Parsed at another version: the source is converted
(``convert``, with the 3.x ↔ 4.x family mapping of ``mapping``). Everything else is written from
the model alone. For both, ``findings`` lists every
source value the output does not carry, with its reason (``ddex.build.dropped``).

The model holds less than ERN requires, so the builder writes these documented defaults:
  * ``ParentalWarningType`` ``NoAdviceAvailable`` wherever it is required (not modelled);
  * root ``LanguageAndScriptCode="en"``; 4.3 ``AvsVersionId`` ``"3"`` (both required, not modelled);
  * ERN 4.x ``DisplayArtistRole`` ``MainArtist`` for each display artist (not modelled);
  * ERN 3.x ``TerritoryCode`` ``Worldwide`` for the required DetailsByTerritory blocks;
  * ``CatalogNumber/@Namespace``: the sender's first party id (the model keeps no namespace);
  * a missing resource type: ``Unknown`` (``UserDefined`` for SheetMusic and 4.3 Video); a missing 4.x
    release type: ``UserDefined`` — both reported as warnings by ``check``.
ERN 4.x references parties from a PartyList: display artists and labels with no party of that
name in ``message.parties`` get a synthesized party ``P1``, ``P2``… (first free numbers, in the
order they are met: resources, then releases), so a model without party references builds as 4.x.

Refused (errors from ``check``): more than one main Release in ERN 4.x (3.x carries any number);
a ClipRelease outside ERN 4.3 (4.1.1 and 4.2 have none); placeholder message party ids that are
not DPIDs in 4.x; anything the version-neutral checks reject (see ``validation``).

What does not survive a version change is never silent. A parsed message converted to another
version: each source value or attribute the output lacks is a ``ddex.build.dropped`` warning with
its reason and an XPath into the source, each part the target requires written from a default a
``default-value`` warning naming the ``defaults`` key that supplies it. Notably:
  * ERN 3.x → 4.x: a release typed ``TrackRelease`` becomes a 4.x ``TrackRelease`` element, which
    has no release type, display artist, dates or P/C lines; 4.x release ids have no ISRC; message
    parties keep only their first party id; a resource's LabelName and RightsController have no
    4.x place; the parties are those 4.x references, in ``message.parties`` order.
  * ERN 4.x → 3.x: there is no PartyList (parties survive as the names where they are referenced);
    ``TrackRelease``/``ClipRelease`` become ``Release`` elements (a TrackRelease typed
    ``TrackRelease``), and a track release without a title takes its resource's title. Values
    keep their territory in that territory's DetailsByTerritory block, so the 3.x model's
    ``title``/``display_artist``/``label`` (read from the Worldwide block, a title without its
    SubTitle) can differ from the 4.x model's (``DisplayTitleText``, any territory).
A model written at another version (no parsed source) follows the same rules for its fields, each
one a warning from ``check``.
Consecutive deals naming the same releases share one ReleaseDeal (the parser splits them again).
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from lxml import etree

from ddex_otel.ern import identifiers, lossless, validation, versions
from ddex_otel.ern.durations import format_duration
from ddex_otel.ern.errors import DDEXValidationError, Finding, UnsupportedVersionError
from ddex_otel.ern.model import Deal, Identifiers, Line, Message, MessageHeader, Party, Release, Resource
from ddex_otel.ern.stages import OBSERVER, timed

XSI = "http://www.w3.org/2001/XMLSchema-instance"
BUILD_VERSIONS: tuple[str, ...] = validation.BUILD_VERSIONS
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
PARENTAL_WARNING_DEFAULT = "NoAdviceAvailable"
LANGUAGE_DEFAULT = "en"
AVS_VERSION_43 = "3"
TERRITORY_DEFAULT_3X = "Worldwide"


class BuiltMessage(bytes):
    """ERN XML bytes plus the validation findings (warnings) met while building them."""

    findings: tuple[Finding, ...]

    def __new__(cls, data: bytes, findings: tuple[Finding, ...] = ()) -> BuiltMessage:
        obj = super().__new__(cls, data)
        obj.findings = tuple(findings)
        return obj


#: The ERN version ``build`` writes when none is given.
DEFAULT_VERSION = "4.3"


def build(message: Message, version: str = DEFAULT_VERSION, *, validation: str = "warn",
          defaults: Mapping[str, str] | None = None) -> BuiltMessage:
    """Validate ``message`` for ERN ``version`` and write it; raise DDEXValidationError on errors.

    ``validation`` is the level (``strict``/``warn``/``off``); with ``off`` nothing is checked and
    the output may not be schema-valid. ``defaults`` supplies parts the target version requires and
    a converted source lacks, by element name (``{"Genre": "Pop"}``, ``{"Release/Genre": "Pop"}``,
    ``{"@LanguageAndScriptCode": "en"}``); a refusal names each missing part.
    """
    version = normalize_version(version)
    checker = globals()["validation"]  # the module: the ``validation`` argument shadows its name here
    observe = OBSERVER.get()
    collected: list[Finding] = []
    token = lossless.COLLECTOR.set(collected)
    token_defaults = _DEFAULTS.set(defaults or {})
    rules = _target_rules(message, version)
    try:
        if observe is None:
            report = checker.check(message, validation, target_version=version, target_rules=rules)
            if report.errors:
                raise DDEXValidationError(report.findings)
            root = assemble(message, version)
            _refuse_missing(report, collected)
            data = serialize(root)
        else:
            report = timed(observe, "validate", checker.check, message, validation, target_version=version,
                           target_rules=rules)
            if report.errors:
                raise DDEXValidationError(report.findings)
            root = timed(observe, "assemble", assemble, message, version)
            _refuse_missing(report, collected)
            data = timed(observe, "serialize", serialize, root)
    finally:
        lossless.COLLECTOR.reset(token)
        _DEFAULTS.reset(token_defaults)
    return BuiltMessage(data, (*report.warnings, *collected))


#: The ``defaults`` of the running ``build`` (its stage contract passes ``assemble`` only message and version).
_DEFAULTS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "ddex_build_defaults", default=MappingProxyType({}))  # read-only: the default is shared by every context


def _target_rules(message: Message, version: str) -> str:
    """How ``check`` applies the target version's business rules: ``"model"`` when the model is
    written, ``"converted"`` when a parsed source is converted (the conversion checks what the
    target's schema requires), ``"unmodified"`` when a parsed message is re-emitted as it came."""
    if message._source is None:
        return "model"
    if message.ern_version != version:
        return "converted"
    return "unmodified" if message._parsed else "model"


def _refuse_missing(report: validation.ValidationReport, collected: list[Finding]) -> None:
    errors = [f for f in collected if f.severity == "error"]
    if errors:
        raise DDEXValidationError((*errors, *report.warnings))


def normalize_version(version: str) -> str:
    """``"4.3"``, ``"43"``, ``"ern/43"`` or the namespace → ``"4.3"``; UnsupportedVersionError
    for versions the engine reads but does not write (3.8, 4.1, 4.3.1, …) and unknown ones."""
    try:
        dotted = versions.normalize_version(version)
    except UnsupportedVersionError:
        dotted = None
    if dotted not in BUILD_VERSIONS:
        raise UnsupportedVersionError(str(version), BUILD_VERSIONS)
    return dotted


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with a fixed XML declaration and 2-space pretty printing."""
    etree.indent(root, space="  ")
    # One join, not two concatenations: each ``+`` copies the whole document (14 MB for 1000 releases).
    return b"".join((XML_DECLARATION, etree.tostring(root, encoding="UTF-8", xml_declaration=False), b"\n"))


def assemble(message: Message, version: str) -> etree._Element:
    """The lxml tree of ``message`` in ERN ``version`` (best effort when validation was off).

    Parsed at ``version``: the source re-emitted with the model's edits (``lossless.Rebuilder``).
    Parsed at another version: the source, with the edits written in, converted (``convert``);
    what it cannot carry and what it lacks go to ``build``'s findings. Otherwise: the model writer.
    """
    version = normalize_version(version)
    source = message._source
    if source is not None and message.ern_version != version:
        own = message.ern_version
        if not message._parsed:  # write the edits into the source first, at its own version
            own_writer = _Writer4x(message, own) if validation.is_4x(own) else _Writer3x(message, own)
            source = lossless.Rebuilder(message, source, own_writer).root()
        return lossless.converted(source, own, version, _DEFAULTS.get())
    writer = _Writer4x(message, version) if validation.is_4x(version) else _Writer3x(message, version)
    source = lossless.source_root(message, version)
    if source is not None:  # parsed at this version: keep what the model does not hold
        return lossless.Rebuilder(message, source, writer).root()
    return writer.root()


# ------------------------------------------------------------------------------- shared helpers


_SubElement = etree.SubElement


def _sub(parent: etree._Element, tag: str, text: str | None = None, attrib: dict[str, str] | None = None) -> etree._Element:
    el = _SubElement(parent, tag, attrib)  # attrib None or {}: no attributes
    if text:  # "" stays None: an empty element is written <X/>, as a parsed one re-serialises
        el.text = text
    return el


def _group_deals(deals: Iterable[Deal]) -> list[tuple[tuple[str, ...], list[Deal]]]:
    """Consecutive deals naming the same releases, as (release refs, deals) groups."""
    groups: list[tuple[tuple[str, ...], list[Deal]]] = []
    for deal in deals:
        if groups and groups[-1][0] == deal.release_refs:
            groups[-1][1].append(deal)
        else:
            groups.append((deal.release_refs, [deal]))
    return groups


def _is_datetime(value: str) -> bool:
    return "T" in value


class _Writer:
    """What both version families share: root, header, ordering, catalog numbers."""

    def __init__(self, message: Message, version: str) -> None:
        self.m = message
        self.version = version
        sender = message.header.sender
        self.catalog_namespace = (sender.party_ids[0] if sender and sender.party_ids else None) or "Unknown"
        self.resource_artists = validation.derived_resource_artists(message)
        self.titles = validation.resource_titles(message)

    def make_root(self, extra: dict[str, str]) -> etree._Element:
        ns = versions.namespace_for(self.version)
        root = etree.Element(f"{{{ns}}}{self.m.message_type}", nsmap={"ern": ns, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", f"{ns} {ns}/release-notification.xsd")
        for key, value in extra.items():
            root.set(key, value)
        return root

    def header(self, root: etree._Element, header: MessageHeader, *, many_ids: bool) -> None:
        el = _sub(root, "MessageHeader")
        if header.thread_id is not None:
            _sub(el, "MessageThreadId", header.thread_id)
        _sub(el, "MessageId", header.message_id or "")
        if header.sender is not None:
            self.messaging_party(el, "MessageSender", header.sender, many_ids=many_ids)
        for recipient in header.recipients:
            self.messaging_party(el, "MessageRecipient", recipient, many_ids=many_ids)
        if header.created is not None:
            _sub(el, "MessageCreatedDateTime", header.created)
        if header.control_type is not None:
            _sub(el, "MessageControlType", header.control_type)

    @staticmethod
    def messaging_party(parent: etree._Element, tag: str, party: Party, *, many_ids: bool) -> None:
        el = _sub(parent, tag)
        for pid in party.party_ids if many_ids else party.party_ids[:1]:
            _sub(el, "PartyId", pid)
        if party.name:
            _sub(_sub(el, "PartyName"), "FullName", party.name)

    def id_children(self, el: etree._Element, ids: Identifiers, fields: tuple[str, ...]) -> None:
        """Identifier children in the XSD order GRid, ISRC, ICPN, CatalogNumber, ProprietaryId."""
        for name, tag in (("grid", "GRid"), ("isrc", "ISRC"), ("icpn", "ICPN")):
            value = getattr(ids, name)
            if value is not None and name in fields:
                _sub(el, tag, value)
        if ids.catalog_number is not None and "catalog_number" in fields:
            _sub(el, "CatalogNumber", ids.catalog_number, {"Namespace": self.catalog_namespace})
        if "proprietary" in fields:
            for pid in ids.proprietary:
                _sub(el, "ProprietaryId", pid.value, {"Namespace": pid.namespace})

    @staticmethod
    def line(parent: etree._Element, tag: str, line: Line) -> None:
        el = _sub(parent, tag)
        if line.year is not None:
            _sub(el, "Year", line.year)
        _sub(el, f"{tag}Text", line.text)

    @staticmethod
    def genre(parent: etree._Element, release: Release) -> None:
        el = _sub(parent, "Genre")
        _sub(el, "GenreText", release.genre or "")
        if release.subgenre is not None:
            _sub(el, "SubGenre", release.subgenre)

    @staticmethod
    def period(parent: etree._Element, deal: Deal) -> None:
        el = _sub(parent, "ValidityPeriod")
        for value, stem in ((deal.start_date, "Start"), (deal.end_date, "End")):
            if value is not None:
                _sub(el, f"{stem}DateTime" if _is_datetime(value) else f"{stem}Date", value)

    def deal_terms(self, deal_list: etree._Element) -> Iterator[tuple[etree._Element, Deal]]:
        """ReleaseDeal (with its release references) per group, then (DealTerms, deal) per deal:
        the caller fills the terms in its version's element order."""
        for refs, deals in _group_deals(self.m.deals):
            rd = _sub(deal_list, "ReleaseDeal")
            for ref in refs:
                _sub(rd, "DealReleaseReference", ref)
            for deal in deals:
                yield _sub(_sub(rd, "Deal"), "DealTerms"), deal

    @staticmethod
    def territories(terms: etree._Element, deal: Deal) -> None:
        for code in deal.territories:
            _sub(terms, "TerritoryCode", code)
        for code in deal.excluded_territories:
            _sub(terms, "ExcludedTerritoryCode", code)

    def value(self, parent: etree._Element, tag: str, field: str, value: str) -> None:
        """An allowed-value element; values the target version lacks become UserDefined."""
        if validation.unavailable(field, value, self.version):
            _sub(parent, tag, validation.USER_DEFINED, {"UserDefinedValue": value})
        else:
            _sub(parent, tag, value)

    def sorted_resources(self) -> list[Resource]:
        """ResourceList children grouped by kind, in the XSD's order (stable within a kind)."""
        order = {kind: i for i, kind in enumerate(validation.RESOURCE_KINDS)}
        return sorted(self.m.resources, key=lambda r: order.get(r.kind, len(order)))

    def resource_title(self, release: Release) -> str | None:
        return validation.derived_release_title(release, self.titles)


# --------------------------------------------------------------------------------------- ERN 4.x

_ID_FIELDS_4X_RELEASE = ("grid", "icpn", "catalog_number", "proprietary")


class _Writer4x(_Writer):
    """ERN 4.1.1 / 4.2 / 4.3: PartyList, Display* elements, ResourceGroup, flat DealTerms."""

    def __init__(self, message: Message, version: str) -> None:
        super().__init__(message, version)
        self.editions = version == "4.3"  # SoundRecordingEdition / VideoEdition are new in 4.3
        self._refs = identifiers.free_references({p.reference for p in message.parties if p.reference})
        # Parties read from ERN 3.x have no reference: they get synthesized ones, in model order.
        self.parties = [p if p.reference else dataclasses.replace(p, reference=next(self._refs))
                        for p in message.parties]
        self.party_by_name: dict[str, str] = {}
        for party in self.parties:
            if party.name and party.reference:
                self.party_by_name.setdefault(party.name, party.reference)

    def party_ref(self, name: str) -> str:
        """The PartyReference for ``name``, synthesizing a party the first time it is needed."""
        ref = self.party_by_name.get(name)
        if ref is None:
            ref = next(self._refs)
            self.party_by_name[name] = ref
            self.parties.append(Party(reference=ref, name=name))
        return ref

    def root(self) -> etree._Element:
        attrs = {"LanguageAndScriptCode": LANGUAGE_DEFAULT}
        if self.version == "4.3":
            attrs["AvsVersionId"] = AVS_VERSION_43
        root = self.make_root(attrs)
        self.header(root, self.m.header, many_ids=False)
        if self.m.message_type == "PurgeReleaseMessage":
            self.purged_release(root)
            return root
        # Resources and releases are written first so every party they need exists, then the
        # PartyList is inserted where the XSD wants it (right after the MessageHeader).
        resource_list = self.resource_list()
        release_list = self.release_list()
        if self.parties:
            root.append(self.party_list())
        root.append(resource_list)
        root.append(release_list)
        if self.m.deals:
            root.append(self.deal_list())
        return root

    def party_list(self) -> etree._Element:
        el = etree.Element("PartyList")
        for party in self.parties:
            p = _sub(el, "Party")
            _sub(p, "PartyReference", party.reference or "")
            if party.name:
                _sub(_sub(p, "PartyName"), "FullName", party.name)
            for pid in party.party_ids:
                if pid:
                    self.detailed_party_id(p, pid)
        return el

    def detailed_party_id(self, parent: etree._Element, value: str) -> None:
        """One PartyId per model id (the model keeps values, not their kind: DPIDs and ISNIs are
        recognised by shape, anything else is a ProprietaryId in the sender's namespace)."""
        el = _sub(parent, "PartyId")
        scheme = identifiers.party_id_scheme(value)
        _sub(el, scheme or "ProprietaryId", value, None if scheme else {"Namespace": self.catalog_namespace})

    def display(self, el: etree._Element, title: str | None, artist: str | None, *, artist_ref: bool) -> None:
        """DisplayTitleText, DisplayTitle, DisplayArtistName and (if wanted) DisplayArtist."""
        if title is not None:
            _sub(el, "DisplayTitleText", title)
            _sub(_sub(el, "DisplayTitle"), "TitleText", title)
        if artist is not None:
            _sub(el, "DisplayArtistName", artist)
            if artist_ref:
                da = _sub(el, "DisplayArtist")
                _sub(da, "ArtistPartyReference", self.party_ref(artist))
                _sub(da, "DisplayArtistRole", "MainArtist")

    # ---- resources

    def resource_list(self) -> etree._Element:
        el = etree.Element("ResourceList")
        for resource in self.sorted_resources():
            self.resource(el, resource)
        return el

    def resource(self, parent: etree._Element, r: Resource) -> None:
        el = _sub(parent, r.kind)
        _sub(el, "ResourceReference", r.reference)
        self.value(el, "Type", r.kind, r.resource_type or validation.default_resource_type(r.kind, self.version))
        artist = r.display_artist or self.resource_artists.get(r.reference)
        if r.kind in ("SoundRecording", "Video"):
            holder = _sub(el, f"{r.kind}Edition") if self.editions else el
            self.id_children(_sub(holder, "ResourceId"), r.ids, ("isrc", "catalog_number", "proprietary"))
            self.display(el, r.title, artist, artist_ref=True)
            if r.duration is not None:
                _sub(el, "Duration", format_duration(r.duration))
            _sub(el, "ParentalWarningType", PARENTAL_WARNING_DEFAULT)
            return
        if r.ids.proprietary or r.kind == "SheetMusic":
            self.id_children(_sub(el, "ResourceId"), r.ids, ("proprietary",))
        self.display(el, r.title, artist if r.kind == "SheetMusic" else r.display_artist, artist_ref=False)

    # ---- releases

    def release_list(self) -> etree._Element:
        el = etree.Element("ReleaseList")
        kinds = [validation.effective_release_kind(r, self.version) for r in self.m.releases]
        for wanted in validation.RELEASE_KINDS:  # Release, then TrackReleases, then ClipReleases
            for release, kind in zip(self.m.releases, kinds, strict=True):
                if kind == wanted:
                    self.main_release(el, release) if kind == "Release" else self.track_release(el, release, kind)
        return el

    def label(self, el: etree._Element, release: Release) -> None:
        if release.label is not None:
            _sub(el, "ReleaseLabelReference", self.party_ref(release.label))

    def main_release(self, parent: etree._Element, r: Release) -> None:
        el = _sub(parent, "Release")
        _sub(el, "ReleaseReference", r.reference)
        self.value(el, "ReleaseType", "release_type", r.release_type or validation.DEFAULT_RELEASE_TYPE_4X)
        self.id_children(_sub(el, "ReleaseId"), r.ids, _ID_FIELDS_4X_RELEASE)
        self.display(el, r.title, r.display_artist, artist_ref=True)
        self.label(el, r)
        if r.p_line is not None:
            self.line(el, "PLine", r.p_line)
        if r.c_line is not None:
            self.line(el, "CLine", r.c_line)
        self.genre(el, r)
        if r.release_date is not None:
            _sub(el, "ReleaseDate", r.release_date)
        _sub(el, "ParentalWarningType", PARENTAL_WARNING_DEFAULT)
        group = _sub(el, "ResourceGroup")
        sub = _SubElement  # the track list is the biggest loop of a build: no helper call per element
        for i, ref in enumerate(r.resource_refs, start=1):
            item = sub(group, "ResourceGroupContentItem")
            sub(item, "SequenceNumber").text = str(i)
            sub(item, "ReleaseResourceReference").text = ref

    def track_release(self, parent: etree._Element, r: Release, kind: str) -> None:
        el = _sub(parent, kind)
        _sub(el, "ReleaseReference", r.reference)
        self.id_children(_sub(el, "ReleaseId"), r.ids, _ID_FIELDS_4X_RELEASE)
        self.display(el, r.title, None, artist_ref=False)
        for ref in r.resource_refs[:1]:
            _sub(el, "ReleaseResourceReference", ref)
        self.label(el, r)
        self.genre(el, r)

    def purged_release(self, root: etree._Element) -> None:
        el = _sub(root, "PurgedRelease")
        for r in self.m.purged_releases[:1]:
            if any((r.ids.grid, r.ids.icpn, r.ids.catalog_number, r.ids.proprietary)):
                self.id_children(_sub(el, "ReleaseId"), r.ids, _ID_FIELDS_4X_RELEASE)
            if r.title is not None:
                _sub(_sub(el, "Title"), "TitleText", r.title)

    # ---- deals

    def deal_list(self) -> etree._Element:
        el = etree.Element("DealList")
        for terms, deal in self.deal_terms(el):
            self.territories(terms, deal)
            self.period(terms, deal)
            for cmt in deal.commercial_model_types:
                self.value(terms, "CommercialModelType", "commercial_model_type", cmt)
            for use in deal.use_types:
                self.value(terms, "UseType", "use_type", use)
        return el


# --------------------------------------------------------------------------------------- ERN 3.8.2


class _Writer3x(_Writer):
    """ERN 3.8.2: ReferenceTitle + DetailsByTerritory, names instead of party references."""

    def root(self) -> etree._Element:
        root = self.make_root({"MessageSchemaVersionId": "ern/382", "LanguageAndScriptCode": LANGUAGE_DEFAULT})
        self.header(root, self.m.header, many_ids=True)
        if self.m.message_type == "PurgeReleaseMessage":
            self.purged_release(root)
            return root
        resources = _sub(root, "ResourceList")
        for resource in self.sorted_resources():
            self.resource(resources, resource)
        releases = _sub(root, "ReleaseList")
        for release in self.m.releases:
            self.release(releases, release)
        if self.m.deals:
            self.deal_list(root)
        return root

    @staticmethod
    def title(parent: etree._Element, title: str | None) -> None:
        if title is not None:
            _sub(_sub(parent, "Title", attrib={"TitleType": "DisplayTitle"}), "TitleText", title)

    @staticmethod
    def artist(parent: etree._Element, name: str) -> None:
        da = _sub(parent, "DisplayArtist")
        _sub(_sub(da, "PartyName"), "FullName", name)
        _sub(da, "ArtistRole", "MainArtist")

    def details(self, parent: etree._Element, tag: str) -> etree._Element:
        el = _sub(parent, tag)
        _sub(el, "TerritoryCode", TERRITORY_DEFAULT_3X)
        return el

    def resource(self, parent: etree._Element, r: Resource) -> None:
        kind = r.kind
        el = _sub(parent, kind)
        if r.resource_type is not None:
            self.value(el, f"{kind}Type", kind, r.resource_type)
        if kind in ("SoundRecording", "Video"):
            if kind == "SoundRecording" or any((r.ids.isrc, r.ids.catalog_number, r.ids.proprietary)):
                self.id_children(_sub(el, f"{kind}Id"), r.ids, ("isrc", "catalog_number", "proprietary"))
            _sub(el, "ResourceReference", r.reference)
            if r.title is not None:
                _sub(_sub(el, "ReferenceTitle"), "TitleText", r.title)
            if r.duration is not None:
                _sub(el, "Duration", format_duration(r.duration))
            details = self.details(el, f"{kind}DetailsByTerritory")
            self.title(details, r.title)
            if r.display_artist is not None:
                self.artist(details, r.display_artist)
                _sub(details, "DisplayArtistName", r.display_artist)
            return
        if kind in ("Image", "Software", "SheetMusic") or r.ids.proprietary:
            self.id_children(_sub(el, f"{kind}Id"), r.ids, ("proprietary",))
        _sub(el, "ResourceReference", r.reference)
        if kind == "SheetMusic":
            _sub(_sub(el, "ReferenceTitle"), "TitleText", r.title or "")
        else:
            self.title(el, r.title)
        details = self.details(el, f"{kind}DetailsByTerritory")
        if r.display_artist is not None:
            _sub(details, "DisplayArtistName", r.display_artist)

    def release(self, parent: etree._Element, r: Release) -> None:
        el = _sub(parent, "Release")
        self.id_children(_sub(el, "ReleaseId"), r.ids, ("grid", "isrc", "icpn", "catalog_number", "proprietary"))
        _sub(el, "ReleaseReference", r.reference)
        title = self.resource_title(r)
        _sub(_sub(el, "ReferenceTitle"), "TitleText", title or "")
        refs = _sub(el, "ReleaseResourceReferenceList")
        for ref in r.resource_refs:
            _sub(refs, "ReleaseResourceReference", ref)
        release_type = r.release_type or ("TrackRelease" if r.kind == "TrackRelease" else None)
        if release_type is not None:
            self.value(el, "ReleaseType", "release_type", release_type)
        details = self.details(el, "ReleaseDetailsByTerritory")
        if r.display_artist is not None:
            _sub(details, "DisplayArtistName", r.display_artist)
        if r.label is not None:
            _sub(details, "LabelName", r.label)
        self.title(details, title)
        if r.display_artist is not None:
            self.artist(details, r.display_artist)
        if r.genre is not None:
            self.genre(details, r)
        if r.release_date is not None:
            _sub(details, "ReleaseDate", r.release_date)
        if r.p_line is not None:
            self.line(el, "PLine", r.p_line)
        if r.c_line is not None:
            self.line(el, "CLine", r.c_line)

    def purged_release(self, root: etree._Element) -> None:
        el = _sub(root, "PurgedRelease")
        for r in self.m.purged_releases[:1]:
            if any((r.ids.grid, r.ids.isrc, r.ids.icpn, r.ids.catalog_number, r.ids.proprietary)):
                self.id_children(_sub(el, "ReleaseId"), r.ids, ("grid", "isrc", "icpn", "catalog_number", "proprietary"))
            self.title(el, r.title)

    def deal_list(self, root: etree._Element) -> None:
        el = _sub(root, "DealList")
        for terms, deal in self.deal_terms(el):
            for cmt in deal.commercial_model_types:
                self.value(terms, "CommercialModelType", "commercial_model_type", cmt)
            usage = _sub(terms, "Usage")
            for use in deal.use_types:
                self.value(usage, "UseType", "use_type", use)
            self.territories(terms, deal)
            self.period(terms, deal)
