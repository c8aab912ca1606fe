"""An ingestion script written on the standard library's ``xml.etree.ElementTree``: no OpenTelemetry,
no ddex-otel.

    ddex-otel run -- python examples/existing_apps/etree_ingest.py FILE.xml ...
"""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                root = ET.fromstring(handle.read())
            tree = ET.parse(path)
            releases = 0
            for _event, element in ET.iterparse(path):
                if element.tag in ("Release", "TrackRelease", "ClipRelease"):
                    releases += 1
            out = io.BytesIO()
            tree.write(out, encoding="utf-8", xml_declaration=True)
            print(f"{path}: {root.tag.rpartition('}')[2]}, {releases} releases, {len(out.getvalue())} bytes written")
        except ET.ParseError as exc:
            failed += 1
            print(f"{path}: not well-formed: {exc}", file=sys.stderr)
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
