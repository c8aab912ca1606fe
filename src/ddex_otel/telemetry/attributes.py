"""Every public telemetry name in one place (the telemetry contract; docs/telemetry.md documents them).

Dashboards, alert rules and trace searches depend on these strings, so code refers to the
constants, never to literals, and tests check the literals against the contract.
"""

from __future__ import annotations

from typing import Final

#: Instrumentation scope (tracer and meter name).
SCOPE_NAME: Final = "ddex_otel"
#: Semantic-conventions release the names follow (``error.type``, ``file.path``, ``cpu.mode``,
#: ``process.unix.file_descriptor.count`` …); pinned so the schema does not move with the
#: installed ``opentelemetry-semantic-conventions`` package.
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.37.0"
#: ``service.name`` when neither an argument nor ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``
#: names the service (telemetry and the alerts' ``service`` label).
DEFAULT_SERVICE_NAME: Final = "ddex-otel"

# -- span names ------------------------------------------------------------------------------
SPAN_PARSE: Final = "ddex.parse"
SPAN_STREAM: Final = "ddex.stream"
SPAN_BUILD: Final = "ddex.build"
SPAN_VALIDATE: Final = "ddex.validate"
SPAN_BATCH: Final = "ddex.batch"
#: One input file of a ``ddex-otel batch`` run: parent of that file's parse/validate/build spans.
SPAN_FILE: Final = "ddex.file"
#: A synthetic message written by ``generator.write_message`` (``ddex-otel generate``): span only, no metrics.
SPAN_GENERATE: Final = "ddex.generate"
OP_GENERATE: Final = "generate"

# -- operation names (values of ddex.operation.name) ------------------------------------------
OP_PARSE: Final = "parse"
OP_STREAM: Final = "stream"
OP_BUILD: Final = "build"
OP_VALIDATE: Final = "validate"
#: A DDEX document written by an XML library (the XML layer: lxml / xml.etree ``tostring``, ``write``,
#: ``xmltodict.unparse``); ``ddex.build`` is our engine's own writing.
OP_SERIALIZE: Final = "serialize"
SPAN_SERIALIZE: Final = "ddex.serialize"

SPAN_NAMES: Final = {
    OP_PARSE: SPAN_PARSE,
    OP_STREAM: SPAN_STREAM,
    OP_BUILD: SPAN_BUILD,
    OP_VALIDATE: SPAN_VALIDATE,
    OP_SERIALIZE: SPAN_SERIALIZE,
}

#: Stages of each operation, in call order (stage spans are ``ddex.<op>.<stage>``).
STAGES: Final = {
    OP_PARSE: ("read", "xml", "detect", "extract"),
    OP_BUILD: ("validate", "assemble", "serialize"),
    OP_STREAM: (),
    OP_VALIDATE: (),
    OP_SERIALIZE: (),
}

# -- span attributes (contract) ---------------------------------------------------------------
OPERATION_NAME: Final = "ddex.operation.name"
ERN_VERSION: Final = "ddex.ern.version"
MESSAGE_TYPE: Final = "ddex.message.type"
MESSAGE_ID: Final = "ddex.message.id"
SENDER_ID: Final = "ddex.message.sender.id"
INPUT_SIZE: Final = "ddex.input.size"
OUTPUT_SIZE: Final = "ddex.output.size"
RELEASE_COUNT: Final = "ddex.release.count"
RESOURCE_COUNT: Final = "ddex.resource.count"
DEAL_COUNT: Final = "ddex.deal.count"
FILE_PATH: Final = "file.path"
ERROR_TYPE: Final = "error.type"

