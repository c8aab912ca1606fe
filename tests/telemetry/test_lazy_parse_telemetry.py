"""Telemetry on ``parse`` reads counts and the header only: the lazy objects stay unread (cheap)."""

from __future__ import annotations

from pathlib import Path

from ddex_otel import ern
from ddex_otel.ern.lazy import is_pending


def test_parse_span_attributes_fill_no_lazy_object(tel, sample: Path) -> None:
    message = ern.parse(sample.read_bytes())
    attrs = tel.span("ddex.parse").attributes
    assert (attrs["ddex.release.count"], attrs["ddex.resource.count"], attrs["ddex.deal.count"]) == (22, 22, 3)
    assert attrs["ddex.message.id"] == "Test1.1"
    objects = [*message.parties, *message.resources, *message.releases, *message.deals]
    assert objects and all(map(is_pending, objects))
    assert message.releases[0].title == "Yume no Hajmari"  # and they still read normally afterwards
