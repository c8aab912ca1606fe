"""An ingestion script written on xmltodict: no OpenTelemetry, no ddex-otel.

    ddex-otel run -- python examples/existing_apps/xmltodict_ingest.py FILE.xml ...
"""

from __future__ import annotations

import sys
from xml.parsers.expat import ExpatError

import xmltodict


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                document = xmltodict.parse(handle.read())
            with open(path, "rb") as handle:
                xmltodict.parse(handle)  # straight from the file object
            text = xmltodict.unparse(document)
            (root_key,) = document
            print(f"{path}: {root_key}, {len(text)} characters re-serialised")
        except ExpatError as exc:
            failed += 1
            print(f"{path}: not well-formed: {exc}", file=sys.stderr)
    return 1 if failed == len(paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
