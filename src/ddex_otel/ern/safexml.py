"""Safe XML handling shared by ``parse`` and ``stream``: parser settings, DOCTYPE policy, errors.

Security policy (the same for whole-document and streaming reads):
- lxml runs with ``resolve_entities=False``, ``no_network=True``, ``load_dtd=False`` and, unless the
  caller asks, ``huge_tree=False`` (libxml2's size and depth limits stay on).
- Before any parsing, the prolog is scanned: a DOCTYPE with an external id (SYSTEM/PUBLIC), an
  entity declaration or a parameter-entity reference raises DDEXSecurityError. A bare
  ``<!DOCTYPE x>`` is harmless and allowed. After parsing, the tree's DTD is checked again.
So nothing is ever fetched, no local file is ever read, and no entity is ever expanded.

libxml2 syntax errors become typed errors with line and column: TruncatedInputError when the input
ends inside the document, EncodingError when bytes do not decode in the declared encoding (its
message carries the position; EncodingError has no line/column attributes), MalformedXMLError
otherwise.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree

from ddex_otel.ern.errors import (
    DDEXError,
    DDEXSecurityError,
    EmptyInputError,
    EncodingError,
    MalformedXMLError,
    TruncatedInputError,
)

#: How much prolog (XML declaration, comments, DOCTYPE) is read before giving up on finding the root.
MAX_PROLOG_BYTES = 1 << 20

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

# libxml2 error codes (xmlParserErrors) that mean "these bytes are not in the declared encoding".
_ENCODING_CODES = frozenset({31, 32, 81})  # UNKNOWN_ENCODING, UNSUPPORTED_ENCODING, INVALID_ENCODING
#: libxml2 before 2.13 reports bytes that are not UTF-8 as an invalid character (code 9), this text
_NOT_UTF8 = "not proper UTF-8"
_EXTRA_CONTENT = 5  # XML_ERR_DOCUMENT_END: "Extra content at the end of the document"
_TAG_NAME_MISMATCH = 76
_AMPLIFICATION = re.compile(r"amplification|entity loop|entities? .*(?:too|exceed)", re.I)
_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+(?: \(.*\))?$")


def secure_parser_options(huge_tree: bool = False) -> dict[str, bool]:
    """Keyword arguments for ``etree.XMLParser`` / ``XMLPullParser`` that make them safe.

    Comments and processing instructions are not kept: they are no data of an ERN message, and
    without them the text around one inside a value is that value's whole text (``<PartyId>AB<!--
    x-->C</PartyId>`` reads ``ABC``, never the comment).
    """
    return {
        "remove_comments": True,
        "remove_pis": True,
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": bool(huge_tree),
        "remove_blank_text": False,
    }


def new_parser(huge_tree: bool = False) -> etree.XMLParser:
    """A fresh, safe parser."""
    return etree.XMLParser(**secure_parser_options(huge_tree))


_THREAD_PARSERS = threading.local()


def thread_parser(huge_tree: bool = False) -> etree.XMLParser:
    """This thread's safe parser for whole documents, made once (saves building one per message).

    lxml parsers must not be shared between threads, hence one per thread; each parse starts with an
    empty error log, so a syntax error reports only its own document's errors.
    """
    try:
        return _THREAD_PARSERS.huge if huge_tree else _THREAD_PARSERS.normal
    except AttributeError:
        parser = new_parser(huge_tree)
        setattr(_THREAD_PARSERS, "huge" if huge_tree else "normal", parser)
        return parser


# ---------------------------------------------------------------------------------------- prolog


def sniff_text(head: bytes) -> str:
    """Decode enough of ``head`` to read markup: UTF-16 by BOM or NUL pattern, else Latin-1.

    Latin-1 never fails and maps every ASCII markup character to itself, which is all the prolog
    scan needs from UTF-8 or any other ASCII-compatible encoding.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="replace")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="replace")
    return head.decode("latin-1")


