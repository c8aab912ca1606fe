"""Validation of a Message: structural checks and identifier checks, all findings at once.

Levels: ``strict`` (identifier problems are errors), ``warn`` (default: identifier problems are
warnings, structural problems errors), ``off`` (no checks).
``check(message, level) -> ValidationReport`` never raises; ``validate`` is the public name.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddex_otel.ern.errors import Finding
from ddex_otel.ern.model import Message


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """All findings of one validation run."""

    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def check(message: Message, level: str = "warn") -> ValidationReport:  # TODO(engine)
    raise NotImplementedError


def validate(message: Message, level: str = "warn") -> ValidationReport:
    """Validate ``message`` alone and return every finding (raises nothing for findings)."""
    return check(message, level)
