"""Derive the compact content models the ERN converter needs from the official DDEX XSDs.

``python scripts/gen_content_models.py XSD_DIR`` reads ``XSD_DIR/<43|42|411|382>/release-notification.xsd``
(with ``xmlschema``, a test/dev dependency) and writes ``src/ddex_otel/ern/content_models/<code>.json``:
for every complex type, its child elements in schema order (name, type, minOccurs, maxOccurs — min 0
inside a choice), its attributes (and which are required) and, for simple values, the enumeration.
The engine never reads an XSD at run time (users supply their own copy): these tables tell the
converter which elements a version has, where they go and which values it allows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import xmlschema
from xmlschema.validators import XsdAnyElement, XsdElement, XsdGroup

from ddex_otel.outputs import write_text

VERSIONS = ("43", "42", "411", "382")
OUT = Path(__file__).resolve().parents[1] / "src" / "ddex_otel" / "ern" / "content_models"


class Tables:
    def __init__(self) -> None:
        self.types: dict[str, dict] = {}
        self.names: dict[int, str] = {}

    def name_of(self, xsd_type, hint: str) -> str:
        key = id(xsd_type)
        if key in self.names:
            return self.names[key]
        base = (xsd_type.local_name or f"{hint}#anon")
        name, n = base, 1
        while name in self.types:
            n += 1
            name = f"{base}#{n}"
        self.names[key] = name
        self.types[name] = {}  # reserve before recursing (recursive types)
        self.types[name] = self.describe(xsd_type, hint)
        return name

    def describe(self, t, hint: str) -> dict:
        out: dict = {}
        if t.is_simple():
            enum = _enumeration(t)
            if enum:
                out["e"] = enum
            primitive = getattr(t, "primitive_type", None)
            if primitive is not None and primitive.local_name != "string":
                out["p"] = primitive.local_name
            return out
        attrs = {}
        for key, attr in t.attributes.items():
            if key is None:
                continue
            local = key.rsplit("}", 1)[-1]
            attrs[local] = attr.use == "required"
            enum = _enumeration(attr.type)
            if enum:
                out.setdefault("ae", {})[local] = enum
        if attrs:
            out["a"] = attrs
        if t.has_simple_content():
            enum = _enumeration(t.content)
            if enum:
                out["e"] = enum
            primitive = getattr(t.content, "primitive_type", None)
            if primitive is not None and primitive.local_name != "string":
                out["p"] = primitive.local_name
            out["s"] = 1
            return out
        children: dict[str, list] = {}
        orders: list[list[str]] = []
        if isinstance(t.content, XsdGroup):
            orders = self.walk(t.content, children, optional=False)
        out["c"] = [children[name] for name in _merge_orders(orders, list(children))]
        return out

    def walk(self, group: XsdGroup, children: dict[str, list], optional: bool) -> list[list[str]]:
        """Record the group's elements in ``children``; return its possible orders (one list of names
        per alternative of its choices, capped), from which the schema order is merged."""
        optional = optional or group.min_occurs == 0
        in_choice = group.model == "choice" and len(group) > 1
        alternatives: list[list[str]] = [[]]
        branches: list[list[str]] = []
        for item in group:
            if isinstance(item, XsdAnyElement):
                continue
            if isinstance(item, XsdGroup):
                sub = self.walk(item, children, optional or in_choice)
            elif isinstance(item, XsdElement):
                low = 0 if (optional or in_choice) else item.min_occurs
                high = -1 if item.max_occurs is None or (group.max_occurs is None) else item.max_occurs
                name = item.local_name
                if name in children:  # the same element in two branches: the loosest bounds
                    known = children[name]
                    known[2] = min(known[2], low)
                    known[3] = -1 if -1 in (known[3], high) else max(known[3], high)
                else:
                    children[name] = [name, self.name_of(item.type, name), low, high]
                sub = [[name]]
            else:
                continue
            if in_choice:
                branches.extend(sub)
            else:
                alternatives = [a + b for a in alternatives for b in sub][:64]
        return branches[:64] if in_choice else alternatives


def _merge_orders(orders: list[list[str]], first_seen: list[str]) -> list[str]:
    """One order of all names that keeps every alternative's order (ties: first seen)."""
    rank = {name: i for i, name in enumerate(first_seen)}
    after: dict[str, set[str]] = {name: set() for name in first_seen}
    for order in orders:
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                if a != b:
                    after[b].add(a)
    out: list[str] = []
    left = set(first_seen)
    while left:
        ready = [n for n in left if not (after[n] & left)] or list(left)  # a cycle: first seen breaks it
        pick = min(ready, key=rank.__getitem__)
        out.append(pick)
        left.remove(pick)
    return out


def _enumeration(t) -> list[str] | None:
    for candidate in (t, getattr(t, "base_type", None)):
        enum = getattr(candidate, "enumeration", None)
        if enum:
            return [str(v) for v in enum]
    return None


def generate(xsd_dir: Path, code: str) -> dict:
    folder = xsd_dir / code

    def beside(url: str) -> str:  # imports by absolute URL resolve to the file of that name beside the XSD
        local = folder / url.rsplit("/", 1)[-1]
        return str(local) if local.is_file() else url

    schema = xmlschema.XMLSchema(str(folder / "release-notification.xsd"), uri_mapper=beside)
    tables = Tables()
    roots = {}
    for name in ("NewReleaseMessage", "PurgeReleaseMessage"):
        element = schema.elements.get(name)
        if element is not None:
            roots[name] = tables.name_of(element.type, name)
    return {"roots": roots, "types": tables.types}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    for code in VERSIONS:
        data = generate(Path(argv[0]), code)
        write_text(OUT / f"{code}.json", json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
        print(f"{code}: {len(data['types'])} types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
