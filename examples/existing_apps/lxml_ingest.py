"""An ingestion script written on plain lxml, as most DDEX pipelines are: no OpenTelemetry, no ddex-otel.

It reads each DDEX file four ways (bytes, file, streamed, re-serialised) and counts releases itself.
Run it unchanged with DDEX spans:

    ddex-otel run -- python examples/existing_apps/lxml_ingest.py FILE.xml ...
"""

from __future__ import annotations

import sys

from lxml import etree
from lxml.etree import fromstring  # bound at import time, as real code does

RELEASE_TAGS = ("Release", "TrackRelease", "ClipRelease")


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                root = fromstring(handle.read())
            tree = etree.parse(path)
            releases = 0
            for _event, element in etree.iterparse(path, events=("end",)):
                if element.tag in RELEASE_TAGS:
                    releases += 1
                    element.clear()
            size = len(etree.tostring(tree.getroot(), xml_declaration=True, encoding="UTF-8"))
            print(f"{path}: {etree.QName(root).localname}, {releases} releases, {size} bytes re-serialised")
        except etree.XMLSyntaxError as exc:
            failed += 1
            print(f"{path}: not well-formed: {exc}", file=sys.stderr)
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
