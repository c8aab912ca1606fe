"""The XML layer with local providers: what is traced, what is not, and what the app still sees."""

from __future__ import annotations

import gc
import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DET
import pytest
import xmltodict
from lxml import etree
from lxml.etree import fromstring as fromstring_bound_before  # bound before any instrumentation

from ddex_otel import ern
from ddex_otel.telemetry.xmllayer import XMLLayerInstrumentor
from ddex_otel.telemetry.xmllayer.detect import root_from_head, sniff
from xml_expectations import NON_DDEX_XML, expected_facts, facts_tuple, span_facts

ORIGINALS = {"fromstring": etree.fromstring, "tostring": etree.tostring, "iterparse": etree.iterparse,
             "ET.XML": ET.XML, "ET.write": ET.ElementTree.write, "unparse": xmltodict.unparse}


def attrs_of(tel: Any, name: str | None = None) -> list[dict[str, Any]]:
    return [dict(s.attributes or {}) for s in tel.spans(name)]


def test_non_ddex_xml_passes_through_with_no_span(layer: Any, tmp_path: Path) -> None:
    path = tmp_path / "catalog.xml"
    path.write_bytes(NON_DDEX_XML)  # mentions ddex.net/xml/ in its head, but its root is not DDEX
    assert etree.tostring(etree.fromstring(NON_DDEX_XML)) == etree.tostring(ORIGINALS["fromstring"](NON_DDEX_XML))
    etree.parse(str(path))
    assert len(list(etree.iterparse(str(path)))) == 121
    ET.tostring(ET.fromstring(NON_DDEX_XML))
    xmltodict.unparse(xmltodict.parse(NON_DDEX_XML))
    DET.fromstring(NON_DDEX_XML)
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(NON_DDEX_XML[:300])
    with pytest.raises(ET.ParseError):
        ET.fromstring(NON_DDEX_XML[:300])
    assert layer.spans() == []


def test_every_covered_call_of_a_sample_gets_one_span_with_its_facts(layer: Any, sample: Path,
                                                                      tmp_path: Path) -> None:
    data = sample.read_bytes()
    want = facts_tuple(expected_facts(sample))
    layer.exporter.clear()  # expected_facts parsed the sample with lxml too
    root = etree.XML(data)
    etree.tostring(etree.parse(str(sample)))
    ET.ElementTree(ET.fromstring(data.decode())).write(str(tmp_path / "out.xml"))
    xmltodict.parse(data, process_namespaces=True)  # root key "http://ddex.net/xml/ern/43:NewReleaseMessage"
    xmltodict.unparse(xmltodict.parse(data))
    spans = attrs_of(layer)
    assert [a["code.function.name"] for a in spans] == [
        "lxml.etree.XML", "lxml.etree.parse", "lxml.etree.tostring", "xml.etree.ElementTree.fromstring",
        "xml.etree.ElementTree.ElementTree.write", "xmltodict.parse", "xmltodict.parse", "xmltodict.unparse",
    ]
    assert all(span_facts(a) == want for a in spans)
    write = spans[4]
    assert write["file.path"] == str(tmp_path / "out.xml")
    assert write["ddex.output.size"] == (tmp_path / "out.xml").stat().st_size
    assert write["ddex.operation.name"] == "serialize" and "ddex.input.size" not in write
    assert root is not None


def test_a_truncated_ddex_input_gives_an_error_span_and_the_same_exception(layer: Any, sample: Path) -> None:
    data = sample.read_bytes()[:5000]
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data)
    span = layer.span("ddex.parse")
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "XMLSyntaxError"
    assert span.attributes["ddex.ern.version"] == "4.3" and span.attributes["ddex.input.size"] == 5000
    points = layer.metrics()["ddex.operation.duration"].data.data_points
    assert any(p.attributes.get("error.type") == "XMLSyntaxError" for p in points)


def test_duration_histogram_and_release_totals(layer: Any, sample: Path) -> None:
    root = etree.fromstring(sample.read_bytes())
    etree.tostring(root)
    metrics = layer.metrics()
    points = {p.attributes["ddex.operation.name"]: p for p in metrics["ddex.operation.duration"].data.data_points}
    assert points["parse"].count == 1 and points["serialize"].count == 1
    assert points["parse"].attributes["ddex.ern.version"] == "4.3"
    released = {p.attributes["ddex.operation.name"]: p.value for p in metrics["ddex.releases.processed"].data.data_points}
    assert released["parse"] == 22


