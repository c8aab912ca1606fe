"""Operation spans: names, kind, contract attributes, parents, errors, stages, suppression."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

from ddex_otel import ern
from ddex_otel.ern import builder, extract, lazy, parser, safexml, streaming, validation
from ddex_otel.ern.errors import DDEXError, DDEXValidationError, MalformedXMLError, NotDDEXError
from ddex_otel.ern.generator import generate_message
from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor

CONTRACT_SPAN_ATTRIBUTES = {
    "ddex.operation.name", "ddex.ern.version", "ddex.message.type", "ddex.message.id",
    "ddex.message.sender.id", "ddex.input.size", "ddex.release.count", "ddex.resource.count",
    "ddex.deal.count", "file.path",
}


def test_contract_literals() -> None:
    """The constants are the contract's strings (a rename here must be a deliberate act)."""
    assert (A.SPAN_PARSE, A.SPAN_STREAM, A.SPAN_BUILD, A.SPAN_VALIDATE, A.SPAN_BATCH) == (
        "ddex.parse", "ddex.stream", "ddex.build", "ddex.validate", "ddex.batch")
    assert A.SCOPE_NAME == "ddex_otel"
    assert A.SCHEMA_URL.startswith("https://opentelemetry.io/schemas/1.")
    assert (A.OUTPUT_SIZE, A.ERROR_TYPE, A.FILE_PATH) == ("ddex.output.size", "error.type", "file.path")


def test_parse_span_has_every_contract_attribute(tel, sample: Path) -> None:
    message = ern.parse(str(sample))
    span = tel.span("ddex.parse")
    attrs = dict(span.attributes)
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert CONTRACT_SPAN_ATTRIBUTES <= attrs.keys()
    assert attrs["ddex.operation.name"] == "parse"
    assert attrs["ddex.ern.version"] == "4.3" == message.ern_version
    assert attrs["ddex.message.type"] == "NewReleaseMessage"
    assert attrs["ddex.message.id"] == message.header.message_id
    assert attrs["ddex.message.sender.id"] == "PADPIDA2013042401U"
    assert attrs["ddex.input.size"] == sample.stat().st_size
    assert attrs["ddex.release.count"] == len(message.releases) == 22
    assert attrs["ddex.resource.count"] == len(message.resources)
    assert attrs["ddex.deal.count"] == len(message.deals)
    assert attrs["file.path"] == str(sample)
    assert "error.type" not in attrs
    assert span.instrumentation_scope.name == "ddex_otel"
    assert span.instrumentation_scope.version == ddex_version()
    assert span.instrumentation_scope.schema_url == A.SCHEMA_URL


def ddex_version() -> str:
    import ddex_otel

    return ddex_otel.__version__


def test_resource_usage_and_stage_attributes(instrument, sample: Path) -> None:
    tel = instrument(resource_usage=True, stage_attributes=True)
    ern.parse(sample.read_bytes())
    attrs = tel.span("ddex.parse").attributes
    assert "file.path" not in attrs  # bytes have no path
    assert attrs["ddex.input.size"] == sample.stat().st_size
    assert isinstance(attrs["ddex.resource.cpu_time"], float) and attrs["ddex.resource.cpu_time"] > 0
    assert isinstance(attrs["ddex.resource.memory.delta"], int) and attrs["ddex.resource.memory.delta"] >= 0
    stages = {k for k in attrs if k.startswith("ddex.stage.")}
    assert stages == {f"ddex.stage.{s}.duration" for s in ("read", "xml", "detect", "extract")}
    total = sum(attrs[k] for k in stages)
    span = tel.span("ddex.parse")
    assert 0 < total <= (span.end_time - span.start_time) / 1e9
    assert tel.spans("ddex.parse.read") == []  # stage spans are off by default


