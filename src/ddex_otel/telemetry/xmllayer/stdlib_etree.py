"""``xml.etree.ElementTree``: ``fromstring``/``XML`` (one function under two names), ``iterparse``,
``tostring``, ``tostringlist`` and the ``ElementTree.parse`` / ``ElementTree.write`` methods.

The module function ``parse(source)`` (and defusedxml's ``parse``) goes through
``ElementTree.parse``; ``tostring``/``tostringlist`` write through ``ElementTree.write``, which
stays silent inside ``tostring``'s own operation.
"""

from __future__ import annotations

from typing import Any

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Layer

MODULE = "xml.etree.ElementTree"


def facade_targets(layer: Layer, module: Any, prefix: str) -> list[Target]:
    """``fromstring``/``XML`` (one function under two names) and ``iterparse`` of an ElementTree-API
    module (``xml.etree.ElementTree`` or defusedxml's facade), named ``prefix + function``."""
    lib = A.XML_ETREE
    return [
        Target(module, ("fromstring", "XML"), lambda f: calls.memory_parse(layer, lib, prefix + "fromstring", f)),
        Target(module, ("iterparse",), lambda f: calls.iterparse(layer, lib, prefix + "iterparse", f)),
    ]


def targets(layer: Layer) -> list[Target]:
    import xml.etree.ElementTree as ET

    lib = A.XML_ETREE
    name = MODULE + "."
    return [
        *facade_targets(layer, ET, name),
        Target(ET.ElementTree, ("parse",),
               lambda f: calls.source_parse(layer, lib, name + "ElementTree.parse", f, tree=False, method=True)),
        Target(ET, ("tostring",), lambda f: calls.tostring(layer, lib, name + "tostring", f)),
        Target(ET, ("tostringlist",), lambda f: calls.tostring(layer, lib, name + "tostringlist", f)),
        Target(ET.ElementTree, ("write",), lambda f: calls.write_method(layer, lib, name + "ElementTree.write", f)),
    ]
