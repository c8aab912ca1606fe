"""Incremental parsing for huge files (lxml iterparse with element clearing).

``stream(source)`` yields, in document order: one ``StreamStart``, the ``MessageHeader``, each
``Party``, each ``Resource``, each ``Release`` and each ``Deal`` — never holding the document.

STAGE CONTRACT (wrapped from outside by telemetry): ``open_input(source) -> StreamInput`` is
called through this module's globals; ``StreamInput.bytes_read`` counts the bytes consumed so far
and ``.path`` is the file path when there is one.
"""

from __future__ import annotations

from typing import Iterator

from ddex_otel.ern.model import Deal, MessageHeader, Party, Release, Resource, StreamStart

StreamItem = StreamStart | MessageHeader | Party | Resource | Release | Deal


def stream(source, *, huge_tree: bool = False) -> Iterator[StreamItem]:  # TODO(engine)
    raise NotImplementedError
