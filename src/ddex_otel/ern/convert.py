"""Converting a source document from one ERN version to another, element by element.

A build of a parsed message at another version converts the source document itself (with the
model's edits written in, see ``lossless``) rather than writing the model alone, so it carries
everything the target version can express:

0. between ERN 3.x and 4.x, the family mapping (``mapping``) first reshapes the document (territory
   blocks, inline parties, titles, track lists, deal usage); ERN 4.x versions share their element
   names but for the renames in ``RENAMES``;
1. fitting to the target's content model (``content_models/<code>.json``, derived from the official
   XSDs by ``scripts/gen_content_models.py``): every element is checked against the schema type it
   has in the target; a child the target has elsewhere in the same parent's edition (ERN 4.3's
   ``SoundRecordingEdition``) is moved there, a container the target lacks gives its children back to
   its parent, children are put in the target's order, values the target's allowed-value list lacks
   become ``UserDefined`` with ``UserDefinedValue``, and what the target cannot hold is removed —
   each removal with its reason;
2. required parts the source lacks are filled from documented defaults (below) or from the caller's
   ``defaults``; what remains missing is returned, and ``build`` refuses naming each item.

Defaults written when the target requires a part the source has no value for:
``ParentalWarningType`` ``NoAdviceAvailable``, ``DisplayArtistRole`` ``MainArtist``, a required
allowed-value element ``Unknown`` (else ``UserDefined``), ``LanguageAndScriptCode`` ``en``, 4.3
``AvsVersionId`` ``3``, a nested ``ResourceGroup``'s ``ResourceGroupType`` ``Component``. An optional
detail the target would need a part for that the source lacks (a 3.x ``HashSum`` without its
algorithm) is removed rather than refused.

The loss report (``losses``) compares leaf values: a source value that does not reappear in the
output is reported under the outermost removed element that held it, with the removal's reason, so
the report is exact — what it names is absent, and whatever is absent is named.
``attribute_losses`` does the same for attributes: each source attribute whose element the output
lacks, or keeps without it, is named with the reason.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TypeAlias

from lxml import etree

from ddex_otel.ern import mapping, versions
from ddex_otel.ern.durations import format_duration, parse_duration
from ddex_otel.ern.mapping import MARK

Element: TypeAlias = etree._Element

XSI = "http://www.w3.org/2001/XMLSchema-instance"

DEFAULT_TEXT = {"ParentalWarningType": "NoAdviceAvailable", "DisplayArtistRole": "MainArtist"}
DEFAULT_ATTRIBUTES = {"LanguageAndScriptCode": "en", "AvsVersionId": "3", "ResourceGroupType": "Component"}
#: Containers a value may move into (push-down) or out of (pull-up) between versions: the 4.3
#: editions, and 4.3's DeliveryFile (4.1.1 and 4.2 give the file and its codec in TechnicalDetails).
_EDITIONS = (*mapping.EDITIONS, "DeliveryFile")
#: The Type a DeliveryFile made when pushing file details down takes, by the technical details' type.
_DELIVERY_FILE_TYPE = {"TechnicalSoundRecordingDetails": "AudioFile", "TechnicalVideoDetails": "AudioVisualFile",
                       "SoundRecordingClipDetails": "AudioFile", "VideoClipDetails": "AudioVisualFile"}
#: Elements renamed between versions (either direction), applied where the parent's type lacks the
#: one name and has the other: 4.2's AudioChannelConfiguration is 4.3's RecordingMode (in
#: SoundRecordingEdition); 3.x's HashSum/HashSum and HashSumAlgorithmType are 4.x's HashSumValue
#: and Algorithm.
_PAIRS = (("AudioChannelConfiguration", "RecordingMode"), ("HashSum", "HashSumValue"),
          ("HashSumAlgorithmType", "Algorithm"))
RENAMES = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}
#: Root attributes that name the version itself (rewritten, not carried).
VERSION_ATTRIBUTES = frozenset({"MessageSchemaVersionId", "AvsVersionId", f"{{{XSI}}}schemaLocation"})


@dataclass(frozen=True)
class ContentModel:
    """One version's schema types: children in order (name → position, type, min, max; max -1 is
    unbounded), attributes (name → required) and allowed values."""

    version: str
    roots: dict[str, str]
    types: dict[str, dict]

    def children(self, type_name: str) -> dict[str, tuple[int, str, int, int]]:
        return _children(self, type_name)

    def __hash__(self) -> int:  # one model per version; its tables (dicts) are not hashable
        return hash(self.version)


@functools.cache
def _children(model: ContentModel, type_name: str) -> dict[str, tuple[int, str, int, int]]:
    spec = model.types.get(type_name, {})
    return {name: (i, child, low, high) for i, (name, child, low, high) in enumerate(spec.get("c", ()))}


@functools.cache
def content_model(version: str) -> ContentModel:
    """The content model of ERN ``version`` (4.3, 4.2, 4.1.1, 3.8.2)."""
    code = versions.version_code(version)
    text = resources.files("ddex_otel.ern").joinpath("content_models", f"{code}.json").read_text("utf-8")
    data = json.loads(text)
    return ContentModel(version, data["roots"], data["types"])


@dataclass
class Conversion:
    """The converted tree, what was removed (source element index → reason) and what is missing."""

    root: Element
    source: Element
    removed: dict[int, str] = field(default_factory=dict)
    changed: dict[int, str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (where, what)
    #: Defaults written where the target requires a part the source lacks: (parent, name, value).
    defaulted: list[tuple[Element, str, str]] = field(default_factory=list)
    #: Source attributes removed from an element the output keeps: (index, name) → reason.
    attributes: dict[tuple[int, str], str] = field(default_factory=dict)
    #: Source attributes carried in another form (a 3.x territory block, a 4.x element name).
    consumed: set[tuple[int, str]] = field(default_factory=set)
    #: Source elements whose values a party reference carries → the element holding that reference
    #: (3.x inline party names and labels → 4.x PartyList parties): carried while the holder is kept.
    references: dict[int, int] = field(default_factory=dict)
    #: The output element of each source index still present (set by ``convert``).
    kept: dict[int, Element] = field(default_factory=dict)
    #: Why a value is absent that no removal explains (a family mapping without a place for it).
    unmapped: str = "not carried: the conversion has no place for it"

    def note_removed(self, el: Element, reason: str) -> None:
        """Record why working element ``el`` is removed (its first reason stands)."""
        mark = el.get(MARK)
        if mark is not None:
            self.removed.setdefault(int(mark), reason)

    def note_changed(self, el: Element, reason: str) -> None:
        """Record why working element ``el``'s value is rewritten (its first reason stands)."""
        mark = el.get(MARK)
        if mark is not None:
            self.changed.setdefault(int(mark), reason)


