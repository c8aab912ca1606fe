"""Validation of a Message: structural checks and identifier checks, all findings at once.

Levels: ``strict`` (identifier problems are errors), ``warn`` (default: identifier problems are
warnings, structural problems errors), ``off`` (no checks).
``check(message, level) -> ValidationReport`` never raises; ``validate`` is the public name.

Structural problems are the ones that would make a built message wrong whatever the reader
(a missing message id, a track list naming no resource, a date the XSD rejects); identifier
problems are the ones real feeds carry all the time (DDEX's own samples ship ICPNs with wrong
check digits), so they only block a build under ``strict``.

``check(..., target_version="4.3")`` adds what that ERN version needs from the model on top of
the version-neutral checks (ERN 4.x: one main Release, ``PADPIDA`` sender ids, labels and
genres on every release, deal start dates from 4.2 on; ERN 3.x: deal territories and use
types) and warns about every value the target version cannot carry or the builder fills in,
so ``build`` never loses or invents data silently.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ddex_otel.ern import identifiers
from ddex_otel.ern.errors import Finding
from ddex_otel.ern.model import Identifiers, Message, Release, Resource

LEVELS: tuple[str, ...] = ("strict", "warn", "off")
MESSAGE_TYPES: tuple[str, ...] = ("NewReleaseMessage", "PurgeReleaseMessage")
# Children of ResourceList in the order every ERN version requires (3.x MIDI and
# UserDefinedResource are not written by this engine).
RESOURCE_KINDS: tuple[str, ...] = ("SoundRecording", "Video", "Image", "Text", "SheetMusic", "Software")
RELEASE_KINDS: tuple[str, ...] = ("Release", "TrackRelease", "ClipRelease")
CONTROL_TYPES: tuple[str, ...] = ("LiveMessage", "TestMessage")
# Versions ``build`` writes; the target checks below know what each one requires.
BUILD_VERSIONS: tuple[str, ...] = ("4.3", "4.2", "4.1.1", "3.8.2")

# Every ERN version types these references as xs:ID with these patterns.
_REF_PATTERNS = {
    "resource": re.compile(r"A[\d\-_a-zA-Z]+"),
    "release": re.compile(r"R[\d\-_a-zA-Z]+"),
    "party": re.compile(r"P[\d\-_a-zA-Z]+"),
}
_ISO_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}){0,1}(-[0-9]{2}){0,1}")  # ddex_IsoDate
_DATE_TIME = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_YEAR = re.compile(r"[0-9]{4}")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Resource kinds whose XML needs a display artist / a proprietary id in every version written.
_TIMED_KINDS = ("SoundRecording", "Video")
_PROPRIETARY_ID_KINDS = ("Image", "Software")
# Which Identifiers fields each resource kind's id element can hold (same in 3.8.2 and 4.x).
_RESOURCE_ID_FIELDS = {
    "SoundRecording": ("isrc", "catalog_number", "proprietary"),
    "Video": ("isrc", "catalog_number", "proprietary"),
    "Image": ("proprietary",),
    "Text": ("proprietary",),
    "SheetMusic": ("proprietary",),
    "Software": ("proprietary",),
}


# Allowed values that exist in some of the written ERN versions but not in others, taken from the
# DDEX allowed-value-set XSDs of 3.8.2 (avs_20161006), 4.1.1 (avs411), 4.2 (avs20200518) and 4.3
# (allowed-value-sets). A value listed for the target version is written as ``UserDefined`` with
# ``UserDefinedValue`` holding it, so a converted message stays schema-valid and keeps the value.
# (Values that exist in no version are written as given: only the user's XSD copy can judge those.)
_RELEASE_TYPES_NOT_IN_4X = frozenset({
    "AdvertisementVideo", "Animation", "AudioClipRelease", "CorporateFilm", "DocumentImageRelease", "FilmBundle",
    "FrontCoverImageRelease", "IconRelease", "InfomercialVideo", "InteractiveBookletRelease",
    "MusicalWorkClipRelease", "MusicalWorkReadalongVideoRelease", "MusicalWorkTrailerRelease",
    "MusicalWorkVideoChapterRelease", "News", "NonMusicalWorkClipRelease", "NonMusicalWorkReadalongVideoRelease",
    "NonMusicalWorkTrailerRelease", "NonMusicalWorkVideoChapterRelease", "NonSerialAudioVisualRecording",
    "PhotographRelease", "ScreensaverRelease", "ShortFormMusicalWorkVideoRelease",
    "ShortFormNonMusicalWorkVideoRelease", "SingleResourceReleaseWithCoverArt", "TrackRelease", "TrailerVideo",
    "TrayImageRelease", "Unknown", "VideoChapterRelease", "VideoClipRelease", "VideoScreenCaptureRelease",
    "VideoTrackRelease",
})
UNAVAILABLE_VALUES: dict[str, dict[str, frozenset[str]]] = {
    "release_type": {
        "3.8.2": frozenset({"AudioDramaRelease", "ClassicalDigitalBoxedSet", "ClassicalMultimediaAlbum", "DjMix", "Drama",
                            "DramaticoMusicalVideoRelease", "MultimediaDigitalBoxedSet", "PlayList", "ShortFilm",
                            "StemBundle", "VideoMastertoneRelease"}),
        "4.1.1": _RELEASE_TYPES_NOT_IN_4X | {"AudioDramaRelease", "DramaticoMusicalVideoRelease"},
        "4.2": _RELEASE_TYPES_NOT_IN_4X,
        "4.3": _RELEASE_TYPES_NOT_IN_4X,
    },
    "use_type": {
        "3.8.2": frozenset({"Cable", "Dub", "DubForOnDemandStreaming", "Perform", "Use"}),
        "4.1.1": frozenset({"DubForOnDemandStreaming"}),
        "4.2": frozenset({"AsPerContract", "DubForOnDemandStreaming", "Unknown"}),
        "4.3": frozenset({"AsPerContract", "DubForAdvertisement", "Unknown"}),
    },
    "commercial_model_type": {
        "4.2": frozenset({"AsPerContract", "Unknown"}),
        "4.3": frozenset({"AsPerContract", "Unknown"}),
    },
    "SoundRecording": {
        "3.8.2": frozenset({"AudioStem", "Clip"}),
        "4.1.1": frozenset({"AudioStem", "Clip"}),
        "4.2": frozenset({"Clip"}),
    },
    "Video": {
        "3.8.2": frozenset({"AdultContent", "AdviceMagazine", "BalletVideo", "BlackAndWhiteVideo", "ChildrensFilm", "Clip",
                            "ColorizedVideo", "ColumnVideo", "Drama", "DramaticoMusicalVideo", "Fiction",
                            "FrontCoverVideo", "InteractiveResource", "Magazine", "ReadalongVideo", "RealityTvShowVideo",
                            "SerialAudioVisualRecording", "SilentVideo", "SketchVideo", "SoapSitcom", "TvProgram",
                            "VideoClip", "VideoReport", "WebResource"}),
        "4.1.1": frozenset({"Clip", "DramaticoMusicalVideo", "FrontCoverVideo"}),
        "4.2": frozenset({"Clip", "FrontCoverVideo"}),
        # 4.3 types Video/Type with the short VideoType_ERN43 list (Clip, FrontCoverVideo,
        # Long/ShortForm[Non]MusicalWorkVideo, UserDefined): every other video type is unavailable.
        "4.3": frozenset({
            "AdultContent", "AdvertisementVideo", "AdviceMagazine", "Animation", "BalletVideo", "BehindTheScenes",
            "BlackAndWhiteVideo", "ChildrensFilm", "ColorizedVideo", "ColumnVideo", "ConcertClip", "ConcertVideo",
            "CorporateFilm", "Credits", "Documentary", "Drama", "DramaticoMusicalVideo", "EducationalVideo", "Episode",
            "FeatureFilm", "Fiction", "InfomercialVideo", "InteractiveResource", "Interview", "Karaoke",
            "LiveEventVideo", "LyricVideo", "Magazine", "Menu", "MultimediaVideo", "MusicalWorkClip",
            "MusicalWorkReadalongVideo", "MusicalWorkTrailer", "MusicalWorkVideoChapter", "News", "NonMusicalWorkClip",
            "NonMusicalWorkReadalongVideo", "NonMusicalWorkTrailer", "NonMusicalWorkVideoChapter",
            "NonSerialAudioVisualRecording", "OperaVideo", "Performance", "ReadalongVideo", "RealityTvShowVideo",
            "Season", "SerialAudioVisualRecording", "Series", "ShortFilm", "SilentVideo", "SketchVideo", "SoapSitcom",
            "SpecialEvent", "Sport", "TheatricalWorkVideo", "TrailerVideo", "TvFilm", "TvProgram", "TvShowVideo",
            "Unknown", "VideoChapter", "VideoClip", "VideoReport", "VideoStem", "WebResource",
        }),
    },
    "Image": {v: frozenset({"Portrait"}) for v in ("3.8.2", "4.1.1", "4.2")},
}
USER_DEFINED = "UserDefined"


def unavailable(field: str, value: str | None, version: str) -> bool:
    """True when ``value`` of ``field`` (or of a resource kind's type) does not exist in ``version``."""
    return value is not None and value in UNAVAILABLE_VALUES.get(field, {}).get(version, frozenset())


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """All findings of one validation run."""

    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


class _Findings:
    """Collects findings; ``ident`` picks the severity identifier problems get at this level."""

    def __init__(self, level: str) -> None:
        self.items: list[Finding] = []
        self.ident_severity = "error" if level == "strict" else "warning"

    def error(self, code: str, message: str, path: str) -> None:
        self.items.append(Finding("error", code, message, path))

    def warning(self, code: str, message: str, path: str) -> None:
        self.items.append(Finding("warning", code, message, path))

    def ident(self, code: str, message: str, path: str) -> None:
        self.items.append(Finding(self.ident_severity, code, message, path))


def check(message: Message, level: str = "warn", *, target_version: str | None = None,
          target_rules: str = "model") -> ValidationReport:
    """Every finding for ``message`` at ``level`` (plus ``target_version``'s needs); never raises.

    ``target_rules`` (set by ``build``): ``"model"`` checks what the model writer needs;
    ``"converted"`` (a parsed source converted to another version, whose conversion checks the
    target's schema needs itself) keeps only the message-party DPID rule of ERN 4.x;
    ``"unmodified"`` (a parsed message re-emitted at its own version, as it came) reports the target's
    business rules as warnings: the schema, not these rules, decides what that version accepts.
    """
    if level not in LEVELS:
        return ValidationReport(
            (Finding("error", "bad-level", f"unknown validation level {level!r}; use one of {', '.join(LEVELS)}"),)
        )
    if level == "off":
        return ValidationReport()
    out = _Findings(level)
    try:
        _check_message(message, out)
        if target_version is not None and target_rules == "converted":
            if is_4x(target_version):
                _check_message_party_ids(message, target_version, out)
        elif target_version is not None:
            target = _Findings(level) if target_rules == "unmodified" else out
            _check_target(message, target_version, target)
            if target is not out:
                for f in target.items:
                    if f.severity == "error":
                        f = Finding("warning", f.code, f"{f.message} (the unmodified source is re-emitted as it came: "
                                    "a same-version build does not repair it)", f.path)
                    out.items.append(f)
    except Exception as exc:  # noqa: BLE001 - a malformed model must become a finding, not a crash
        out.error("invalid-model", f"the model could not be checked: {type(exc).__name__}: {exc}", "")
    return ValidationReport(tuple(out.items))


def validate(message: Message, level: str = "warn") -> ValidationReport:
    """Validate ``message`` alone and return every finding (raises nothing for findings)."""
    return check(message, level)


# ---------------------------------------------------------------- helpers shared with the builder


def is_4x(version: str) -> bool:
    """True for ERN 4.x targets (PartyList, DisplayTitle, ResourceGroup shape)."""
    return version.startswith("4.")


def effective_release_kind(release: Release, version: str) -> str:
    """The ReleaseList child ``release`` becomes in ``version``.

    ERN 3.x has only ``Release`` (a track release is a Release typed ``TrackRelease``); ERN 4.x
    has a dedicated ``TrackRelease`` element, so a 3.x release typed ``TrackRelease`` becomes one.
    """
    if not is_4x(version):
        return "Release"
    if release.kind == "Release" and release.release_type == "TrackRelease":
        return "TrackRelease"
    return release.kind


def derived_resource_artists(message: Message) -> dict[str, str]:
    """Display artist per resource reference, falling back to the first release listing it.

    ERN 3.x resources often omit DisplayArtistName ("same as the release"); ERN 4.x requires it.
    """
    out: dict[str, str] = {}
    for release in message.releases:
        if release.display_artist:
            for ref in release.resource_refs:
                out.setdefault(ref, release.display_artist)
    for resource in message.resources:
        if resource.display_artist:
            out[resource.reference] = resource.display_artist
    return out


def resource_titles(message: Message) -> dict[str, str | None]:
    """Title per resource reference (first one wins), for ``derived_release_title``."""
    out: dict[str, str | None] = {}
    for resource in message.resources:
        out.setdefault(resource.reference, resource.title)
    return out


def derived_release_title(release: Release, titles: dict[str, str | None]) -> str | None:
    """A release's title, or for a single-resource release without one, its resource's title
    (``titles`` from ``resource_titles``). ERN 3.x requires a title on every release."""
    if release.title:
        return release.title
    if len(release.resource_refs) == 1:
        return titles.get(release.resource_refs[0])
    return None


# ------------------------------------------------------------------------ version-neutral checks


def _check_message(message: Message, out: _Findings) -> None:
    if message.message_type not in MESSAGE_TYPES:
        out.error("unsupported-message-type",
                  f"message type {message.message_type!r} is not one of {', '.join(MESSAGE_TYPES)}",
                  "message_type")
    _check_text(message, out)
    _check_header(message, out)
    _check_parties(message, out)
    _check_resources(message, out)
    _check_releases(message, out)
    _check_deals(message, out)
    if message.message_type == "PurgeReleaseMessage" and (len(message.purged_releases) != 1 or message.releases):
        out.error("purge-release-count",
                  f"a PurgeReleaseMessage names exactly one purged release (in purged_releases) and no release; "
                  f"found {len(message.purged_releases)} purged, {len(message.releases)} releases",
                  "purged_releases")
    elif message.purged_releases and message.message_type != "PurgeReleaseMessage":
        out.error("purge-release-count", "only a PurgeReleaseMessage has purged releases", "purged_releases")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")) if dataclasses.is_dataclass(cls) else ()
        _FIELD_NAMES[cls] = names
    return names


def _collect_strings(value: object, acc: list[str]) -> None:
    """Every str inside a model object (fast: no paths; field names cached per class).

    Objects exactly as ``parse`` read them (``_parsed``) are skipped: libxml2 accepted their text.
    """
    if getattr(value, "_parsed", False):
        return
    for name in _field_names(type(value)):
        item = getattr(value, name)
        if item is None:
            continue
        if type(item) is str:
            acc.append(item)
        elif type(item) is tuple:
            for element in item:
                if type(element) is str:
                    acc.append(element)
                elif element is not None:
                    _collect_strings(element, acc)
        else:
            _collect_strings(item, acc)


def _iter_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every str inside a model object with its path (slow; only used to locate problems)."""
    if isinstance(value, str):
        yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _iter_strings(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _iter_strings(item, f"{path}[{i}]")


def _check_text(message: Message, out: _Findings) -> None:
    strings: list[str] = []
    _collect_strings(message, strings)
    if not _XML_ILLEGAL.search("\n".join(strings)):  # one scan for the common, clean case
        return
    for path, text in _iter_strings(message, ""):
        if _XML_ILLEGAL.search(text):
            out.error("illegal-xml-character", "text contains a character XML 1.0 cannot carry", path)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _check_header(message: Message, out: _Findings) -> None:
    header = message.header
    if header.message_id is None:
        out.error("missing-field", "message id (MessageId) is required", "header.message_id")
    elif not header.message_id.strip():
        out.warning("empty-field", "message id is empty", "header.message_id")
    sender = header.sender
    if sender is None or not any(not _blank(pid) for pid in sender.party_ids):
        out.error("missing-field", "the message sender needs a party id (MessageSender/PartyId)",
                  "header.sender.party_ids")
    if not header.recipients:
        out.error("missing-field", "at least one message recipient is required (MessageRecipient)",
                  "header.recipients")
    for i, recipient in enumerate(header.recipients):
        if not any(not _blank(pid) for pid in recipient.party_ids):
            out.error("missing-field", "a message recipient needs a party id", f"header.recipients[{i}].party_ids")
    if header.created is None:
        out.error("missing-field",
                  "creation time (MessageCreatedDateTime) is required; the builder never invents timestamps",
                  "header.created")
    elif not _DATE_TIME.fullmatch(header.created):
        out.error("bad-datetime", f"creation time {header.created!r} is not an xs:dateTime", "header.created")
    if header.control_type is not None and header.control_type not in CONTROL_TYPES:
        out.error("bad-value",
                  f"control type {header.control_type!r} is not one of {', '.join(CONTROL_TYPES)}",
                  "header.control_type")


def _check_references(refs: Iterable[tuple[str, str | None]], kind: str, out: _Findings, *,
                      optional: bool = False) -> set[str]:
    """Missing, malformed and duplicate references of one kind; returns the good ones."""
    seen: set[str] = set()
    for path, ref in refs:
        if _blank(ref):
            if not optional:
                out.error("missing-field", f"{kind} reference is required", path)
            continue
        assert ref is not None
        if not _REF_PATTERNS[kind].fullmatch(ref):
            out.error("bad-reference",
                      f"{kind} reference {ref!r} does not match {_REF_PATTERNS[kind].pattern}", path)
        if ref in seen:
            out.error("duplicate-reference", f"{kind} reference {ref!r} is used more than once", path)
        seen.add(ref)
    return seen


def _check_parties(message: Message, out: _Findings) -> None:
    # Parties read from ERN 3.x have no reference (there is no PartyList); 4.x builds give them one.
    _check_references(((f"parties[{i}].reference", p.reference) for i, p in enumerate(message.parties)),
                      "party", out, optional=True)
    for i, party in enumerate(message.parties):
        if _blank(party.name) and not any(not _blank(pid) for pid in party.party_ids):
            out.error("missing-field", "a party needs a name or a party id", f"parties[{i}]")


def _res_path(i: int, resource: Resource) -> str:
    return f"resources[{i}]({resource.reference})"


def _rel_path(i: int, release: Release) -> str:
    return f"releases[{i}]({release.reference})"


def _check_resources(message: Message, out: _Findings) -> None:
    _check_references(((f"resources[{i}].reference", r.reference) for i, r in enumerate(message.resources)),
                      "resource", out)
    for i, resource in enumerate(message.resources):
        path = _res_path(i, resource)
        if resource.kind not in RESOURCE_KINDS:
            out.error("unsupported-kind",
                      f"resource kind {resource.kind!r} is not one of {', '.join(RESOURCE_KINDS)}", f"{path}.kind")
        if resource.kind in _TIMED_KINDS + ("SheetMusic",) and _blank(resource.title):
            out.error("missing-field", f"a {resource.kind} needs a title", f"{path}.title")
        if resource.kind in _TIMED_KINDS and resource.duration is None:
            out.error("missing-field", f"a {resource.kind} needs a duration", f"{path}.duration")
        if resource.duration is not None and (not math.isfinite(resource.duration) or resource.duration < 0):
            out.error("bad-duration", f"duration {resource.duration!r} is not a non-negative number of seconds",
                      f"{path}.duration")
        if resource.kind in _PROPRIETARY_ID_KINDS and not resource.ids.proprietary:
            out.error("missing-field", f"an {resource.kind} needs at least one proprietary id",
                      f"{path}.ids.proprietary")
        _check_identifiers(resource.ids, f"{path}.ids", out)


def _check_line(line: object, path: str, out: _Findings) -> None:
    year = getattr(line, "year", None)
    if year is not None and not _YEAR.fullmatch(year):
        out.error("bad-year", f"year {year!r} is not a four-digit year", f"{path}.year")


def _check_releases(message: Message, out: _Findings) -> None:
    purge = message.message_type == "PurgeReleaseMessage"
    if purge:  # a PurgedRelease has no reference: it is identified by its ReleaseId
        for i, release in enumerate(message.purged_releases):
            if release.kind != "PurgedRelease":
                out.error("unsupported-kind", f"a PurgeReleaseMessage holds a PurgedRelease, not a {release.kind}",
                          f"purged_releases[{i}].kind")
            _check_identifiers(release.ids, f"purged_releases[{i}].ids", out)
        return
    _check_references(((f"releases[{i}].reference", r.reference) for i, r in enumerate(message.releases)),
                      "release", out)
    resource_refs = {r.reference for r in message.resources}
    for i, release in enumerate(message.releases):
        path = _rel_path(i, release)
        if release.kind not in RELEASE_KINDS:
            out.error("unsupported-kind",
                      f"release kind {release.kind!r} is not one of {', '.join(RELEASE_KINDS)}", f"{path}.kind")
        if release.kind == "Release" and _blank(release.title):
            out.error("missing-field", "a release needs a title", f"{path}.title")
        for j, ref in enumerate(release.resource_refs):
            if ref not in resource_refs:
                out.error("dangling-reference", f"track list names resource {ref!r}, which is not in the message",
                          f"{path}.resource_refs[{j}]")
        if release.release_date is not None and not _ISO_DATE.fullmatch(release.release_date):
            out.error("bad-date", f"release date {release.release_date!r} is not YYYY[-MM[-DD]]",
                      f"{path}.release_date")
        if release.p_line is not None:
            _check_line(release.p_line, f"{path}.p_line", out)
        if release.c_line is not None:
            _check_line(release.c_line, f"{path}.c_line", out)
        _check_identifiers(release.ids, f"{path}.ids", out)


def _date_kind(value: str) -> str | None:
    if _ISO_DATE.fullmatch(value):
        return "date"
    if _DATE_TIME.fullmatch(value):
        return "datetime"
    return None


def _check_deals(message: Message, out: _Findings) -> None:
    release_refs = {r.reference for r in message.releases}
    for i, deal in enumerate(message.deals):
        path = f"deals[{i}]"
        if not deal.release_refs:
            out.error("missing-field", "a deal must name at least one release", f"{path}.release_refs")
        for j, ref in enumerate(deal.release_refs):
            if ref not in release_refs:
                out.error("dangling-reference", f"deal names release {ref!r}, which is not in the message",
                          f"{path}.release_refs[{j}]")
        if deal.territories and deal.excluded_territories:
            out.error("conflicting-fields", "a deal lists territories or excluded territories, not both",
                      f"{path}.excluded_territories")
        kinds = set()
        for name in ("start_date", "end_date"):
            value = getattr(deal, name)
            if value is None:
                continue
            kind = _date_kind(value)
            if kind is None:
                out.error("bad-date", f"{name.replace('_', ' ')} {value!r} is neither a date nor a date-time",
                          f"{path}.{name}")
            kinds.add(kind)
        if len(kinds - {None}) > 1:
            out.error("conflicting-fields", "start and end must both be dates or both be date-times", path)
        if deal.start_date and deal.end_date and len(kinds) == 1 and deal.end_date < deal.start_date:
            out.warning("bad-period", "the deal ends before it starts", path)


def _check_identifiers(ids: Identifiers, path: str, out: _Findings) -> None:
    checks: tuple[tuple[str, str | None, Callable[[str], str | None], str], ...] = (
        ("isrc", ids.isrc, identifiers.isrc_problem, "bad-isrc"),
        ("icpn", ids.icpn, identifiers.icpn_problem, "bad-icpn"),
        ("grid", ids.grid, identifiers.grid_problem, "bad-grid"),
    )
    for name, value, problem_of, code in checks:
        if value is None:
            continue
        problem = problem_of(value)
        if problem:
            out.ident(code, problem, f"{path}.{name}")


# ---------------------------------------------------------------------------- target checks


def _check_target(message: Message, version: str, out: _Findings) -> None:
    if version not in BUILD_VERSIONS:
        out.error("unsupported-version", f"cannot build ERN {version}; supported: {', '.join(BUILD_VERSIONS)}",
                  "")
        return
    _check_target_values(message, version, out)
    _check_target_resources(message, version, out)
    if is_4x(version):
        _check_target_4x(message, version, out)
    else:
        _check_target_3x(message, out)


def _user_defined(out: _Findings, version: str, value: str, path: str) -> None:
    out.warning("user-defined-value", f"{value!r} is not an allowed value in ERN {version}; written as "
                f"{USER_DEFINED} with UserDefinedValue={value!r}", path)


def _check_target_values(message: Message, version: str, out: _Findings) -> None:
    for i, resource in enumerate(message.resources):
        if unavailable(resource.kind, resource.resource_type, version):
            _user_defined(out, version, resource.resource_type or "", f"{_res_path(i, resource)}.resource_type")
    for i, release in enumerate(message.releases):
        if effective_release_kind(release, version) == "Release" and unavailable(
                "release_type", release.release_type, version):
            _user_defined(out, version, release.release_type or "", f"{_rel_path(i, release)}.release_type")
    for i, deal in enumerate(message.deals):
        for field, values in (("commercial_model_type", deal.commercial_model_types), ("use_type", deal.use_types)):
            for j, value in enumerate(values):
                if unavailable(field, value, version):
                    _user_defined(out, version, value, f"deals[{i}].{field}s[{j}]")


def _check_target_resources(message: Message, version: str, out: _Findings) -> None:
    artists = derived_resource_artists(message)
    for i, resource in enumerate(message.resources):
        path = _res_path(i, resource)
        allowed = _RESOURCE_ID_FIELDS.get(resource.kind, ())
        for name in ("isrc", "icpn", "grid", "catalog_number"):
            if getattr(resource.ids, name) is not None and name not in allowed:
                out.warning("dropped-value", f"ERN {version} has no {name} for a {resource.kind}; not written",
                            f"{path}.ids.{name}")
        if resource.duration is not None and resource.kind not in _TIMED_KINDS:
            out.warning("dropped-value", f"ERN {version} has no duration for a {resource.kind}; not written",
                        f"{path}.duration")
        if not is_4x(version):
            continue
        needs_artist = resource.kind in _TIMED_KINDS + ("SheetMusic",)
        if needs_artist and not resource.display_artist:
            if resource.reference in artists:
                out.warning("derived-value",
                            f"no display artist; ERN {version} requires one, so the release's "
                            f"({artists[resource.reference]!r}) is written", f"{path}.display_artist")
            else:
                out.error("missing-field", f"ERN {version} requires a display artist for a {resource.kind}",
                          f"{path}.display_artist")
        if resource.resource_type is None:
            out.warning("default-value",
                        f"no resource type; ERN {version} requires one, so {default_resource_type(resource.kind, version)!r} "
                        "is written", f"{path}.resource_type")


def default_resource_type(kind: str, version: str) -> str:
    """The neutral Type a 4.x resource gets when the model has none (``Unknown``, or ``UserDefined``
    where the version's list has no Unknown: SheetMusic, and 4.3 Video)."""
    return USER_DEFINED if kind == "SheetMusic" or (kind == "Video" and version == "4.3") else "Unknown"


DEFAULT_RELEASE_TYPE_4X = "UserDefined"  # ReleaseType_ERN4 has no "Unknown"


def _check_message_party_ids(message: Message, version: str, out: _Findings) -> None:
    header = message.header
    parties = [("header.sender", header.sender)] + [
        (f"header.recipients[{i}]", p) for i, p in enumerate(header.recipients)]
    for path, party in parties:
        if party is None or not party.party_ids:
            continue
        if identifiers.party_id_scheme(party.party_ids[0]) != "DPID":  # 4.x MessagingPartyWithoutCode/PartyId
            out.error("bad-party-id", f"ERN {version} message parties need a DPID (PADPIDA…); "
                      f"got {party.party_ids[0]!r}: supply one by replacing {path}.party_ids "
                      "(dataclasses.replace)", f"{path}.party_ids[0]")
        if len(party.party_ids) > 1:
            out.warning("dropped-value", f"ERN {version} carries one party id per message party; "
                        "only the first is written", f"{path}.party_ids")


def _check_target_4x(message: Message, version: str, out: _Findings) -> None:
    _check_message_party_ids(message, version, out)
    if message.message_type == "PurgeReleaseMessage":
        for i, release in enumerate(message.releases):
            if release.ids.isrc is not None:
                out.warning("dropped-value", f"ERN {version} release ids have no ISRC; not written",
                            f"{_rel_path(i, release)}.ids.isrc")
        return
    kinds = [effective_release_kind(r, version) for r in message.releases]
    if kinds.count("Release") > 1:
        out.error("too-many-main-releases",
                  f"ERN {version} allows one main Release per message; found {kinds.count('Release')}", "releases")
    for i, (release, kind) in enumerate(zip(message.releases, kinds, strict=True)):
        path = _rel_path(i, release)
        if kind == "ClipRelease" and version != "4.3":
            out.error("unsupported-kind", f"ERN {version} has no ClipRelease (new in 4.3)", f"{path}.kind")
        if kind != "Release" and len(release.resource_refs) != 1:
            out.error("bad-track-list", f"an ERN {version} {kind} names exactly one resource; "
                      f"found {len(release.resource_refs)}", f"{path}.resource_refs")
        if _blank(release.label):
            out.error("missing-field", f"ERN {version} requires a label for every release", f"{path}.label")
        if _blank(release.genre):
            out.error("missing-field", f"ERN {version} requires a genre for every release", f"{path}.genre")
        if release.ids.isrc is not None:
            out.warning("dropped-value", f"ERN {version} release ids have no ISRC; not written", f"{path}.ids.isrc")
        if kind == "Release":
            if _blank(release.display_artist):
                out.error("missing-field", f"ERN {version} requires a display artist for the main Release",
                          f"{path}.display_artist")
            if release.release_type is None:
                out.warning("default-value", f"no release type; ERN {version} requires one, so "
                            f"{DEFAULT_RELEASE_TYPE_4X!r} is written", f"{path}.release_type")
        else:
            dropped = [name for name in ("display_artist", "release_date", "p_line", "c_line")
                       if getattr(release, name) is not None]
            if release.release_type not in (None, "TrackRelease"):
                dropped.append("release_type")
            for name in dropped:
                out.warning("dropped-value", f"an ERN {version} {kind} has no {name}; not written", f"{path}.{name}")
    if version in ("4.2", "4.3"):
        for i, deal in enumerate(message.deals):
            if deal.start_date is None:
                out.error("missing-field", f"ERN {version} deals need a start date (ValidityPeriod/StartDate)",
                          f"deals[{i}].start_date")


def _check_target_3x(message: Message, out: _Findings) -> None:
    named = {r.display_artist for r in message.releases} | {r.label for r in message.releases}
    named |= {r.display_artist for r in message.resources}
    lost = [p for p in message.parties if p.name not in named]
    if lost:
        out.warning("dropped-value", f"ERN 3.8.2 has no PartyList; {len(lost)} part(y/ies) not named as an artist "
                    "or label are not written", "parties")
    if message.message_type == "PurgeReleaseMessage":
        return
    titles = resource_titles(message)
    for i, release in enumerate(message.releases):
        path = _rel_path(i, release)
        if not release.title:
            title = derived_release_title(release, titles)
            if title:
                out.warning("derived-value", f"no title; ERN 3.8.2 requires one, so its resource's ({title!r}) "
                            "is written", f"{path}.title")
            elif release.kind != "Release":  # main releases already reported
                out.error("missing-field", "ERN 3.8.2 requires a title for every release", f"{path}.title")
        if not release.resource_refs:
            out.error("missing-field", "an ERN 3.8.2 release lists at least one resource", f"{path}.resource_refs")
        if release.kind == "ClipRelease":
            out.warning("dropped-value", "ERN 3.8.2 has no ClipRelease; written as a Release", f"{path}.kind")
    for i, deal in enumerate(message.deals):
        if not deal.territories and not deal.excluded_territories:
            out.error("missing-field", "ERN 3.8.2 deals need territories", f"deals[{i}].territories")
        if not deal.use_types:
            out.error("missing-field", "ERN 3.8.2 deals need at least one use type", f"deals[{i}].use_types")
