"""xmltodict: ``parse`` and ``unparse``.

xmltodict parses with expat into nested dicts, so the facts come from the dict: the root key
(``ern:NewReleaseMessage``, or ``http://ddex.net/xml/ern/43:NewReleaseMessage`` with
``process_namespaces=True``) with its ``@xmlns…`` declaration, and the ReleaseList / ResourceList /
DealList / MessageHeader entries under it. Streaming mode (``item_depth`` with a callback) returns
no document to recognise: it is not traced.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer import calls
from ddex_otel.telemetry.xmllayer.detect import (
    InputFacts,
    dict_facts,
    dict_root,
    file_size,
    size_of,
    sniff,
    sniff_source,
    source_path,
)
from ddex_otel.telemetry.xmllayer.patching import Target
from ddex_otel.telemetry.xmllayer.record import Call, Layer, inside_operation, record_after, record_serialize

MODULE = "xmltodict"
_LIB = A.XML_XMLTODICT


def _parse(layer: Layer, original: calls.Func) -> calls.Func:
    def traced(xml_input: Any, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        try:
            document = original(xml_input, *args, **kwargs)
        except Exception as exc:
            if not inside_operation():
                root, path = sniff(xml_input), None
                if root is None and hasattr(xml_input, "read"):
                    root, path = sniff_source(xml_input, rewind=True)
                if root is not None:
                    call = Call(_LIB, "xmltodict.parse", root, InputFacts(_size(xml_input, path), path))
                    record_after(layer, A.OP_PARSE, call, started, error=exc)
            raise
        if type(document) is not dict or len(document) != 1:  # a streaming parse returns nothing to read
            return document
        root, body = dict_root(document)
        if root is not None and not inside_operation():
            path = None if isinstance(xml_input, (str, bytes)) else source_path(xml_input)
            call = Call(_LIB, "xmltodict.parse", root, InputFacts(_size(xml_input, path), path))
            record_after(layer, A.OP_PARSE, call, started, (root, dict_facts(body)))
        return document

    return calls.like(traced, original)


def _size(xml_input: Any, path: str | None) -> int | None:
    return size_of(xml_input) if path is None else file_size(path)


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
