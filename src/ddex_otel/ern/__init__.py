"""The DDEX ERN engine on lxml: parse, stream, validate and build ERN messages.

This package never imports ``ddex_otel.telemetry``: telemetry wraps these functions from
outside (see ``ddex_otel.telemetry.instrumentor``), exactly as it would a third-party library.

``parse`` reads an ERN 4.x message lazily: libxml2 parses the whole document, but each Party,
Resource, Release and Deal reads its fields from its element on first access (``model`` LAZY,
``lazy``). Invisible to callers — same values, same ``==``/``repr``/``to_dict`` — and it costs no
memory a parsed Message did not already hold (its tree). ``stream`` yields 4.x resources,
releases and deals the same way, each holding only its own element.
"""

from __future__ import annotations

from ddex_otel.ern.builder import BuiltMessage, build
from ddex_otel.ern.errors import (
    DDEXError,
    DDEXSecurityError,
    DDEXValidationError,
    EmptyInputError,
    EncodingError,
    Finding,
    MalformedXMLError,
    NotDDEXError,
    TruncatedInputError,
    UnsupportedVersionError,
)
from ddex_otel.ern.model import (
    Deal,
    Identifiers,
    Line,
    Message,
    MessageHeader,
    Party,
    ProprietaryId,
    Release,
    Resource,
    StreamStart,
)
from ddex_otel.ern.parser import parse
from ddex_otel.ern.streaming import stream
from ddex_otel.ern.validation import ValidationReport, validate
from ddex_otel.ern.versions import SUPPORTED_VERSIONS

__all__ = [
    "SUPPORTED_VERSIONS",
    "BuiltMessage",
    "DDEXError",
    "DDEXSecurityError",
    "DDEXValidationError",
    "Deal",
    "EmptyInputError",
    "EncodingError",
    "Finding",
    "Identifiers",
    "Line",
    "MalformedXMLError",
    "Message",
    "MessageHeader",
    "NotDDEXError",
    "Party",
    "ProprietaryId",
    "Release",
    "Resource",
    "StreamStart",
    "TruncatedInputError",
    "UnsupportedVersionError",
    "ValidationReport",
    "build",
    "parse",
    "stream",
    "validate",
]
