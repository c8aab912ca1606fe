"""An ingestion script that reads partner files safely with defusedxml: no OpenTelemetry, no ddex-otel.

    ddex-otel run -- python examples/existing_apps/defusedxml_ingest.py FILE.xml ...
"""

from __future__ import annotations

import sys
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                root = SafeET.fromstring(handle.read())
            SafeET.parse(path)
            ends = sum(1 for _ in SafeET.iterparse(path))
            print(f"{path}: {root.tag.rpartition('}')[2]}, {ends} elements")
        except ParseError as exc:
            failed += 1
            print(f"{path}: not well-formed: {exc}", file=sys.stderr)
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
