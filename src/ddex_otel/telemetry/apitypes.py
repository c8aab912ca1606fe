"""Is an OpenTelemetry object a stand-in of the API package, with no SDK behind it yet?

``opentelemetry-api`` hands out placeholders until an SDK is installed: ``ProxyTracerProvider`` /
``ProxyTracer`` (public) and the metrics proxies (not exported by the API), which delegate once a
provider is set, and the ``NoOp*`` objects, which never record. All of them are classes of the API's
own ``opentelemetry.trace`` / ``opentelemetry.metrics`` packages; an SDK's (``opentelemetry.sdk``)
or a vendor's are not. The test is on the class's module, so it needs no private name of the API.
"""

from __future__ import annotations

from typing import Any

_API_PACKAGES = ("opentelemetry.trace", "opentelemetry.metrics")


def is_api_placeholder(obj: Any) -> bool:
    """True for the API's proxy and no-op providers, tracers, meters and instruments."""
    module = type(obj).__module__
    return module == _API_PACKAGES[0] or module == _API_PACKAGES[1] or module.startswith(
        ("opentelemetry.trace.", "opentelemetry.metrics."))
