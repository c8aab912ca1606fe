"""Conversion coverage (a measurement, not a timed test): ``.venv/bin/python benchmarks/conversion_coverage.py``.

For every sample message × every target version ``build`` writes (4.3, 4.2, 4.1.1, 3.8.2): parse,
build, and count how many of the source's leaf text values (a multiset: the stripped text of every
element without element children, read with lxml XPath from the source XML) reappear among the
output's leaf text values. Per direction (4.x→4.x, 3.x→4.x, 4.x→3.x, and same-version builds) it
prints converted/refused counts and the median share carried; with ``--xsd-dir`` also how many
outputs validate against the target's XSD (and how many sources validate against their own).

The samples come from ``--samples`` or env ``DDEX_SAMPLES_DIR``; the XSDs from ``--xsd-dir`` or env
``DDEX_XSD_DIR``. ``--detail`` prints one row per conversion; ``--json`` writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

from lxml import etree

from ddex_otel.ern import parse
from ddex_otel.ern.builder import BUILD_VERSIONS, build
from ddex_otel.ern.errors import DDEXValidationError
from ddex_otel.ern.schema import validate_against_schema
from ddex_otel.outputs import write_text

#: Leaf elements (no element children) with some non-blank text.
LEAF_TEXTS = etree.XPath("//*[not(*)][normalize-space(text())]/text()")


def leaf_values(xml: bytes) -> Counter[str]:
    """The multiset of stripped leaf text values of an XML document."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    return Counter(str(t).strip() for t in LEAF_TEXTS(root))


def carried(source: Counter[str], output: Counter[str]) -> tuple[int, int]:
    """(values of ``source`` that reappear in ``output``, counted with multiplicity; source total)."""
    return sum((source & output).values()), sum(source.values())


def direction(source_version: str, target: str) -> str:
    if source_version == target:
        return "same version"
    return f"{source_version[0]}.x→{target[0]}.x"


def measure(samples: list[Path], xsd_dir: Path | None) -> list[dict]:
    rows = []
    for path in samples:
        data = path.read_bytes()
        message = parse(data)
        source = leaf_values(data)
        source_valid = None if xsd_dir is None else not validate_against_schema(data, xsd_dir)
        for target in BUILD_VERSIONS:
            row: dict = {"sample": path.name, "source": message.ern_version, "target": target,
                         "direction": direction(message.ern_version, target), "source_valid": source_valid}
            try:
                out = build(message, target)
            except DDEXValidationError as exc:
                row.update(refused=True, reasons=[f.message for f in exc.findings if f.severity == "error"])
                rows.append(row)
                continue
            hit, total = carried(source, leaf_values(out))
            row.update(refused=False, carried=hit, total=total, share=hit / total if total else 1.0)
            if xsd_dir is not None:
                errors = validate_against_schema(bytes(out), xsd_dir)
                row.update(output_valid=not errors, schema_errors=errors[:3])
            rows.append(row)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for name in ("4.x→4.x", "3.x→4.x", "4.x→3.x", "3.x→3.x", "same version"):
        group = [r for r in rows if r["direction"] == name]
        if not group:
            continue
        done = [r for r in group if not r["refused"]]
        shares = [r["share"] for r in done]
        valid = [r for r in done if r.get("output_valid")]
        out.append({
            "direction": name, "conversions": len(group), "converted": len(done), "refused": len(group) - len(done),
            "median_carried": statistics.median(shares) if shares else None,
            "min_carried": min(shares) if shares else None,
            "output_xsd_valid": len(valid) if "output_valid" in (done[0] if done else {}) else None,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=Path, default=os.environ.get("DDEX_SAMPLES_DIR"))
    ap.add_argument("--xsd-dir", type=Path, default=os.environ.get("DDEX_XSD_DIR"))
    ap.add_argument("--detail", action="store_true", help="one row per sample × target")
    ap.add_argument("--json", type=Path, help="write every row and the summary here")
    args = ap.parse_args(argv)
    if args.samples is None or not Path(args.samples).is_dir():
        print("conversion_coverage: give --samples DIR or set DDEX_SAMPLES_DIR", file=sys.stderr)
        return 2
    rows = measure(sorted(Path(args.samples).glob("*.xml")), args.xsd_dir)
    if args.detail:
        for r in rows:
            if r["refused"]:
                state = "REFUSED: " + "; ".join(r["reasons"])[:160]
            else:
                state = f"{r['carried']:5d}/{r['total']:5d} {r['share']:6.1%}"
                if "output_valid" in r:
                    state += "  xsd ok" if r["output_valid"] else f"  XSD INVALID: {r['schema_errors'][:1]}"
            print(f"{r['sample']:52s} {r['source']:>5s}→{r['target']:<5s} {state}")
    sources = {r["sample"]: r["source_valid"] for r in rows}
    if args.xsd_dir is not None:
        print(f"sources valid against their own XSD: {sum(1 for v in sources.values() if v)}/{len(sources)}")
    print(f"{'direction':14s} {'runs':>4s} {'conv':>4s} {'refused':>7s} {'median':>7s} {'min':>7s} {'xsd ok':>6s}")
    for s in summary(rows):
        med = "-" if s["median_carried"] is None else f"{s['median_carried']:.1%}"
        low = "-" if s["min_carried"] is None else f"{s['min_carried']:.1%}"
        xsd = "-" if s["output_xsd_valid"] is None else str(s["output_xsd_valid"])
        print(f"{s['direction']:14s} {s['conversions']:4d} {s['converted']:4d} {s['refused']:7d} {med:>7s} {low:>7s} {xsd:>6s}")
    if args.json:
        write_text(args.json, json.dumps({"rows": rows, "summary": summary(rows)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
