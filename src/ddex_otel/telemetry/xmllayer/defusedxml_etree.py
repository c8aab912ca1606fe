"""defusedxml's ElementTree facade: ``fromstring``/``XML`` and ``iterparse``.

Its ``parse`` calls ``xml.etree``'s ``ElementTree.parse`` (covered there, as ``xml.etree``);
``fromstring`` feeds its own parser and ``iterparse`` uses a private pure-Python copy of
``xml.etree``, so both are wrapped here. Spans say ``ddex.xml.library = xml.etree`` (defusedxml is
a safer parser for that library) and name the defusedxml function in ``code.function.name``.
"""

from __future__ import annotations

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Layer

MODULE = "defusedxml.ElementTree"


def targets(layer: Layer) -> list[Target]:
    import defusedxml.ElementTree as DET

    lib = A.XML_ETREE
    name = "defusedxml.ElementTree."
    return [
        Target(DET, ("fromstring", "XML"), lambda f: calls.memory_parse(layer, lib, name + "fromstring", f)),
        Target(DET, ("iterparse",), lambda f: calls.iterparse(layer, lib, name + "iterparse", f)),
    ]
