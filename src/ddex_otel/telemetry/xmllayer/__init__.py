"""The XML layer: DDEX-aware spans from an application's own lxml, ``xml.etree``, xmltodict and
defusedxml calls, with no change to its code.

A call is traced when its input is a DDEX document — recognised by a root element in a
``http://ddex.net/xml/`` namespace — and it is not made inside one of our own operations:

=====================================  =================================================
call                                   span
=====================================  =================================================
``fromstring`` / ``XML`` / ``parse``   ``ddex.parse``
``iterparse``                          ``ddex.stream``, first event to exhaustion or close
``tostring`` / ``ElementTree.write``   ``ddex.serialize`` (of a DDEX root element)
``xmltodict.parse`` / ``unparse``      ``ddex.parse`` / ``ddex.serialize``
=====================================  =================================================

Spans carry the contract's attributes (version, message type and id, sender, counts, sizes,
``file.path``) plus ``ddex.xml.library``, ``ddex.standard`` and ``code.function.name``, and record
``ddex.operation.duration`` like the engine's operations. A failed parse gives an error span only
when the input's head declares a DDEX root. Entry point ``ddex_xml`` (``opentelemetry-instrument``;
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=ddex_xml`` turns it off).
"""

from ddex_otel.telemetry.xmllayer.instrumentor import XMLLayerInstrumentor

__all__ = ["XMLLayerInstrumentor"]