# -- span attributes added by this package (documented in docs/telemetry.md) -----------------
#: CPU seconds the calling thread spent inside the operation (user + system).
RESOURCE_CPU_TIME: Final = "ddex.resource.cpu_time"
#: Growth of the process's peak resident set size during the operation, in bytes.
RESOURCE_MEMORY_DELTA: Final = "ddex.resource.memory.delta"
#: Stage wall time in seconds, one attribute per stage: ``ddex.stage.<stage>.duration``.
STAGE_DURATION_ATTR: Final = "ddex.stage.{stage}.duration"
VALIDATION_LEVEL: Final = "ddex.validation.level"
VALIDATION_ERROR_COUNT: Final = "ddex.validation.error.count"
VALIDATION_WARNING_COUNT: Final = "ddex.validation.warning.count"
STREAM_ITEM_COUNT: Final = "ddex.stream.item.count"
STREAM_CLOSED_EARLY: Final = "ddex.stream.closed_early"
#: Seconds the stream spent inside the engine (the span also covers the consumer's work).
STREAM_ENGINE_TIME: Final = "ddex.stream.engine_time"
BATCH_NAME: Final = "ddex.batch.name"
BATCH_MESSAGE_COUNT: Final = "ddex.batch.message.count"
BATCH_FAILURE_COUNT: Final = "ddex.batch.failure.count"
#: Files a ``ddex-otel batch`` run was given (set when the batch starts).
BATCH_INPUT_COUNT: Final = "ddex.batch.input.count"
#: File name with extension (semantic conventions), on ``ddex.file`` spans next to ``file.path``.
FILE_NAME: Final = "file.name"
#: ``ok`` or ``failed``: how the file's processing ended (on ``ddex.file`` spans).
FILE_OUTCOME: Final = "ddex.file.outcome"
FILE_OUTCOME_OK: Final = "ok"
FILE_OUTCOME_FAILED: Final = "failed"

# -- the XML layer (ddex_otel.telemetry.xmllayer: DDEX recognised in plain XML-library calls) --
#: ``lxml``, ``xml.etree`` or ``xmltodict``: the library whose call the span stands for.
XML_LIBRARY: Final = "ddex.xml.library"
#: The function called (``lxml.etree.fromstring``, ``defusedxml.ElementTree.parse``, …); semantic conventions' name.
CODE_FUNCTION: Final = "code.function.name"
#: The DDEX standard named by the root namespace: ``ern``, ``mead``, ``pie``, …
STANDARD: Final = "ddex.standard"
#: An iterparse read to its end (true) or abandoned / closed before it (false).
STREAM_COMPLETE: Final = "ddex.stream.complete"
XML_LXML: Final = "lxml"
XML_ETREE: Final = "xml.etree"
XML_XMLTODICT: Final = "xmltodict"

# -- span events ------------------------------------------------------------------------------
EVENT_VALIDATION_WARNING: Final = "ddex.validation.warning"
EVENT_VALIDATION_ERROR: Final = "ddex.validation.error"
EVENT_STREAM_PROGRESS: Final = "ddex.stream.progress"
EVENT_BATCH_FAILURE: Final = "ddex.batch.failure"
#: The batch was stopped (Ctrl-C) before every message was processed.
EVENT_BATCH_INTERRUPTED: Final = "ddex.batch.interrupted"
FINDING_CODE: Final = "ddex.finding.code"
FINDING_MESSAGE: Final = "ddex.finding.message"
FINDING_PATH: Final = "ddex.finding.path"

# -- metrics ----------------------------------------------------------------------------------
METRIC_OPERATION_DURATION: Final = "ddex.operation.duration"
METRIC_STAGE_DURATION: Final = "ddex.stage.duration"
#: Added by this package: stage runs, the count that goes with ``ddex.stage.duration``'s seconds.
METRIC_STAGE_CALLS: Final = "ddex.stage.calls"
METRIC_MESSAGE_SIZE: Final = "ddex.message.size"
METRIC_RELEASES_PROCESSED: Final = "ddex.releases.processed"
METRIC_OPERATIONS_ACTIVE: Final = "ddex.operations.active"
METRIC_OPERATION_CPU_TIME: Final = "ddex.operation.cpu.time"
METRIC_OPERATION_MEMORY_DELTA: Final = "ddex.operation.memory.delta"
STAGE_NAME: Final = "ddex.stage.name"

# -- process gauges (semantic conventions) ----------------------------------------------------
PROCESS_METRICS: Final = (
    "process.cpu.utilization",
    "process.cpu.time",
    "process.memory.usage",
    "process.memory.virtual",
    "process.thread.count",
    "process.unix.file_descriptor.count",
    "cpython.gc.collections",
)


def stage_span_name(operation: str, stage: str) -> str:
    """``ddex.parse.read`` etc."""
    return f"ddex.{operation}.{stage}"


def stage_duration_attribute(stage: str) -> str:
    """``ddex.stage.read.duration`` etc."""
    return STAGE_DURATION_ATTR.format(stage=stage)
