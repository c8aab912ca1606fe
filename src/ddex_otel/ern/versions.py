"""ERN versions: namespace ↔ dotted version."""

from __future__ import annotations

SUPPORTED_VERSIONS: tuple[str, ...] = ("3.8", "3.8.1", "3.8.2", "4.1", "4.1.1", "4.2", "4.3", "4.3.1")  # TODO(engine)