def test_iterparse_hands_the_app_exactly_its_events_and_counts_them(layer: Any, sample: Path) -> None:
    for events in (None, ("end",), ("start",), ("start", "end", "start-ns")):
        kwargs = {} if events is None else {"events": events}
        seen = [(e, getattr(x, "tag", x)) for e, x in etree.iterparse(str(sample), **kwargs)]
        plain = [(e, getattr(x, "tag", x)) for e, x in ORIGINALS["iterparse"](str(sample), **kwargs)]
        assert seen == plain, events
    want = facts_tuple(expected_facts(sample))
    spans = attrs_of(layer, "ddex.stream")
    assert len(spans) == 4
    assert all(span_facts(a) == want and a["ddex.stream.complete"] for a in spans)


def test_iterparse_abandoned_or_closed_ends_its_span_incomplete(layer: Any, sample: Path) -> None:
    stream = ET.iterparse(str(sample))
    next(stream)
    del stream
    gc.collect()
    closed = etree.iterparse(str(sample))
    next(closed)
    closed.close() if hasattr(closed, "close") else None
    never_started = etree.iterparse(str(sample))
    del never_started
    gc.collect()
    spans = attrs_of(layer, "ddex.stream")
    assert [a["ddex.stream.complete"] for a in spans] == [False, False]


def test_iterparse_with_a_tag_filter_is_traced_without_counts(layer: Any, sample: Path) -> None:
    tags = ("Release", "TrackRelease")
    assert sum(1 for _ in etree.iterparse(str(sample), tag=tags)) == sum(1 for _ in ORIGINALS["iterparse"](str(sample), tag=tags)) == 22
    (span,) = attrs_of(layer, "ddex.stream")
    assert span["ddex.ern.version"] == "4.3" and "ddex.release.count" not in span


def test_iterparse_of_a_stream_that_cannot_be_read_back_is_not_traced(layer: Any, sample: Path) -> None:
    class Pipe(io.RawIOBase):  # readable, neither seekable nor peekable
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self._data.readinto(buffer)

    assert len(list(ET.iterparse(Pipe(sample.read_bytes())))) > 0
    assert layer.spans() == []


def test_serialising_a_child_element_is_not_a_ddex_document(layer: Any, sample: Path) -> None:
    root = ORIGINALS["fromstring"](sample.read_bytes())
    etree.tostring(root.find("ReleaseList"))
    assert layer.spans() == []


def test_names_bound_before_instrumentation_keep_the_original(layer: Any, sample: Path) -> None:
    from lxml.etree import fromstring  # bound after: the traced function

    data = sample.read_bytes()
    fromstring_bound_before(data)
    assert layer.spans() == []
    fromstring(data)
    assert len(layer.spans("ddex.parse")) == 1
    assert ET.XML is ET.fromstring and DET.XML is DET.fromstring


def test_uninstrument_restores_every_original(local_telemetry: Any, sample: Path) -> None:
    tel = local_telemetry
    XMLLayerInstrumentor().instrument(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider)
    assert etree.fromstring is not ORIGINALS["fromstring"]
    XMLLayerInstrumentor().uninstrument()
    assert etree.fromstring is ORIGINALS["fromstring"] and etree.tostring is ORIGINALS["tostring"]
    assert etree.iterparse is ORIGINALS["iterparse"] and ET.XML is ORIGINALS["ET.XML"] is ET.fromstring
    assert ET.ElementTree.write is ORIGINALS["ET.write"] and xmltodict.unparse is ORIGINALS["unparse"]
    etree.fromstring(sample.read_bytes())
    assert tel.spans() == []


def test_inside_our_engine_the_xml_layer_is_silent(tel: Any, sample: Path) -> None:
    """Engine and XML layer instrumented together (shared Telemetry): one span per engine operation."""
    XMLLayerInstrumentor().instrument()
    try:
        message = ern.parse(sample)
        ern.build(message)
        assert [s.name for s in tel.spans()] == ["ddex.parse", "ddex.build"]
        assert all("ddex.xml.library" not in (s.attributes or {}) for s in tel.spans())
        etree.fromstring(sample.read_bytes())  # the app's own call, same Telemetry
        assert tel.spans()[-1].attributes["ddex.xml.library"] == "lxml"
    finally:
        XMLLayerInstrumentor().uninstrument()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<?xml version="1.0"?><!-- <x xmlns="http://ddex.net/xml/ern/43"> --><ern:NewReleaseMessage '
         'xmlns:ern="http://ddex.net/xml/ern/43">', ("ern", "4.3", "NewReleaseMessage")),
        ("<!DOCTYPE m [<!ENTITY a 'b'>]><PurgeReleaseMessage xmlns='http://ddex.net/xml/ern/382'>",
         ("ern", "3.8.2", "PurgeReleaseMessage")),
        ('<mead:MeadMessage xmlns:mead="http://ddex.net/xml/mead/10">', ("mead", None, "MeadMessage")),
        ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:ern="http://ddex.net/xml/ern/43" '
         'targetNamespace="http://ddex.net/xml/ern/43">', None),
        ('<ern:NewReleaseMessage xmlns="http://ddex.net/xml/ern/43">', None),  # prefix never declared
    ],
)
def test_the_root_start_tag_decides(head: str, expected: tuple | None) -> None:
    root = root_from_head(head)
    got = None if root is None else (root.standard, root.version, root.message_type)
    assert got == expected
    assert (sniff(head.encode()) is None) == (expected is None)


