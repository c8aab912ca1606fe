"""The contract's metrics: names, kinds, units, attributes, bucket boundaries, exemplars.

Only ``ddex.operation.duration`` is a per-operation histogram; the others are observable sums of
in-process totals (the contract's cost budget), so their values are checked as sums.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import Histogram, Sum

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError
from ddex_otel.telemetry.metrics import DURATION_BUCKETS

EXPECTED = {
    # name: (kind, unit, monotonic)
    "ddex.operation.duration": (Histogram, "s", None),
    "ddex.stage.duration": (Sum, "s", True),
    "ddex.stage.calls": (Sum, "{call}", True),
    "ddex.message.size": (Sum, "By", True),
    "ddex.releases.processed": (Sum, "{release}", True),
    "ddex.operations.active": (Sum, "{operation}", False),
    "ddex.operation.cpu.time": (Sum, "s", True),
    "ddex.operation.memory.delta": (Sum, "By", True),
}


def _points(metric):
    return {tuple(sorted(p.attributes.items())): p for p in metric.data.data_points}


def test_every_contract_metric(instrument, sample: Path) -> None:
    tel = instrument(resource_usage=True, stage_attributes=True)
    message = ern.parse(str(sample))
    ern.build(message)
    metrics = tel.metrics()
    for name, (kind, unit, monotonic) in EXPECTED.items():
        assert name in metrics, name
        assert isinstance(metrics[name].data, kind), name
        assert metrics[name].unit == unit, name
        if monotonic is not None:
            assert metrics[name].data.is_monotonic is monotonic, name
    scope = tel.scopes()["ddex_otel"]
    assert scope.version and scope.schema_url.startswith("https://opentelemetry.io/schemas/")

    duration = _points(metrics["ddex.operation.duration"])
    assert set(duration) == {
        (("ddex.ern.version", "4.3"), ("ddex.operation.name", "parse")),
        (("ddex.ern.version", "4.3"), ("ddex.operation.name", "build")),
    }
    for point in duration.values():
        assert point.count == 1
        assert tuple(point.explicit_bounds) == DURATION_BUCKETS
    stages = _points(metrics["ddex.stage.duration"])
    assert {dict(k)["ddex.stage.name"] for k in stages} == {
        "read", "xml", "detect", "extract", "validate", "assemble", "serialize"}
    assert all(p.value > 0 for p in stages.values())
    calls = _points(metrics["ddex.stage.calls"])
    assert set(calls) == set(stages) and all(p.value == 1 for p in calls.values())
    span_stages = tel.span("ddex.parse").attributes
    for key, point in stages.items():
        if dict(key)["ddex.operation.name"] == "parse":
            assert point.value == span_stages[f"ddex.stage.{dict(key)['ddex.stage.name']}.duration"]
    size = _points(metrics["ddex.message.size"])
    parse_size = size[(("ddex.ern.version", "4.3"), ("ddex.operation.name", "parse"))]
    assert parse_size.value == sample.stat().st_size
    build_size = size[(("ddex.ern.version", "4.3"), ("ddex.operation.name", "build"))]
    assert build_size.value == tel.span("ddex.build").attributes["ddex.output.size"]
    releases = _points(metrics["ddex.releases.processed"])
    assert releases[(("ddex.ern.version", "4.3"), ("ddex.operation.name", "parse"))].value == len(message.releases)
    assert releases[(("ddex.ern.version", "4.3"), ("ddex.operation.name", "build"))].value == len(message.releases)
    active = _points(metrics["ddex.operations.active"])
    assert {dict(k)["ddex.operation.name"]: p.value for k, p in active.items()} == {"parse": 0, "build": 0}
    cpu = _points(metrics["ddex.operation.cpu.time"])
    assert set(cpu) == {(("ddex.operation.name", "parse"),), (("ddex.operation.name", "build"),)}
    assert all(p.value > 0 for p in cpu.values())
    parse_cpu = cpu[(("ddex.operation.name", "parse"),)].value
    assert parse_cpu == tel.span("ddex.parse").attributes["ddex.resource.cpu_time"]
    memory = _points(metrics["ddex.operation.memory.delta"])
    assert set(memory) == set(cpu)
    assert memory[(("ddex.operation.name", "parse"),)].value == tel.span("ddex.parse").attributes[
        "ddex.resource.memory.delta"]


def test_totals_accumulate_over_operations(instrument, sample: Path) -> None:
    tel = instrument(resource_usage=True)
    for _ in range(3):
        ern.parse(str(sample))
    metrics = tel.metrics()
    spans = tel.spans("ddex.parse")
    key = (("ddex.ern.version", "4.3"), ("ddex.operation.name", "parse"))
    assert _points(metrics["ddex.message.size"])[key].value == 3 * sample.stat().st_size
    assert _points(metrics["ddex.operation.duration"])[key].count == 3
    cpu = _points(metrics["ddex.operation.cpu.time"])[(("ddex.operation.name", "parse"),)].value
    assert cpu == pytest.approx(sum(s.attributes["ddex.resource.cpu_time"] for s in spans))
    calls = _points(metrics["ddex.stage.calls"])
    assert calls[(("ddex.operation.name", "parse"), ("ddex.stage.name", "extract"))].value == 3


def test_active_counts_while_running(tel, sample: Path) -> None:
    seen = []

    def consumer():
        for item in ern.stream(str(sample)):
            metric = tel.metrics()["ddex.operations.active"]
            seen.append({dict(p.attributes)["ddex.operation.name"]: p.value for p in metric.data.data_points})
            return item
    consumer()
    assert seen == [{"stream": 1}]


def test_failure_duration_carries_error_type(tel) -> None:
    with pytest.raises(DDEXError):
        ern.parse(b"<x/>")
    points = [dict(p.attributes) for p in tel.metrics()["ddex.operation.duration"].data.data_points]
    assert points == [{"ddex.operation.name": "parse", "error.type": "NotDDEXError"}]


def test_unknown_version_argument_is_not_a_metric_label(tel, sample: Path) -> None:
    message = ern.parse(str(sample))
    with pytest.raises(DDEXError):
        ern.build(message, "user-typed nonsense")
    build = [dict(p.attributes) for p in tel.metrics()["ddex.operation.duration"].data.data_points
             if p.attributes["ddex.operation.name"] == "build"]
    assert build == [{"ddex.operation.name": "build", "error.type": "UnsupportedVersionError"}]


def test_exemplars_point_at_the_span(tel, sample: Path) -> None:
    """The SDK's default exemplar filter (trace_based) keeps the trace of a sampled measurement."""
    ern.parse(str(sample))
    span = tel.span("ddex.parse")
    metrics = tel.metrics()
    for name in ("ddex.operation.duration",):
        exemplars = [e for p in metrics[name].data.data_points for e in p.exemplars]
        assert exemplars, name
        for exemplar in exemplars:
            assert exemplar.trace_id == span.context.trace_id, name
            assert exemplar.span_id == span.context.span_id, name
    duration = metrics["ddex.operation.duration"].data.data_points[0]
    assert duration.exemplars[0].value == pytest.approx(duration.sum)


def test_stage_metrics_option(instrument, sample: Path) -> None:
    tel = instrument(stage_metrics=False, stage_attributes=True)
    ern.parse(str(sample))
    metrics = tel.metrics()
    assert "ddex.stage.duration" not in metrics and "ddex.stage.calls" not in metrics
    assert "ddex.stage.extract.duration" in tel.span("ddex.parse").attributes


def test_validate_does_not_count_releases(tel, sample: Path) -> None:
    message = ern.parse(str(sample))
    ern.validate(message)
    points = _points(tel.metrics()["ddex.releases.processed"])
    assert [dict(k)["ddex.operation.name"] for k in points] == ["parse"]
