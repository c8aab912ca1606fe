"""``XMLLayerInstrumentor``: DDEX spans from plain XML-library calls (see the package docstring)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from types import ModuleType
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from ddex_otel.telemetry.xmllayer import defusedxml_etree, lxml_etree, stdlib_etree, xmltodict_dicts
from ddex_otel.telemetry.xmllayer.patching import Patched, apply, restore
from ddex_otel.telemetry.xmllayer.record import Layer

_logger = logging.getLogger(__name__)

#: Library modules covered, in the order they are instrumented (each only when importable).
LIBRARIES: tuple[ModuleType, ...] = (lxml_etree, stdlib_etree, xmltodict_dicts, defusedxml_etree)


class XMLLayerInstrumentor(BaseInstrumentor):
    """Spans and metrics for DDEX documents read or written with lxml, ``xml.etree``, xmltodict
    and defusedxml.

    ``instrument(tracer_provider=…, meter_provider=…)``: with explicit providers the layer records
    into its own instruments; without, into the engine instrumentor's when that is instrumented
    (one set of ``ddex.*`` instruments per process), else the global providers'.
    """

    _patched: list[Patched] = []
    _layer: Layer | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()  # lxml ships with ddex-otel; xmltodict and defusedxml are covered when importable

    def _instrument(self, **kwargs: Any) -> None:
        layer = Layer(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        patched: list[Patched] = []
        for library in LIBRARIES:
            try:
                importlib.import_module(library.MODULE)
            except ImportError:
                continue  # not installed: nothing to cover
            try:
                for target in library.targets(layer):
                    patched.extend(apply(target))
            except Exception:  # one library's surprise must not stop the others
                _logger.warning("ddex_otel: could not instrument %s", library.MODULE, exc_info=True)
        type(self)._layer = layer
        type(self)._patched = patched

    def _uninstrument(self, **kwargs: Any) -> None:
        restore(type(self)._patched)
        type(self)._patched = []
        type(self)._layer = None
