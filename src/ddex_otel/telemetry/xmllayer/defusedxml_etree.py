"""defusedxml's ElementTree facade: ``fromstring``/``XML`` and ``iterparse``.

Its ``parse`` calls ``xml.etree``'s ``ElementTree.parse`` (covered there, as ``xml.etree``);
``fromstring`` feeds its own parser and ``iterparse`` uses a private pure-Python copy of
``xml.etree``, so both are wrapped here. Spans say ``ddex.xml.library = xml.etree`` (defusedxml is
a safer parser for that library) and name the defusedxml function in ``code.function.name``.
"""

from __future__ import annotations

from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Layer
from ddex_otel.telemetry.xmllayer.stdlib_etree import facade_targets

MODULE = "defusedxml.ElementTree"


def targets(layer: Layer) -> list[Target]:
    import defusedxml.ElementTree as DET

    return facade_targets(layer, DET, MODULE + ".")
