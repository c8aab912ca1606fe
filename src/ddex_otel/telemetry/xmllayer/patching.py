"""Replacing library functions by their traced versions, and putting the originals back.

Plain attribute replacement (no wrapt proxy): the replacement is a plain Python function whose
``__wrapped__`` is the original, marked ``_ddex_otel_xml`` so ``restore`` only undoes our own.
One replacement may serve several names (``xml.etree``'s ``XML`` *is* ``fromstring``): it is set
under each name still holding the same original, so ``XML is fromstring`` stays true.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger(__name__)

Func = Callable[..., Any]


@dataclass(frozen=True)
class Target:
    """``owner.<names>`` (a module or a class) to replace by ``make(original)``."""

    owner: Any
    names: tuple[str, ...]
    make: Callable[[Func], Func]


Patched = tuple[Any, str, Func]


def apply(target: Target) -> list[Patched]:
    """Replace the target's names; return what ``restore`` needs to undo it."""
    first = target.names[0]
    original = getattr(target.owner, first, None)
    if not callable(original):
        _logger.warning("ddex_otel: %s.%s not found; it is not instrumented",
                        getattr(target.owner, "__name__", target.owner), first)
        return []
    if getattr(original, "_ddex_otel_xml", False):
        return []  # already ours
    replacement = target.make(original)
    names = [name for name in target.names if getattr(target.owner, name, None) is original]  # aliases of it
    for name in names:
        setattr(target.owner, name, replacement)
    return [(target.owner, name, original) for name in names]


def restore(patched: list[Patched]) -> None:
    for owner, name, original in patched:
        if getattr(getattr(owner, name, None), "_ddex_otel_xml", False):
            setattr(owner, name, original)
