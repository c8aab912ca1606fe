"""Validation against the official DDEX XSDs, from a schema directory the user supplies.

The project does not ship DDEX's schema files: point ``schema_dir`` at a copy laid out as
``<schema_dir>/<43|42|411|382>/release-notification.xsd`` (each with its allowed-value-set XSD
beside it), or at one such folder. The XSD is chosen from the message's ERN namespace.

Some DDEX schemas import their allowed-value sets by absolute URL
(``http://ddex.net/xml/avs/avs_20161006.xsd``); a resolver maps every import to the file of the
same name beside the schema, and the parser has network access switched off, so validation
never fetches anything. Compiled schemas are cached (keyed by path and modification time):
compiling the 4.3 schema takes about a second, validating a message milliseconds.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import BinaryIO, Union

from lxml import etree

from ddex_otel.ern.errors import DDEXError

ERN_NAMESPACE_PREFIX = "http://ddex.net/xml/ern/"
SCHEMA_FILE = "release-notification.xsd"

XmlSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO]


class SchemaError(DDEXError):
    """The schema could not be found or compiled."""


class SchemaNotFoundError(SchemaError):
    """No XSD for the message's ERN version in the schema directory."""


class SchemaValidationError(DDEXError):
    """The message does not validate; ``errors`` lists every schema error with its line."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        head = f"{len(self.errors)} schema error(s)"
        super().__init__(f"{head}: {'; '.join(self.errors[:3])}" + (" …" if len(self.errors) > 3 else ""))


class _BesideSchemaResolver(etree.Resolver):
    """Resolves any schema import/include to the file with the same name in the schema's folder."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def resolve(self, url, pubid, context):
        name = (url or "").replace("\\", "/").rsplit("/", 1)[-1]
        candidate = self.directory / name
        if name and candidate.is_file():
            return self.resolve_filename(str(candidate), context)
        return None  # falls through to libxml2, which has network access switched off


def _safe_parser(*, huge_tree: bool = True) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge_tree)


@functools.lru_cache(maxsize=16)
def _compile(path: str, mtime_ns: int) -> etree.XMLSchema:
    xsd = Path(path)
    parser = _safe_parser()
    parser.resolvers.add(_BesideSchemaResolver(xsd.parent))
    try:
        doc = etree.parse(str(xsd), parser)
        return etree.XMLSchema(doc)
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaError(f"cannot compile {xsd}: {exc}") from exc


def load_schema(xsd_path: str | os.PathLike[str]) -> etree.XMLSchema:
    """The compiled schema at ``xsd_path`` (cached until the file changes)."""
    path = Path(xsd_path).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise SchemaNotFoundError(f"no schema at {path}") from exc
    return _compile(str(path), mtime)


def _target_namespace(xsd: Path) -> str | None:
    for _, el in etree.iterparse(str(xsd), events=("start",), resolve_entities=False, no_network=True):
        return el.get("targetNamespace")
    return None


def schema_path_for(namespace: str, schema_dir: str | os.PathLike[str]) -> Path:
    """The release-notification XSD for ERN ``namespace`` in ``schema_dir``."""
    if not namespace.startswith(ERN_NAMESPACE_PREFIX):
        raise SchemaNotFoundError(f"{namespace!r} is not an ERN namespace")
    folder = namespace[len(ERN_NAMESPACE_PREFIX):].strip("/")
    base = Path(schema_dir)
    for candidate in (base / folder / SCHEMA_FILE, base / SCHEMA_FILE):
        if candidate.is_file() and _target_namespace(candidate) == namespace:
            return candidate
    raise SchemaNotFoundError(f"no {SCHEMA_FILE} for {namespace} under {base} (looked in {base / folder})")


def _parse(source: XmlSource) -> etree._ElementTree:
    parser = _safe_parser()
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return etree.ElementTree(etree.fromstring(bytes(source), parser))
        if isinstance(source, (str, os.PathLike)):
            return etree.parse(os.fspath(source), parser)
        return etree.parse(source, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise SchemaValidationError([f"line {line}: not well-formed XML: {exc.msg}"]) from exc


def validate_against_schema(source: XmlSource, schema_dir: str | os.PathLike[str]) -> list[str]:
    """Every schema error of the message (``"line N: message"``); empty when it validates.

    Raises SchemaNotFoundError when ``schema_dir`` has no XSD for the message's version, and
    SchemaValidationError (with one entry) when the input is not well-formed XML.
    """
    tree = _parse(source)
    namespace = etree.QName(tree.getroot()).namespace or ""
    schema = load_schema(schema_path_for(namespace, schema_dir))
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def assert_valid_against_schema(source: XmlSource, schema_dir: str | os.PathLike[str]) -> None:
    """Raise SchemaValidationError with every error unless the message validates."""
    errors = validate_against_schema(source, schema_dir)
    if errors:
        raise SchemaValidationError(errors)