def test_another_ddex_standard_gets_the_generic_attributes(layer: Any) -> None:
    doc = b'<mead:MeadMessage xmlns:mead="http://ddex.net/xml/mead/10"><MessageHeader><MessageId>m1</MessageId>' \
          b'</MessageHeader></mead:MeadMessage>'
    etree.fromstring(doc)
    (span,) = attrs_of(layer)
    assert span["ddex.standard"] == "mead" and span["ddex.message.type"] == "MeadMessage"
    assert span["ddex.message.id"] == "m1" and "ddex.ern.version" not in span


def test_a_parse_span_covers_the_parse_it_was_recognised_after(layer: Any, sample: Path) -> None:
    """The span starts before the parse although the call is recognised only by its result: a parser
    target notes the wall time while the parse runs, and that time lies inside the span."""
    import time

    class Target:
        seen: list[int] = []

        def start(self, tag: str, attrib: dict) -> None:
            self.seen.append(time.time_ns())

        def close(self) -> Any:  # what fromstring returns: a DDEX root, as a parse would give
            return etree.Element("{http://ddex.net/xml/ern/43}NewReleaseMessage")

    target = Target()
    etree.fromstring(sample.read_bytes(), etree.XMLParser(target=target))
    span = layer.span("ddex.parse")
    assert span.start_time <= target.seen[0] <= target.seen[-1] <= span.end_time
    assert "ddex.resource.cpu_time" not in span.attributes  # not measured from the call's start: left out


def test_a_failed_parse_of_a_file_object_reads_its_head_again(layer: Any, sample: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(sample.read_bytes()[:20000])
    with open(truncated, "rb") as handle, pytest.raises(etree.XMLSyntaxError):
        etree.parse(handle)
    with open(truncated, "rb") as handle, pytest.raises(ET.ParseError):
        ET.parse(handle)
    spans = attrs_of(layer, "ddex.parse")
    assert [a["code.function.name"] for a in spans] == ["lxml.etree.parse", "xml.etree.ElementTree.ElementTree.parse"]
    assert all(a["error.type"] and a["file.path"] == str(truncated) and a["ddex.ern.version"] == "4.3" for a in spans)


def test_tostringlist_reports_the_bytes_of_its_pieces(layer: Any, sample: Path) -> None:
    root = ET.fromstring(sample.read_bytes())
    pieces = ET.tostringlist(root, encoding="utf-8")
    span = layer.span("ddex.serialize")
    assert span.attributes["code.function.name"] == "xml.etree.ElementTree.tostringlist"
    assert span.attributes["ddex.output.size"] == sum(len(p) for p in pieces)


def test_a_recognised_parse_starts_its_span_with_every_attribute(local_telemetry: Any, sample: Path) -> None:
    """The call has run when it is recognised: its span starts once, with all its attributes, so a
    sampler sees the facts (version, message id, counts) and the duration's exemplar names the span."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler

    seen: list[dict[str, Any]] = []

    class Recording(Sampler):
        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> Any:
            seen.append(dict(attributes or {}))
            return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return "Recording"

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=Recording())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    XMLLayerInstrumentor().instrument(tracer_provider=provider, meter_provider=local_telemetry.meter_provider)
    try:
        etree.fromstring(sample.read_bytes())
    finally:
        XMLLayerInstrumentor().uninstrument()
    (span,) = exporter.get_finished_spans()
    assert seen == [dict(span.attributes)]
    assert seen[0]["ddex.operation.name"] == "parse" and seen[0]["ddex.release.count"] == 22
    assert seen[0]["ddex.ern.version"] == "4.3" and seen[0]["ddex.message.id"]
    points = local_telemetry.metrics()["ddex.operation.duration"].data.data_points
    exemplars = [e for p in points for e in p.exemplars]
    assert [e.span_id for e in exemplars] == [span.context.span_id]
    provider.shutdown()