_PROLOG_SKIP = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->|\ufeff|\u00ef\u00bb\u00bf", re.S)
_DOCTYPE_HEAD = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s*")
_SUBSET_TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|<!--.*?-->|<!ENTITY|%|\]|[^\"'<%\]]+|<", re.S)


_HEAD_BYTES = 4096
_PROLOG_SKIP_BYTES = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.S)  # what may precede a DOCTYPE
_ROOT_START = re.compile(rb"<[A-Za-z_:]")
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")  # UTF-16 by BOM or NUL pattern


def may_have_doctype(data: bytes) -> bool:
    """Cheap pre-check: could ``data`` have a DOCTYPE? Looks at the prolog, not the whole input.

    A DOCTYPE can only come before the root element, after nothing but whitespace, the XML
    declaration, processing instructions and comments. When the first 4 KiB are exactly that,
    followed by a start tag, there is none; anything else (a DOCTYPE, a longer prolog, garbage)
    answers True and gets the full ``check_prolog`` (and the post-parse DTD check backs it all up).
    """
    if data[:2] in _WIDE_STARTS:
        return "<!DOCTYPE" in sniff_text(data[:MAX_PROLOG_BYTES])
    start = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    prolog = _PROLOG_SKIP_BYTES.match(data, start, _HEAD_BYTES)
    end = prolog.end() if prolog is not None else start
    return _ROOT_START.match(data, end) is None


def check_prolog(head: bytes, *, complete: bool = True) -> None:
    """Raise DDEXSecurityError if the prolog declares entities or an external DTD.

    ``head`` is the start of the input; ``complete`` says whether it is the whole input (parse) or
    only the first bytes (stream), in which case an unfinished DOCTYPE is refused as too large.
    """
    text = sniff_text(head)
    pos = 0
    while True:
        skip = _PROLOG_SKIP.match(text, pos)
        if skip is None:
            break
        pos = skip.end()
    doctype = _DOCTYPE_HEAD.match(text, pos)
    if doctype is None:
        return  # the prolog ended (root element, text or garbage) without a DOCTYPE
    _check_doctype(text, doctype.end(), complete)


def _check_doctype(text: str, pos: int, complete: bool) -> None:
    """Inspect a DOCTYPE from just after its name: external ids and entity declarations are refused."""
    rest = text[pos:pos + 8]
    if rest.startswith(("SYSTEM", "PUBLIC")):
        raise DDEXSecurityError("refused: the DOCTYPE references an external DTD (SYSTEM/PUBLIC id)")
    if not rest.startswith("["):
        return  # ``<!DOCTYPE x>``: nothing declared, nothing loaded
    for token in _SUBSET_TOKEN.finditer(text, pos + 1):
        value = token.group()
        if value == "<!ENTITY":
            raise DDEXSecurityError("refused: the DOCTYPE declares entities (entity expansion is disabled)")
        if value == "%":
            raise DDEXSecurityError("refused: the DOCTYPE uses parameter entities")
        if value == "]":
            return
    if not complete:
        raise DDEXSecurityError(f"refused: DOCTYPE internal subset longer than {MAX_PROLOG_BYTES} bytes")


def check_tree_dtd(tree: etree._ElementTree) -> None:
    """Defence in depth after parsing: the tree must carry no entity declarations or external DTD."""
    docinfo = tree.docinfo
    if docinfo.system_url or docinfo.public_id:
        raise DDEXSecurityError("refused: the DOCTYPE references an external DTD (SYSTEM/PUBLIC id)")
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise DDEXSecurityError("refused: the DOCTYPE declares entities (entity expansion is disabled)")


# ---------------------------------------------------------------------------------------- errors


