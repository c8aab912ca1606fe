"""What the XML layer must report for each sample, read from the XML without the XML layer's code,
and the spans each example app (examples/existing_apps) must produce per DDEX file.

Importable as ``xml_expectations`` (like ``support``): shared by the subprocess tests
(tests/telemetry/test_xmllayer_apps.py) and the integration test against the real stack
(tests/integration/test_xmllayer_stack.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
APPS_DIR = REPO / "examples" / "existing_apps"

#: app → [(span name, code.function.name, how the span names its input)] for one readable DDEX file.
#: "path": file.path; "memory": ddex.input.size of the file's bytes; "text": of the text read in text mode
#: (newlines translated: UTF-8 size of that text); "output": a serialised document.
APP_SPANS: dict[str, list[tuple[str, str, str]]] = {
    "lxml_ingest.py": [
        ("ddex.parse", "lxml.etree.fromstring", "memory"),
        ("ddex.parse", "lxml.etree.parse", "path"),
        ("ddex.stream", "lxml.etree.iterparse", "path"),
        ("ddex.serialize", "lxml.etree.tostring", "output"),
    ],
    "etree_ingest.py": [
        ("ddex.parse", "xml.etree.ElementTree.fromstring", "text"),
        ("ddex.parse", "xml.etree.ElementTree.ElementTree.parse", "path"),
        ("ddex.stream", "xml.etree.ElementTree.iterparse", "path"),
        ("ddex.serialize", "xml.etree.ElementTree.ElementTree.write", "output"),
    ],
    "xmltodict_ingest.py": [
        ("ddex.parse", "xmltodict.parse", "memory"),
        ("ddex.parse", "xmltodict.parse", "path"),
        ("ddex.serialize", "xmltodict.unparse", "output"),
    ],
    "defusedxml_ingest.py": [
        ("ddex.parse", "defusedxml.ElementTree.fromstring", "memory"),
        ("ddex.parse", "xml.etree.ElementTree.ElementTree.parse", "path"),
        ("ddex.stream", "defusedxml.ElementTree.iterparse", "path"),
    ],
}
APP_LIBRARY = {"lxml_ingest.py": "lxml", "etree_ingest.py": "xml.etree", "xmltodict_ingest.py": "xmltodict",
               "defusedxml_ingest.py": "xml.etree"}


@dataclass(frozen=True)
class Expected:
    path: str
    size: int
    version: str
    message_type: str
    message_id: str
    sender_id: str
    releases: int
    resources: int
    deals: int


def _local(name: str) -> str:
    return f"*[local-name()='{name}']"


def expected_facts(path: Path) -> Expected:
    """Version and type from the raw root start tag (regex), counts and ids by XPath over the file."""
    data = path.read_bytes()
    match = re.search(rb"<(?:(\w+):)?(\w+)[^>]*?xmlns(?::\1)?=\"http://ddex\.net/xml/ern/(\d+)\"", data)
    assert match, f"{path}: no ERN root"
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))

    def count(query: str) -> int:
        return int(root.xpath(f"count({query})"))

    senders = [s.strip() for s in root.xpath(f"{_local('MessageHeader')}/{_local('MessageSender')}/{_local('PartyId')}/text()")]
    sender = next((s for s in senders if s.startswith("PADPIDA")), senders[0] if senders else "")
    releases = " or ".join(f"local-name()='{t}'" for t in ("Release", "TrackRelease", "ClipRelease"))
    return Expected(
        path=str(path),
        size=len(data),
        version=".".join(match.group(3).decode()),  # 43 → 4.3, 382 → 3.8.2, 411 → 4.1.1
        message_type=match.group(2).decode(),
        message_id=root.xpath(f"string({_local('MessageHeader')}/{_local('MessageId')})").strip(),
        sender_id=sender,
        releases=count(f"{_local('ReleaseList')}/*[{releases}]"),
        resources=count(f"{_local('ResourceList')}/*"),
        deals=count(f"{_local('DealList')}/{_local('ReleaseDeal')}/{_local('Deal')}"),
    )


def span_facts(attrs: dict) -> tuple:
    """The comparable facts of a span's attributes (``attrs``: key → Python value)."""
    return (
        attrs.get("ddex.ern.version"), attrs.get("ddex.message.type"), attrs.get("ddex.message.id"),
        attrs.get("ddex.message.sender.id"), attrs.get("ddex.release.count"), attrs.get("ddex.resource.count"),
        attrs.get("ddex.deal.count"),
    )


def facts_tuple(e: Expected) -> tuple:
    return (e.version, e.message_type, e.message_id or None, e.sender_id or None, e.releases, e.resources, e.deals)


NON_DDEX_XML = (
    b'<?xml version="1.0"?>\n<catalog xmlns="http://example.com/catalog/1">'
    + b"".join(b'<item id="%d"><title>Song %d</title><note>ddex.net/xml/ is mentioned here</note></item>' % (i, i)
               for i in range(40))
    + b"</catalog>\n"
)


def workload(tmp: Path, samples: list[Path]) -> tuple[list[Path], Path, list[Path]]:
    """(readable DDEX files, a truncated DDEX file, non-DDEX files: one readable, one truncated)."""
    truncated = tmp / "truncated-ddex.xml"
    sample = samples[0].read_bytes()
    truncated.write_bytes(sample[: len(sample) // 2])
    plain = tmp / "catalog.xml"
    plain.write_bytes(NON_DDEX_XML)
    broken = tmp / "catalog-truncated.xml"
    broken.write_bytes(NON_DDEX_XML[:700])
    return samples, truncated, [plain, broken]
