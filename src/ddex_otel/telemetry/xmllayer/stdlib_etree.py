"""``xml.etree.ElementTree``: ``fromstring``/``XML`` (one function under two names), ``iterparse``,
``tostring``, ``tostringlist`` and the ``ElementTree.parse`` / ``ElementTree.write`` methods.

The module function ``parse(source)`` (and defusedxml's ``parse``) goes through
``ElementTree.parse``; ``tostring``/``tostringlist`` write through ``ElementTree.write``, which
stays silent inside ``tostring``'s own operation.
"""

from __future__ import annotations

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Layer

MODULE = "xml.etree.ElementTree"


def targets(layer: Layer) -> list[Target]:
    import xml.etree.ElementTree as ET

    lib = A.XML_ETREE
    name = "xml.etree.ElementTree."
    return [
        Target(ET, ("fromstring", "XML"), lambda f: calls.memory_parse(layer, lib, name + "fromstring", f)),
        Target(ET.ElementTree, ("parse",),
               lambda f: calls.source_parse(layer, lib, name + "ElementTree.parse", f, tree=False, method=True)),
        Target(ET, ("iterparse",), lambda f: calls.iterparse(layer, lib, name + "iterparse", f)),
        Target(ET, ("tostring",), lambda f: calls.tostring(layer, lib, name + "tostring", f)),
        Target(ET, ("tostringlist",), lambda f: calls.tostring(layer, lib, name + "tostringlist", f)),
        Target(ET.ElementTree, ("write",), lambda f: calls.write_method(layer, lib, name + "ElementTree.write", f)),
    ]