def is_blank(data: bytes) -> bool:
    """True for no bytes, only whitespace, or only a BOM (+ whitespace), in UTF-8 or UTF-16."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return not data[len(bom):].decode(codec).strip()
            except UnicodeDecodeError:
                return False
    return not data.strip()


@dataclass(frozen=True, slots=True)
class EndOfInput:
    """Where the input's last non-whitespace character is (1-based line, 1-based column)."""

    line: int
    column: int
    last_char: str  # the last non-whitespace character ("" for blank input)

    @classmethod
    def of(cls, data: bytes) -> EndOfInput:
        """Compute the end position of ``data`` (on the error path; big inputs are not decoded)."""
        if data[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
            return cls._of_text(_decode_for_position(data))
        end = len(data)
        while end and data[end - 1] in b" \t\r\n":
            end -= 1
        if end == 0 or (end <= 3 and data.startswith(b"\xef\xbb\xbf")):
            return cls(1, 0, "")
        line_start = data.rfind(b"\n", 0, end) + 1
        last_line = data[line_start:end].decode("utf-8", errors="replace")
        if line_start == 0:
            last_line = last_line.removeprefix("\ufeff")
        return cls(data.count(b"\n", 0, end) + 1, len(last_line), last_line[-1:] or "")

    @classmethod
    def _of_text(cls, text: str) -> EndOfInput:
        text = text.rstrip()
        if not text:
            return cls(1, 0, "")
        return cls(text.count("\n") + 1, len(text) - (text.rfind("\n") + 1), text[-1])


def _decode_for_position(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    return data.decode("utf-16-be", errors="replace")


def clean_message(exc: etree.XMLSyntaxError) -> str:
    """libxml2's message on one line, without lxml's ``, line N, column M (<string>…)`` suffix."""
    text = " ".join(str(exc.msg or exc).split())
    return _POSITION_SUFFIX.sub("", text).rstrip(" ,.") or "not well-formed XML"


def translate_syntax_error(
    exc: etree.XMLSyntaxError, end: EndOfInput | None, *, at_eof: bool = True
) -> DDEXError:
    """Map an lxml syntax error to the engine's typed error.

    ``end`` is where the input ends; ``at_eof`` is False when the error came before the whole input
    was read (a stream failing mid-file is malformed, never truncated).
    """
    line, column = exc.position if exc.position else (None, None)
    message = clean_message(exc)
    if _AMPLIFICATION.search(message):
        return DDEXSecurityError(f"refused: {message}")
    if end is not None and not end.last_char:
        return EmptyInputError("the input is empty (no XML content)")
    if at_eof and end is not None and _is_truncation(exc.code, line, column, end):
        return TruncatedInputError(
            f"the input ends before the document is complete: {message}", line=line, column=column
        )
    if exc.code in _ENCODING_CODES or _NOT_UTF8 in message:
        where = f" (line {line}, column {column})" if line is not None else ""
        return EncodingError(f"{message}: the bytes do not match the declared encoding{where}")
    return MalformedXMLError(f"not well-formed XML: {message}", line=line, column=column)


def _is_truncation(code: int, line: int | None, column: int | None, end: EndOfInput) -> bool:
    """An error located at the very end of the input, that is not about complete trailing markup."""
    if line is None or code == _EXTRA_CONTENT:
        return False
    at_end = line > end.line or (line == end.line and (column or 0) >= end.column)
    if not at_end:
        return False
    # ``…</Root-typo>``: the input ends on a complete (wrong) end tag: malformed, not truncated.
    return not (code == _TAG_NAME_MISMATCH and end.last_char == ">")


# ------------------------------------------------------------------------------- whole documents


def parse_xml(data: bytes, *, huge_tree: bool = False) -> etree._Element:
    """Parse bytes into an lxml root under this policy; errors are typed (``parse``'s "xml" stage)."""
    if may_have_doctype(data):
        check_prolog(data, complete=True)
    try:
        root = etree.fromstring(data, thread_parser(huge_tree))
    except etree.XMLSyntaxError as exc:
        raise translate_syntax_error(exc, EndOfInput.of(data)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype:
        check_tree_dtd(tree)
    return root
