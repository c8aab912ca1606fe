"""Optional DDEX Suite (ddex-parser / ddex-builder) instrumentation (the test env installs the Suite)."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from ddex_otel.telemetry.ddex_suite import DDEXSuiteInstrumentor, suite_available
from ddex_otel.telemetry.instrumentor import DDEXInstrumentor


@pytest.fixture(autouse=True)
def _suite_installed() -> None:
    if not suite_available():  # make test installs them: missing means a broken environment
        pytest.fail("ddex-parser / ddex-builder 0.4.4 not installed: pip install -e '.[ddex-suite]'")


def test_suite_is_instrumented_with_ours(instrument, capfd) -> None:
    import ddex_builder
    import ddex_parser

    tel = instrument()
    assert DDEXSuiteInstrumentor().is_instrumented_by_opentelemetry
    xml = ddex_builder.DdexBuilder().build()
    span = tel.span("ddex.build")
    assert span.attributes["ddex.engine.name"] == "ddex-suite"
    assert span.attributes["ddex.output.size"] == len(xml.encode("utf-8"))
    # 0.4.4 rejects its own output: the error span must carry that exception's type
    with pytest.raises(ValueError, match="MessageSender/PartyName") as caught:
        ddex_parser.DDEXParser().parse(xml)
    parse = tel.span("ddex.parse")
    assert parse.attributes["ddex.engine.name"] == "ddex-suite"
    assert parse.attributes["ddex.input.size"] == len(xml.encode("utf-8"))
    assert parse.status.status_code is StatusCode.ERROR
    assert parse.attributes["error.type"] == type(caught.value).__name__
    DDEXInstrumentor().uninstrument()
    assert not DDEXSuiteInstrumentor().is_instrumented_by_opentelemetry
    assert not hasattr(ddex_parser.DDEXParser.parse, "__wrapped__")
    capfd.readouterr()  # ddex-parser prints debug lines of its own


def test_suite_can_be_left_out(instrument) -> None:
    instrument(ddex_suite=False)
    assert not DDEXSuiteInstrumentor().is_instrumented_by_opentelemetry
