"""ISO 8601 durations (``xs:duration``) ↔ seconds, exactly.

ERN carries durations as ``PT3M20S``; the model keeps seconds as a float. ``format_duration``
and ``parse_duration`` round-trip every non-negative finite float exactly (decimal arithmetic for
fractions), so parse → build → parse never drifts.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
# Years and months have no fixed length; recordings never use them, but ``P0Y0M0DT3M20S`` is legal
# and tools emit it, so they are accepted with the xs:duration-ordering approximations below.
_FACTORS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


_SIMPLE = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def parse_duration(text: str | None) -> float | None:
    """Seconds in an ISO 8601 duration (``PT1H2M3.5S`` → 3723.5); None when absent or invalid.

    Lenient on purpose: a bad duration in one track must not make a whole delivery unreadable. A
    duration too long for a finite float (hundreds of digits) is invalid too: this never raises,
    which ``parse`` relies on (it reads fields on first access, see ``model``).
    """
    if not text:
        return None
    value: float | None
    try:
        simple = _SIMPLE.fullmatch(text)  # the common ``PT3M20S`` shape, integers only: fast path
        if simple is not None and len(text) > 2:
            hours, minutes, seconds = simple.groups()
            value = float(
                (int(hours) * 3600 if hours else 0) + (int(minutes) * 60 if minutes else 0) + (int(seconds) if seconds else 0)
            )
        else:
            value = _parse_general(text.strip())
    except (ValueError, OverflowError):  # int() of > 4300 digits, float() of a > 1e308 int
        return None
    return value if value is None or math.isfinite(value) else None


def _parse_general(text: str) -> float | None:
    """Any ``xs:duration`` (days, weeks, fractions, ``P0Y0M``); exact decimal sum for fractions."""
    match = _DURATION.fullmatch(text)
    if match is None or text.endswith(("P", "T")):
        return None
    parts = match.groups()
    if not any(p and ("." in p or "," in p) for p in parts):
        return float(sum(int(p) * f for p, f in zip(parts, _FACTORS, strict=True) if p))
    total = sum(Decimal(p.replace(",", ".")) * f for p, f in zip(parts, _FACTORS, strict=True) if p)
    return float(total)


def format_duration(seconds: float) -> str:
    """The shortest ``PT…H…M…S`` text for ``seconds`` (200 → ``PT3M20S``, 0 → ``PT0S``)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite, non-negative number of seconds, not {seconds!r}")
    exact = Decimal(repr(float(seconds)))
    hours, rest = divmod(exact, 3600)
    minutes, secs = divmod(rest, 60)
    out = ["PT"]
    if hours:
        out.append(f"{int(hours)}H")
    if minutes:
        out.append(f"{int(minutes)}M")
    if secs or len(out) == 1:
        text = format(secs.normalize(), "f")
        out.append(f"{text}S")
    return "".join(out)
