"""Import the SDK's trace module even when OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is bad.

``opentelemetry.sdk.trace`` reads that variable at import time and raises ``ValueError`` on a
value that is not a non-negative integer, which would make ``import ddex_otel.telemetry.setup``
(and so ``configure()``) fail in the application. Here the bad value is a warning: the module is
imported with the variable hidden for that moment (the SDK default applies), then it is restored.
Import this module before anything that imports ``opentelemetry.sdk.trace``.
"""

from __future__ import annotations

import logging
import os
import sys

_VAR = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"


def import_sdk_trace() -> None:
    if "opentelemetry.sdk.trace" in sys.modules:
        return
    raw = os.environ.get(_VAR)
    if raw is None or raw.strip() == "" or raw.strip().isdigit():
        import opentelemetry.sdk.trace
        return
    logging.getLogger("ddex_otel.telemetry").warning(
        "ignoring %s=%r: not a non-negative integer; using the SDK default", _VAR, raw)
    del os.environ[_VAR]
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    finally:
        os.environ[_VAR] = raw


import_sdk_trace()
