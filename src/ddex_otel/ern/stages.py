"""Stage observer: how code outside the engine learns what each stage of an operation took.

The engine never imports telemetry. ``parse`` and ``build`` read ``OBSERVER`` (a context
variable) once per call; when something set it, they time each stage and call
``observer((stage, seconds, detail))`` right after it, also when the stage raised (``detail`` is
then None). One tuple per stage, so the observer can be a list's ``append``: the reports are kept
as they come and read once the operation ends. Unobserved calls pay one context-variable read.

Stages and their ``detail``:
    parse:  "read" → InputData, "xml" → the lxml root, "detect" → (ern_version, message_type),
            "extract" → Message
    build:  "validate" → ValidationReport, "assemble" → the lxml root, "serialize" → the bytes

The stage functions stay module-level functions, each called through its own module's globals (see
the stage contracts of ``parser`` and ``builder``), so they can still be wrapped from outside, e.g.
to make a child span current while one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any, TypeVar

#: (stage, seconds, detail): what ``timed`` reports after each stage.
StageReport = tuple[str, float, Any]
StageObserver = Callable[[StageReport], None]

#: The observer of the operation running in this context (None: nobody is watching).
OBSERVER: ContextVar[StageObserver | None] = ContextVar("ddex_ern_stage_observer", default=None)

T = TypeVar("T")


def timed(observe: StageObserver, stage: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one stage and report its duration and result to ``observe`` (failures too, then re-raise)."""
    start = perf_counter()
    try:
        result = func(*args, **kwargs)
    except BaseException:
        observe((stage, perf_counter() - start, None))
        raise
    observe((stage, perf_counter() - start, result))
    return result
