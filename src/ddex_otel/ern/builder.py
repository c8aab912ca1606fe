"""Building ERN XML from the model: deterministic, validated before writing.

STAGE CONTRACT (wrapped from outside by telemetry): ``build`` calls, through module globals,
    validation.check(message, level) -> ValidationReport   stage "validate" (raises nothing)
    assemble(message, version) -> lxml root                stage "assemble"
    serialize(root) -> bytes                               stage "serialize"
and raises DDEXValidationError when the report has errors; otherwise it returns a
``BuiltMessage`` (a ``bytes`` subclass carrying ``.findings``, the warnings).
"""

from __future__ import annotations

from ddex_otel.ern.errors import Finding
from ddex_otel.ern.model import Message


class BuiltMessage(bytes):
    """ERN XML bytes plus the validation findings (warnings) met while building them."""

    findings: tuple[Finding, ...]

    def __new__(cls, data: bytes, findings: tuple[Finding, ...] = ()) -> "BuiltMessage":
        obj = super().__new__(cls, data)
        obj.findings = tuple(findings)
        return obj


def build(message: Message, version: str = "4.3", *, validation: str = "warn") -> BuiltMessage:  # TODO(engine)
    raise NotImplementedError
