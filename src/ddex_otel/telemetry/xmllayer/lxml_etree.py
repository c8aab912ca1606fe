"""lxml: ``etree.fromstring``, ``XML``, ``parse``, ``iterparse`` and ``tostring``.

lxml's functions are compiled (Cython) functions of ``lxml.etree``: they are replaced as module
attributes, so ``etree.fromstring(...)`` and ``from lxml.etree import fromstring`` done *after*
instrumentation reach the wrapper; a name bound before it keeps the original. ``_ElementTree.write``
and the parser classes' ``feed``/``close`` are methods of compiled types, which cannot be replaced:
they are not covered (``tostring`` is).
"""

from __future__ import annotations

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Layer

MODULE = "lxml.etree"


def _tag_filtered(args: tuple, kwargs: dict) -> bool:
    """``iterparse(source, events, tag, …)``: a ``tag`` filter hides the elements the counts need."""
    return kwargs.get("tag") is not None or (len(args) > 1 and args[1] is not None)


def targets(layer: Layer) -> list[Target]:
    from lxml import etree

    lib = A.XML_LXML
    return [
        Target(etree, ("fromstring",), lambda f: calls.memory_parse(layer, lib, "lxml.etree.fromstring", f)),
        Target(etree, ("XML",), lambda f: calls.memory_parse(layer, lib, "lxml.etree.XML", f)),
        Target(etree, ("parse",),
               lambda f: calls.source_parse(layer, lib, "lxml.etree.parse", f, tree=True)),
        Target(etree, ("iterparse",),
               lambda f: calls.iterparse(layer, lib, "lxml.etree.iterparse", f, _tag_filtered)),
        Target(etree, ("tostring",), lambda f: calls.tostring(layer, lib, "lxml.etree.tostring", f)),
    ]
