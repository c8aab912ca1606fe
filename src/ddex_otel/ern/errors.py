"""Typed errors of the ERN engine: one base class, so a batch can catch DDEXError and go on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DDEXError(Exception):
    """Base class of every error the engine raises on bad input."""


class EmptyInputError(DDEXError):
    """The input had no bytes (or only whitespace / a BOM)."""


class MalformedXMLError(DDEXError):
    """The input is not well-formed XML; ``line`` and ``column`` point at the first problem."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")


class TruncatedInputError(MalformedXMLError):
    """The XML ended before its root element was closed."""


class EncodingError(DDEXError):
    """The bytes do not decode in the encoding the document declares."""


class NotDDEXError(DDEXError):
    """Well-formed XML that is not a DDEX ERN message."""


class UnsupportedVersionError(DDEXError):
    """The ERN namespace names a version this engine does not read or write."""

    def __init__(self, found: str, supported: Sequence[str]) -> None:
        self.found = found
        self.supported = tuple(supported)
        super().__init__(
            f"unsupported ERN version {found!r}; supported: {', '.join(self.supported)}"
        )


class DDEXSecurityError(DDEXError):
    """The input uses a feature that is refused for safety (DTD, entities, external references)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation finding: ``severity`` is ``"error"`` or ``"warning"``; ``path`` locates it."""

    severity: str
    code: str
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"[{self.severity}] {where}{self.message} ({self.code})"


class DDEXValidationError(DDEXError):
    """Validation found errors; ``findings`` holds all of them (and any warnings) at once."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        head = f"{len(errors)} validation error(s)"
        detail = "; ".join(str(f) for f in errors[:5])
        more = f"; … and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{head}: {detail}{more}")
