"""Wrapper factories for the shapes of call the XML libraries share.

Every factory takes the original function and returns a plain function with the same call
signature (no wrapt proxy: the non-DDEX path must cost a fraction of a microsecond). Shapes:

* ``memory_parse``   ``fromstring(text, …)`` / ``XML(text, …)``: recognised by the result's root
  tag (a failure: by the head of the text);
* ``source_parse``   ``parse(source, …)`` (or the method ``ElementTree.parse(self, source, …)``):
  the same (a failure: by the head of the file, path or a file object that can seek back);
* ``iterparse``      ``iterparse(source, events, …)``: its events must be counted from the first
  one, so the head of the file is read before (a path, or a file object that can peek or seek
  back; anything else is not traced), then ``TracedIterparse``;
* ``tostring`` / ``write``: recognised by the root element's tag.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from time import perf_counter
from typing import Any

from ddex_otel.telemetry import attributes as A
from ddex_otel.telemetry.xmllayer.detect import (
    DDEX_CLARK_PREFIX,
    EventCounter,
    InputFacts,
    file_size,
    root_of_element,
    root_of_tag,
    size_of,
    sniff,
    sniff_source,
    source_path,
    tree_facts,
)
from ddex_otel.telemetry.xmllayer.patching import Func
from ddex_otel.telemetry.xmllayer.record import (
    Call,
    Layer,
    TracedIterparse,
    counted_events,
    inside_operation,
    record_after,
    record_serialize,
    with_events,
)


def like(traced: Func, original: Func) -> Func:
    """Name, docstring and ``__wrapped__`` of ``original``, and the mark ``restore`` looks for."""
    try:
        functools.update_wrapper(traced, original)
    except (AttributeError, TypeError):  # pragma: no cover - a callable without the usual attributes
        traced.__wrapped__ = original  # type: ignore[attr-defined]
    traced._ddex_otel_xml = True  # type: ignore[attr-defined]
    return traced


# ------------------------------------------------------------------------------------ results


def encoded_size(result: Any) -> int | None:
    """Bytes of a serialised result: ``bytes``, ``str`` (UTF-8) or a list of either."""
    if isinstance(result, list):
        sizes = [size_of(part) for part in result]
        return sum(s for s in sizes if s is not None)
    return size_of(result)


# ----------------------------------------------------------------------------------- parsing
# A parse runs first; its result's root tag says whether it was a DDEX document (a tag check is
# all a non-DDEX parse pays). Only a failed parse reads the head of its input.


def memory_parse(layer: Layer, library: str, function: str, original: Func) -> Func:
    """``fromstring(text, …)``: the result is the root element."""
    clock = perf_counter  # closure cells: read faster than module globals on every call
    prefix = DDEX_CLARK_PREFIX

    def traced(text: Any, *args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            # A compiled original called with ``*args, **kwargs`` (even empty) takes a slower
            # argument path than a plain positional call.
            result = original(text, *args, **kwargs) if args or kwargs else original(text)
        except Exception as exc:
            root = None if inside_operation() else sniff(text)
            if root is not None:
                call = Call(library, function, root, InputFacts(size_of(text)))
                record_after(layer, A.OP_PARSE, call, started, error=exc)
            raise
        try:
            tag = result.tag
            if not tag.startswith(prefix):  # the one check a non-DDEX parse pays
                return result
        except AttributeError:  # not an element, or a tag that is not text
            return result
        if not inside_operation():
            root = root_of_tag(tag)
            if root is not None:
                call = Call(library, function, root, InputFacts(size_of(text)))
                record_after(layer, A.OP_PARSE, call, started, (root, tree_facts(result)))
        return result

    return like(traced, original)


def source_parse(layer: Layer, library: str, function: str, original: Func, *, tree: bool,
                 method: bool = False) -> Func:
    """``parse(source, …)`` (``tree``: the result is an ElementTree, else the root element), or with
    ``method`` ``ElementTree.parse(self, source, …)``."""
    at = 1 if method else 0

    def source_of(args: tuple, kwargs: dict) -> Any:
        return args[at] if len(args) > at else kwargs.get("source")

    def traced(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        try:
            result = original(*args, **kwargs) if kwargs or len(args) != 1 else original(args[0])
        except Exception as exc:
            if not inside_operation():
                root, path = sniff_source(source_of(args, kwargs), rewind=True)
                if root is not None:
                    call = Call(library, function, root, InputFacts(file_size(path), path))
                    record_after(layer, A.OP_PARSE, call, started, error=exc)
            raise
        element = result.getroot() if tree else result
        tag = getattr(element, "tag", None)
        if type(tag) is str and tag.startswith(DDEX_CLARK_PREFIX) and not inside_operation():
            root = root_of_tag(tag)
            if root is not None:
                path = source_path(source_of(args, kwargs))
                call = Call(library, function, root, InputFacts(file_size(path), path))
                record_after(layer, A.OP_PARSE, call, started, (root, tree_facts(element)))
        return result

    return like(traced, original)


def iterparse(layer: Layer, library: str, function: str, original: Func,
              tag_filtered: Callable[[tuple, dict], bool] = lambda args, kwargs: False) -> Func:
    """``tag_filtered(args, kwargs)``: the call asks the parser for some tags only (lxml's ``tag=``);
    the stream is traced without counts then (the parser never shows the other elements)."""

    def traced(source: Any, *args: Any, **kwargs: Any) -> Any:
        if inside_operation() or layer.telemetry() is None:
            return original(source, *args, **kwargs)
        root, path = sniff_source(source)
        if root is None:
            return original(source, *args, **kwargs)
        call = Call(library, function, root, InputFacts(file_size(path), path))
        if tag_filtered(args, kwargs):
            return TracedIterparse(original(source, *args, **kwargs), layer, call, None, None)
        wanted, asked = counted_events(args[0] if args else kwargs.get("events"))
        args, kwargs = with_events(args, kwargs, asked)
        return TracedIterparse(original(source, *args, **kwargs), layer, call, wanted, EventCounter())

    return like(traced, original)


# ----------------------------------------------------------------------------------- writing


def tostring(layer: Layer, library: str, function: str, original: Func) -> Func:
    def traced(element: Any, *args: Any, **kwargs: Any) -> Any:
        root = root_of_element(element)
        if root is None or inside_operation():
            return original(element, *args, **kwargs)
        tree = element if hasattr(element, "tag") else element.getroot()
        call = Call(library, function, root)
        return record_serialize(layer, call, tree_facts(tree), original, (element, *args), kwargs, encoded_size)

    return like(traced, original)


def write_method(layer: Layer, library: str, function: str, original: Func) -> Func:
    """``ElementTree.write(self, file_or_filename, …)``: output size from the file (or stream position)."""

    def traced(self: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        root = root_of_element(self)
        if root is None or inside_operation():
            return original(self, target, *args, **kwargs)
        path = os.fspath(target) if isinstance(target, (str, os.PathLike)) else None
        start = _position(target) if path is None else None
        call = Call(library, function, root, InputFacts(None, path if isinstance(path, str) else None))

        def written(_result: Any) -> int | None:
            if isinstance(path, str):
                return file_size(path)
            end = _position(target)
            return end - start if start is not None and end is not None else None

        return record_serialize(layer, call, tree_facts(self.getroot()), original, (self, target, *args), kwargs,
                                written)

    return like(traced, original)


def _position(stream: Any) -> int | None:
    try:
        return int(stream.tell())
    except (AttributeError, OSError, ValueError, TypeError):
        return None