def test_resource_usage_is_off_by_default(tel, sample: Path) -> None:
    ern.parse(str(sample))
    attrs = tel.span("ddex.parse").attributes
    assert "ddex.resource.cpu_time" not in attrs and "ddex.resource.memory.delta" not in attrs
    metrics = tel.metrics()
    assert "ddex.operation.cpu.time" not in metrics and "ddex.operation.memory.delta" not in metrics
    assert "ddex.operation.duration" in metrics


def test_stage_attributes_are_off_by_default(tel, sample: Path) -> None:
    """The stage timings still reach the stage counters; the span carries none of them."""
    ern.parse(str(sample))
    assert not [k for k in tel.span("ddex.parse").attributes if k.startswith("ddex.stage.")]
    calls = {dict(p.attributes)["ddex.stage.name"]: p.value for p in tel.metrics()["ddex.stage.calls"].data.data_points}
    assert calls == {"read": 1, "xml": 1, "detect": 1, "extract": 1}


def test_stage_attributes_from_the_environment(instrument, sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DDEX_STAGE_ATTRIBUTES", "true")
    tel = instrument()
    ern.parse(str(sample))
    assert tel.span("ddex.parse").attributes["ddex.stage.extract.duration"] > 0


def test_a_request_turns_stage_attributes_on_until_released(tel, sample: Path) -> None:
    from ddex_otel.telemetry.spans import request_operation_details, stage_attributes_requested

    release = request_operation_details(resource_usage=False)
    try:
        assert stage_attributes_requested()
        ern.parse(str(sample))
    finally:
        release()
        release()  # releasing twice counts once
    assert not stage_attributes_requested()
    ern.parse(str(sample))
    first, second = tel.spans("ddex.parse")
    assert first.attributes["ddex.stage.read.duration"] >= 0.0
    assert "ddex.resource.cpu_time" not in first.attributes  # resource usage was not asked for
    assert not [k for k in second.attributes if k.startswith("ddex.stage.")]


def test_resource_usage_from_the_environment(instrument, sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DDEX_RESOURCE_USAGE", "true")
    tel = instrument()
    ern.parse(str(sample))
    assert tel.span("ddex.parse").attributes["ddex.resource.cpu_time"] > 0


def test_a_request_turns_resource_usage_on_until_released(tel, sample: Path) -> None:
    from ddex_otel.telemetry.spans import request_resource_usage, resource_usage_requested

    first, second = request_resource_usage(), request_resource_usage()
    try:
        ern.parse(str(sample))
        first()
        first()  # releasing twice counts once
        assert resource_usage_requested()  # the second request still holds
        ern.parse(str(sample))
    finally:
        second()
    assert not resource_usage_requested()
    ern.parse(str(sample))
    with_usage = [s for s in tel.spans("ddex.parse") if "ddex.resource.cpu_time" in s.attributes]
    assert len(with_usage) == 2 and len(tel.spans("ddex.parse")) == 3
    (point,) = tel.metrics()["ddex.operation.cpu.time"].data.data_points
    assert dict(point.attributes) == {"ddex.operation.name": "parse"}
    assert point.value == pytest.approx(sum(s.attributes["ddex.resource.cpu_time"] for s in with_usage))


def test_stage_spans_option(instrument, sample: Path) -> None:
    tel = instrument(stage_spans=True)
    message = ern.parse(str(sample))
    ern.build(message)
    parse = tel.span("ddex.parse")
    build = tel.span("ddex.build")
    for name, parent in [("ddex.parse.read", parse), ("ddex.parse.xml", parse), ("ddex.parse.detect", parse),
                         ("ddex.parse.extract", parse), ("ddex.build.validate", build),
                         ("ddex.build.assemble", build), ("ddex.build.serialize", build)]:
        stage = tel.span(name)
        assert stage.parent.span_id == parent.context.span_id, name
        assert stage.context.trace_id == parent.context.trace_id
        assert parent.start_time <= stage.start_time <= stage.end_time <= parent.end_time
    assert tel.spans("ddex.validate") == []  # build's validation is a stage, not a ddex.validate span


def test_span_is_child_of_callers_span(tel, sample: Path) -> None:
    with tel.tracer.start_as_current_span("caller") as caller:
        ern.parse(str(sample))
    span = tel.span("ddex.parse")
    assert span.parent is not None and span.parent.span_id == caller.get_span_context().span_id
    assert span.context.trace_id == caller.get_span_context().trace_id


def test_both_import_paths_are_instrumented_and_uninstrument_restores(instrument, sample: Path) -> None:
    originals = (parser.parse, ern.parse, builder.build, ern.build, validation.validate, ern.validate,
                 streaming.stream, ern.stream, parser.read_input, builder.assemble, validation.check)
    tel = instrument()
    assert parser.parse is not originals[0] and hasattr(parser.parse, "__wrapped__")
    parser.parse(str(sample))
    ern.parse(str(sample))
    assert len(tel.spans("ddex.parse")) == 2
    DDEXInstrumentor().uninstrument()
    now = (parser.parse, ern.parse, builder.build, ern.build, validation.validate, ern.validate,
           streaming.stream, ern.stream, parser.read_input, builder.assemble, validation.check)
    assert all(a is b for a, b in zip(originals, now, strict=True))
    ern.parse(str(sample))
    assert len(tel.spans("ddex.parse")) == 2


def test_parse_failure_is_an_error_span_and_the_exception_is_unchanged(tel) -> None:
    data = generate_message(2, 3)[:-200]
    with pytest.raises(MalformedXMLError) as caught:
        ern.parse(data)
    span = tel.span("ddex.parse")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(caught.value).__name__
    events = [e for e in span.events if e.name == "exception"]
    assert len(events) == 1
    assert events[0].attributes["exception.type"].endswith(type(caught.value).__name__)
    assert events[0].attributes["exception.message"] == str(caught.value)
    assert span.attributes["ddex.input.size"] == len(data)
    # the traceback still ends in the engine, not in telemetry
    assert caught.traceback[-1].path.name != "spans.py"


def test_not_ddex_failure_keeps_what_was_learnt(tel) -> None:
    with pytest.raises(NotDDEXError):
        ern.parse(b"<hello/>")
    span = tel.span("ddex.parse")
    assert span.attributes["error.type"] == "NotDDEXError"
    assert span.status.status_code is StatusCode.ERROR


def test_a_failure_after_detection_keeps_what_the_stages_reported(tel, sample: Path, monkeypatch) -> None:
    """The read and detect stages' reports reach the error span when a later stage fails: path,
    size, version and message type, with no parse result to read them from."""

    def fails(*args, **kwargs):
        raise DDEXError("extraction failed on purpose")

    monkeypatch.setattr(lazy, "extract_message", fails)
    with pytest.raises(DDEXError):
        ern.parse(str(sample))
    attrs = tel.span("ddex.parse").attributes
    assert attrs["error.type"] == "DDEXError"
    assert attrs["file.path"] == str(sample) and attrs["ddex.input.size"] == sample.stat().st_size
    assert attrs["ddex.ern.version"] == "4.3" and attrs["ddex.message.type"] == "NewReleaseMessage"


def test_missing_file_is_an_error_span(tel, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ern.parse(str(tmp_path / "nope.xml"))
    assert tel.span("ddex.parse").attributes["error.type"] == "FileNotFoundError"


def test_build_span(instrument, sample: Path) -> None:
    tel = instrument(stage_attributes=True)
    message = ern.parse(str(sample))
    out = ern.build(message, "42")
    span = tel.span("ddex.build")
    attrs = span.attributes
    assert attrs["ddex.operation.name"] == "build"
    assert attrs["ddex.ern.version"] == "4.2"  # normalised target version, not the argument
    assert attrs["ddex.output.size"] == len(out)
    assert "ddex.input.size" not in attrs
    assert attrs["ddex.message.type"] == "NewReleaseMessage"
    assert attrs["ddex.message.id"] == message.header.message_id
    assert attrs["ddex.release.count"] == len(message.releases)
    assert {f"ddex.stage.{s}.duration" for s in ("validate", "assemble", "serialize")} <= attrs.keys()


def test_build_warnings_become_events(tel, samples_dir: Path) -> None:
    message = ern.parse(str(samples_dir / "AudiusProject__01_delivery.xml"))  # 3.8.2 → 4.3 loses things
    out = ern.build(message, "4.3")
    assert out.findings, "this sample is expected to build with warnings"
    span = tel.span("ddex.build")
    warnings = [e for e in span.events if e.name == "ddex.validation.warning"]
    assert len(warnings) == min(len(out.findings), 20)
    assert {e.attributes["ddex.finding.code"] for e in warnings} <= {f.code for f in out.findings}
    assert span.attributes["ddex.validation.warning.count"] == len(out.findings)
    assert span.status.status_code is StatusCode.UNSET


def test_build_validation_failure(tel, samples_dir: Path) -> None:
    # placeholder sender/recipient ids ("DPID_OF_THE_SENDER"): errors for ERN 4.x
    message = ern.parse(str(samples_dir / "miqwit__001_audioalbum_complete.xml"))
    with pytest.raises(DDEXValidationError) as caught:
        ern.build(message, "4.3")
    span = tel.span("ddex.build")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "DDEXValidationError"
    errors = [e for e in span.events if e.name == "ddex.validation.error"]
    assert len(errors) == len(caught.value.findings and [f for f in caught.value.findings if f.severity == "error"])
    assert tel.spans("ddex.validate") == []


def test_validate_on_its_own(tel, samples_dir: Path) -> None:
    message = ern.parse(str(samples_dir / "daddykev__Samples43_8_DjMix.xml"))
    report = ern.validate(message, "strict")
    span = tel.span("ddex.validate")
    assert span.parent is None
    assert span.attributes["ddex.operation.name"] == "validate"
    assert span.attributes["ddex.validation.level"] == "strict"
    assert span.attributes["ddex.validation.error.count"] == len(report.errors)
    assert span.attributes["ddex.validation.warning.count"] == len(report.warnings)
    assert span.status.status_code is StatusCode.UNSET  # findings are results, not failures
    assert len([e for e in span.events if e.name.startswith("ddex.validation.")]) == min(len(report.findings), 20)


def test_suppressed_instrumentation_records_nothing(tel, sample: Path) -> None:
    with suppress_instrumentation():
        message = ern.parse(str(sample))
        ern.build(message)
        list(ern.stream(str(sample)))
        ern.validate(message)
    assert tel.spans() == []
    metrics = tel.metrics()
    assert "ddex.operation.duration" not in metrics
    assert "ddex.stage.duration" not in metrics


def test_stage_functions_called_directly_do_nothing(tel, sample: Path) -> None:
    data = parser.read_input(str(sample))
    root = safexml.parse_xml(data.data)
    lazy.extract_message(root, *extract.detect_version(root))
    assert tel.spans() == []
    assert "ddex.stage.duration" not in tel.metrics()


def test_non_ddex_exceptions_from_the_caller_are_not_swallowed(tel) -> None:
    with pytest.raises(TypeError):
        ern.parse(12345)  # type: ignore[arg-type]
    assert tel.span("ddex.parse").attributes["error.type"] == "TypeError"


def test_instrumentation_without_sdk_is_transparent(sample: Path) -> None:
    """No SDK anywhere (the API's no-op providers): calls go straight through, results unchanged."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    expected = ern.parse(str(sample))
    DDEXInstrumentor().instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())
    try:
        assert ern.parse(str(sample)) == expected
        with pytest.raises(DDEXError):
            ern.parse(b"<x/>")
    finally:
        DDEXInstrumentor().uninstrument()


_LATE_SDK_APP = """
import sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ddex_otel import ern
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor
from ddex_otel.telemetry.otelcompat import global_providers_unset

DDEXInstrumentor().instrument()  # no providers given, none set: the API's proxies
data = open(sys.argv[1], "rb").read()
for _ in range(3):
    ern.parse(data)
print("unset before:", global_providers_unset())
exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
print("unset after:", global_providers_unset())
ern.parse(data)  # the very next call is recorded
print("spans:", [span.name for span in exporter.get_finished_spans()])
names = [m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
print("duration recorded:", "ddex.operation.duration" in names)
"""


def test_an_sdk_installed_after_instrumenting_is_used_from_the_next_call(sample: Path) -> None:
    """Instrumented before any SDK is configured (the global proxies), calls go straight through;
    the first call after the application sets its global providers is recorded."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LATE_SDK_APP, str(sample)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "unset before: True" in lines and "unset after: False" in lines
    assert "spans: ['ddex.parse']" in lines  # one span: the three calls before the SDK made none
    assert "duration recorded: True" in lines


def test_purged_releases_are_not_release_list_releases(tel, samples_dir: Path) -> None:
    """The contract counts ReleaseList elements; a PurgeReleaseMessage has a PurgedRelease only."""
    message = ern.parse(str(samples_dir / "AudiusProject__03_delete.xml"))
    assert message.releases == () and [r.kind for r in message.purged_releases] == ["PurgedRelease"]
    span = tel.span("ddex.parse")
    assert span.attributes["ddex.message.type"] == "PurgeReleaseMessage"
    assert span.attributes["ddex.release.count"] == 0  # ... the telemetry does not count it
    assert "ddex.releases.processed" not in tel.metrics()
    assert sum(1 for _ in ern.stream(str(samples_dir / "AudiusProject__03_delete.xml"))) >= 2
    assert tel.span("ddex.stream").attributes["ddex.release.count"] == 0


def test_generate_span(tel, tmp_path: Path) -> None:
    from ddex_otel.ern.generator import write_message

    out = tmp_path / "g.xml"
    size = write_message(str(out), releases=2, tracks_per_release=3, version="4.2")
    span = tel.span("ddex.generate")
    assert span.attributes["ddex.operation.name"] == "generate"
    assert span.attributes["ddex.ern.version"] == "4.2"
    assert span.attributes["ddex.output.size"] == size == out.stat().st_size
    assert span.attributes["file.path"] == str(out)
    assert "ddex.operation.duration" not in tel.metrics()  # a span only: generating is not processing a message
    with pytest.raises(OSError):
        write_message(str(tmp_path / "missing" / "g.xml"), releases=1)
    failed = [s for s in tel.spans("ddex.generate") if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1 and failed[0].attributes["error.type"] == "FileNotFoundError"


def test_custom_sampler_sees_every_attribute_of_a_parse(sample: Path) -> None:
    """A parse's span is started when the parse ends, back-dated to its start, with all its
    attributes: a sampler of the application's own gets them all in ``should_sample``, and the
    span still covers the whole call."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler

    seen: list[object] = []

    class Recording(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                          trace_state=None):  # type: ignore[no-untyped-def]
            seen.append(dict(attributes or {}))
            return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

        def get_description(self) -> str:
            return "recording"

    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=Recording(), shutdown_on_exit=False)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    DDEXInstrumentor().instrument(tracer_provider=tp, meter_provider=MeterProvider(shutdown_on_exit=False))
    try:
        before = time.time_ns()
        ern.parse(str(sample))
        after = time.time_ns()
    finally:
        DDEXInstrumentor().uninstrument()
    (span,) = exporter.get_finished_spans()
    assert seen == [dict(span.attributes or {})]
    assert seen[0][A.OPERATION_NAME] == A.OP_PARSE and seen[0][A.RELEASE_COUNT] > 0
    # back-dated: the span starts before the call returned its result, within the call
    assert span.start_time is not None and span.end_time is not None
    assert before - 1_000_000 <= span.start_time < span.end_time <= after + 1_000_000


def test_builtin_samplers_end_with_the_same_operation_name(tel, sample: Path) -> None:
    ern.parse(str(sample))
    assert tel.span(A.SPAN_PARSE).attributes[A.OPERATION_NAME] == A.OP_PARSE