class _Fitter:
    def __init__(self, model: ContentModel, conversion: Conversion, defaults: Mapping[str, str]) -> None:
        self.model = model
        self.c = conversion
        self.defaults = defaults
        self.v = model.version
        self.fitting = ""

    def remove(self, parent: Element, child: Element, reason: str) -> None:
        self.c.note_removed(child, reason)
        parent.remove(child)

    def fit(self, el: Element, type_name: str, depth: int = 0, optional: bool = False) -> str | None:
        """Make ``el`` fit ``type_name``; the reason it cannot, or None.

        A part the target requires in ``el`` and the source lacks (with no default) makes ``el``
        unfit when it is an optional detail (``optional``, below a message object: deeper than
        ``ResourceList/SoundRecording``); in the message's objects and sections it is missing, and
        ``build`` refuses naming it."""
        missing: list[str] = []
        reason = self._fit(el, type_name, depth, missing)
        if reason is None and missing:
            if optional and depth >= 3:
                return (f"ERN {self.v} requires {' and '.join(missing)} in {el.tag} and the source has none "
                        f"(supply it with build(..., defaults=...))")
            self.c.missing.extend((self.where(el), what) for what in missing)
        return reason

    def _fit(self, el: Element, type_name: str, depth: int, missing: list[str]) -> str | None:
        """``fit``'s work: attributes, value, then children; required parts with no value go to ``missing``."""
        spec = self.model.types.get(type_name)
        if spec is None:
            return None  # xs: built-in simple type
        self.fit_attributes(el, spec, missing)
        reason = self.fit_value(el, spec)
        if reason is not None or "c" not in spec:
            return reason
        self.fit_children(el, type_name, depth, missing)
        return None

    def fit_attributes(self, el: Element, spec: dict, missing: list[str]) -> None:
        """Drop the attributes and attribute values the target lacks; write required ones from defaults."""
        allowed = spec.get("a", {})
        for key in list(el.attrib):
            if key == MARK or key.startswith(f"{{{XSI}}}") or key in allowed:
                continue
            self.drop_attribute(el, key, f"ERN {self.v} has no attribute {key} on {el.tag}")
        for key, values in spec.get("ae", {}).items():
            if el.get(key) is not None and el.get(key) not in values:
                # a value the target's list lacks (3.x TitleType="DisplayTitle" in 4.x)
                self.drop_attribute(el, key, f"{el.get(key)!r} is not an allowed {key} in ERN {self.v}")
        for key, required in allowed.items():
            if required and el.get(key) is None:
                value = self.defaults.get(f"@{key}") or DEFAULT_ATTRIBUTES.get(key)
                if value is None:
                    missing.append(f"@{key}")
                else:
                    el.set(key, value)
                    self.c.defaulted.append((el, f"@{key}", value))

    def fit_value(self, el: Element, spec: dict) -> str | None:
        """Fit ``el``'s own text to the target's allowed values and primitive type; the reason it cannot."""
        enum = spec.get("e")
        if enum is not None:
            text = (el.text or "").strip()
            if text and text not in enum:
                if "UserDefined" in enum and "UserDefinedValue" in spec.get("a", {}):
                    el.text = "UserDefined"
                    el.set("UserDefinedValue", text)
                    self.c.note_changed(el, f"{text!r} is not an allowed value in ERN {self.v}: written as "
                                            f"UserDefined with UserDefinedValue={text!r}")
                else:
                    return f"{text!r} is not an allowed value of {el.tag} in ERN {self.v}"
        if "c" not in spec and any(isinstance(c.tag, str) for c in el):
            return f"ERN {self.v} gives {el.tag} a simple value, not elements"
        primitive = spec.get("p")
        if primitive is not None and "c" not in spec:
            text = (el.text or "").strip()
            if text and not _fits_primitive(text, primitive):
                converted = _convert_primitive(text, primitive)
                if converted is None:
                    return f"{text!r} is not an xs:{primitive}, which ERN {self.v} requires for {el.tag}"
                el.text = converted
                self.c.note_changed(el, f"{text!r} written as {converted!r} (ERN {self.v} types {el.tag} as "
                                        f"xs:{primitive})")
        return None

    def fit_children(self, el: Element, type_name: str, depth: int, missing: list[str]) -> None:
        """Fit each child to its target type or remove it, put them in order, default the required ones."""
        model = self.model.children(type_name)
        self.rename(el, model)
        self.fitting = type_name
        self.regroup(el, model)
        counts: Counter[str] = Counter()
        for child in list(el):
            tag = child.tag
            if not isinstance(tag, str):
                el.remove(child)
                continue
            entry = model.get(tag)
            if entry is None:
                self.remove(el, child, f"ERN {self.v} has no {tag} in {el.tag}")
                continue
            _, child_type, low, high = entry
            if high != -1 and counts[tag] >= high:
                self.remove(el, child, f"ERN {self.v} allows {high} {tag} in {el.tag}")
                continue
            reason = self.fit(child, child_type, depth + 1, low == 0)
            if reason is not None:
                self.remove(el, child, reason)
                continue
            counts[tag] += 1
        el[:] = sorted(el, key=lambda c: model[c.tag][0])
        for name, (_, child_type, low, _) in model.items():
            if low >= 1 and counts[name] == 0:
                made = self.default_element(el, name, child_type)
                if made is None:
                    missing.append(name)
                else:
                    el.append(made)
                    self.c.defaulted.append((el, name, "".join(made.itertext())))
                    el[:] = sorted(el, key=lambda c: model[c.tag][0])

    def drop_attribute(self, el: Element, key: str, reason: str) -> None:
        mark = el.get(MARK)
        if mark is not None:
            self.c.attributes.setdefault((int(mark), key), reason)
        del el.attrib[key]

    def rename(self, el: Element, model: dict[str, tuple[int, str, int, int]]) -> None:
        """Children the target knows by another name (``RENAMES``) take that name."""
        for child in el:
            tag = child.tag
            if isinstance(tag, str) and tag not in model and RENAMES.get(tag) in model:
                child.tag = RENAMES[tag]

    def regroup(self, el: Element, model: dict[str, tuple[int, str, int, int]]) -> None:
        """ERN 4.x editions: a child the parent lacks moves into the edition that has it (4.3), an
        edition the parent lacks gives back the children the parent has (4.1.1, 4.2)."""
        for child in list(el):
            tag = child.tag
            if not isinstance(tag, str) or tag in model:
                continue
            if tag in _EDITIONS:
                self.rename(child, model)
                mapping.hoist(child, [grandchild for grandchild in child if grandchild.tag in model])
                continue
            for edition in _EDITIONS:
                entry = model.get(edition)
                if entry is None:
                    continue
                inner = self.model.children(entry[1])
                name = tag if tag in inner else RENAMES.get(tag) if RENAMES.get(tag) in inner else None
                if name is not None:
                    child.tag = name
                    holder = next((c for c in el if c.tag == edition), None)
                    if holder is None:
                        holder = etree.SubElement(el, edition)
                        kind = _DELIVERY_FILE_TYPE.get(self.fitting) if edition == "DeliveryFile" else None
                        if kind is not None:
                            etree.SubElement(holder, "Type").text = kind
                    holder.append(child)
                    break

    def default_element(self, parent: Element, name: str, type_name: str) -> Element | None:
        value = self.defaults.get(f"{parent.tag}/{name}") or self.defaults.get(name) or DEFAULT_TEXT.get(name)
        spec = self.model.types.get(type_name, {})
        if value is None and "e" in spec:
            value = "Unknown" if "Unknown" in spec["e"] else "UserDefined" if "UserDefined" in spec["e"] else None
        if value is None:
            return None
        el = etree.Element(name)
        if "c" in spec:  # a complex part: the value goes into its first required leaf (Genre/GenreText)
            for child, (_, child_type, low, _) in self.model.children(type_name).items():
                if low >= 1:
                    sub = self.default_element(el, child, child_type) if child not in self.defaults else None
                    if sub is None:
                        sub = etree.Element(child)
                        sub.text = value
                    el.append(sub)
                    break
        else:
            el.text = value
        return el

    @staticmethod
    def where(el: Element) -> str:
        return el.getroottree().getpath(el) if el.getparent() is not None else el.tag


