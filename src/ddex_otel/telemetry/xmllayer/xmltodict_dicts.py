"""xmltodict: ``parse`` and ``unparse``.

xmltodict parses with expat into nested dicts, so the facts come from the dict: the root key
(``ern:NewReleaseMessage``, or ``http://ddex.net/xml/ern/43:NewReleaseMessage`` with
``process_namespaces=True``) with its ``@xmlns…`` declaration, and the ReleaseList / ResourceList /
DealList / MessageHeader entries under it. Streaming mode (``item_depth`` with a callback) returns
no document: its span has the version and type from the input's head but no counts.
"""

from __future__ import annotations

from typing import Any

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.detect import (
    Facts,
    InputFacts,
    Root,
    dict_facts,
    dict_root,
    file_size,
    size_of,
    sniff,
    sniff_source,
)
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Call, Layer, inside_operation, record_parse, record_serialize

MODULE = "xmltodict"
_LIB = A.XML_XMLTODICT


def document_facts(document: Any) -> tuple[Root | None, Facts | None]:
    root, body = dict_root(document)
    return (root, dict_facts(body)) if root is not None else (None, None)


def _parse(layer: Layer, original: calls.Func) -> calls.Func:
    def traced(xml_input: Any, *args: Any, **kwargs: Any) -> Any:
        root = sniff(xml_input)
        path = None
        if root is None:
            if isinstance(xml_input, (str, bytes)) or not hasattr(xml_input, "read"):
                return original(xml_input, *args, **kwargs)
            if inside_operation() or layer.telemetry() is None:
                return original(xml_input, *args, **kwargs)
            root, path = sniff_source(xml_input)  # a file object: its head, without consuming it
            if root is None:
                return original(xml_input, *args, **kwargs)
        if inside_operation():
            return original(xml_input, *args, **kwargs)
        size = size_of(xml_input) if path is None else file_size(path)
        call = Call(_LIB, "xmltodict.parse", root, InputFacts(size, path))
        return record_parse(layer, call, original, (xml_input, *args), kwargs, document_facts)

    return calls.like(traced, original)


def _unparse(layer: Layer, original: calls.Func) -> calls.Func:
    def traced(input_dict: Any, *args: Any, **kwargs: Any) -> Any:
        root, body = dict_root(input_dict)
        if root is None or inside_operation():
            return original(input_dict, *args, **kwargs)
        call = Call(_LIB, "xmltodict.unparse", root)
        return record_serialize(layer, call, dict_facts(body), original, (input_dict, *args), kwargs,
                                calls.encoded_size)

    return calls.like(traced, original)


def targets(layer: Layer) -> list[Target]:
    import xmltodict

    return [
        Target(xmltodict, ("parse",), lambda f: _parse(layer, f)),
        Target(xmltodict, ("unparse",), lambda f: _unparse(layer, f)),
    ]