_PRIMITIVES = {
    "decimal": re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"),
    "duration": re.compile(r"-?P(?=.)([0-9]+Y)?([0-9]+M)?([0-9]+D)?(T(?=.)([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?"),
    "boolean": re.compile(r"true|false|1|0"),
    "date": re.compile(r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?"),
    "gYear": re.compile(r"-?[0-9]{4,}"),
}


def _fits_primitive(text: str, primitive: str) -> bool:
    pattern = _PRIMITIVES.get(primitive)
    return pattern is None or pattern.fullmatch(text) is not None


def _convert_primitive(text: str, primitive: str) -> str | None:
    """A duration as seconds (4.2 StartPoint) or seconds as a duration (4.3), else None."""
    if primitive == "decimal" and _PRIMITIVES["duration"].fullmatch(text):
        seconds = parse_duration(text)
        return None if seconds is None else f"{seconds:g}"
    if primitive == "duration" and _PRIMITIVES["decimal"].fullmatch(text):
        return format_duration(float(text))
    return None


def defaults_written(conversion: Conversion) -> list[tuple[str, str, str]]:
    """(XPath of the parent in the output, part name, value) of each default the output holds (the
    version attributes, which name the target version itself, aside)."""
    tree = conversion.root.getroottree()
    return [(tree.getpath(parent), name, value) for parent, name, value in conversion.defaulted
            if parent.getroottree().getroot() is conversion.root and name.lstrip("@") not in VERSION_ATTRIBUTES]


def convert(source: Element, source_version: str, target_version: str,
            defaults: Mapping[str, str] | None = None) -> Conversion:
    """Convert the document of root ``source`` (ERN ``source_version``) to ``target_version``."""
    work = copy.deepcopy(source)
    for i, el in enumerate(work.iter()):
        if isinstance(el.tag, str):
            el.set(MARK, str(i))
    local = etree.QName(work).localname
    ns = versions.namespace_for(target_version)
    root = etree.Element(f"{{{ns}}}{local}", nsmap={"ern": ns, "xsi": XSI})
    for key, value in work.attrib.items():
        root.set(key, value)
    root.set(f"{{{XSI}}}schemaLocation", f"{ns} {ns}/release-notification.xsd")
    root.extend(list(work))
    if versions.is_legacy(target_version):
        root.set("MessageSchemaVersionId", f"ern/{versions.version_code(target_version)}")
    conversion = Conversion(root, source)
    model = content_model(target_version)
    fitter = _Fitter(model, conversion, defaults or {})
    type_name = model.roots.get(local)
    if type_name is None:
        conversion.missing.append(("", f"{local} (ERN {target_version} has no such message)"))
    else:
        mapping.to_family(root, source_version, model, conversion)  # 3.x <-> 4.x shapes; 4.x names agree
        fitter.fit(root, type_name)
        mapping.drop_unreferenced_parties(root, source_version)
    for el in root.iter():
        mark = el.attrib.pop(MARK, None) if isinstance(el.tag, str) else None
        if mark is not None:
            conversion.kept.setdefault(int(mark), el)
    etree.cleanup_namespaces(root)  # the marks' namespace declaration goes with them
    return conversion


# ------------------------------------------------------------------------------------- losses

_LEAF_TEXTS = etree.XPath("descendant-or-self::*[not(*)][normalize-space(text())]")


def leaf_values(root: Element) -> Counter[str]:
    """The multiset of stripped leaf text values under ``root``."""
    return Counter(el.text.strip() for el in _LEAF_TEXTS(root))


@dataclass(frozen=True)
class Loss:
    """Source values a conversion does not carry: where (an XPath in the source), why, which values."""

    path: str
    tag: str
    reason: str
    values: tuple[str, ...]


def _wholly_absent(root: Element, absent_leaves: set[int]) -> set[int]:
    """ids of the elements all of whose valued leaves are absent (and that have at least one)."""
    out: set[int] = set()

    def visit(el: Element) -> tuple[int, int]:  # (valued leaves, absent ones)
        children = [c for c in el if isinstance(c.tag, str)]
        if not children:
            valued = 1 if (el.text or "").strip() else 0
            return valued, (1 if id(el) in absent_leaves else 0)
        total = lost = 0
        for child in children:
            t, a = visit(child)
            total, lost = total + t, lost + a
        if total and total == lost:
            out.add(id(el))
        return total, lost

    visit(root)
    return out


def _xpath(tree: etree._ElementTree, el: Element) -> str:
    """``el``'s XPath in ``tree`` with the root written ``/ern:<name>`` whatever the document's prefix."""
    path = tree.getpath(el)
    rest = path[1:].split("/", 1)[1] if "/" in path[1:] else ""
    head = f"/ern:{etree.QName(tree.getroot()).localname}"
    return f"{head}/{rest}" if rest else head


def _source_index(source: Element) -> dict[Element, int]:
    """Each node of the source document → its index (the ``MARK`` its working copy carried)."""
    return {el: i for i, el in enumerate(source.iter())}


_CARRIED = etree.Element("carried")  # ``losses``: a value a kept party reference carries


def losses(conversion: Conversion) -> list[Loss]:
    """Every source leaf value absent from the output, grouped by the innermost removed (or changed)
    element that held it, with that element's reason (a container the target lacks gives its
    children back first: what of it is lost was removed inside it)."""
    source = conversion.source
    index = _source_index(source)
    noted = {**conversion.changed, **conversion.removed}
    left = leaf_values(conversion.root)

    def culprit(el: Element) -> Element | None:
        """The innermost removed or changed element holding ``el``; ``el`` itself when a kept party
        reference carries it. A party name replaced by a reference that is not kept takes the
        reason of what removed the reference's holder."""
        node: Element | None = el
        while node is not None:
            i = index.get(node)
            holder = None if i is None else conversion.references.get(i)
            if holder is not None and holder in conversion.kept:
                return _CARRIED
            if i in noted and (holder is None or holder == i):
                return node
            node = node.getparent()
        return None

    leaves = []
    for el in _LEAF_TEXTS(source):
        value, owner = el.text.strip(), culprit(el)
        if owner is not _CARRIED:
            leaves.append((el, value, owner))
        elif left[value] > 0:  # the party's one PartyList copy is what the references carry
            left[value] -= 1
    absent: list[tuple[Element, str, Element | None]] = []
    # Values outside removed elements claim their output copies first; removed ones share the rest.
    for el, value, owner in sorted(leaves, key=lambda item: item[2] is not None):
        if left[value] > 0:
            left[value] -= 1
        else:
            absent.append((el, value, owner))
    whole = _wholly_absent(source, {id(el) for el, _, _ in absent})
    missing: dict[Element, list[str]] = {}
    for el, value, owner in sorted(absent, key=lambda item: index[item[0]]):
        if owner is None:  # not removed by the conversion: the outermost element lost as a whole
            owner = el
            while owner.getparent() is not None and owner.getparent() is not source and id(owner.getparent()) in whole:
                owner = owner.getparent()
        missing.setdefault(owner, []).append(value)
    tree = source.getroottree()
    out = []
    for el, values in sorted(missing.items(), key=lambda item: index.get(item[0], 0)):
        reason = noted.get(index.get(el, -1)) or conversion.unmapped
        out.append(Loss(_xpath(tree, el), el.tag, reason, tuple(values)))
    return out


@dataclass(frozen=True)
class AttributeLoss:
    """A source attribute the output does not carry: where (an XPath to it in the source) and why."""

    path: str
    tag: str
    name: str
    value: str
    reason: str


def attribute_losses(conversion: Conversion) -> list[AttributeLoss]:
    """Every attribute of the source whose element the output lacks, or keeps without that attribute
    and value (the version attributes of the root are rewritten, not carried); attributes the mapping
    carries in another form (``consumed``) are not losses."""
    source = conversion.source
    tree = source.getroottree()
    index = _source_index(source)
    out: list[AttributeLoss] = []
    for el, i in index.items():
        if not isinstance(el.tag, str) or not el.attrib:
            continue
        kept = conversion.kept.get(i)
        for name, value in el.attrib.items():
            if (el is source and name in VERSION_ATTRIBUTES) or (i, name) in conversion.consumed:
                continue
            if kept is not None and kept.get(name) == value:
                continue
            if kept is not None:
                reason = conversion.attributes.get((i, name)) or conversion.changed.get(i) or conversion.unmapped
            else:
                reason = _removal_reason(conversion, el, index)
            label = etree.QName(name).localname if name.startswith("{") else name
            out.append(AttributeLoss(f"{_xpath(tree, el)}/@{label}", el.tag, label, value, reason))
    return out


def _removal_reason(conversion: Conversion, el: Element, index: dict[Element, int]) -> str:
    """The reason of the innermost removed element holding ``el`` (itself included)."""
    node: Element | None = el
    while node is not None:
        reason = conversion.removed.get(index[node])
        if reason is not None:
            return reason
        node = node.getparent()
    return conversion.unmapped
