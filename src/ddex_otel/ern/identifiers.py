"""Shape and check-digit tests for the identifiers ERN messages carry: ISRC, ICPN, GRid.

Each ``*_problem`` function returns ``None`` for a good value or one sentence saying what is
wrong, so validation can report every bad identifier at once instead of stopping at the first.
The ``compute_*`` helpers exist so synthetic data (the generator, property tests) can make
identifiers that pass.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

# ISO 3901: country code (2 letters), registrant (3 alphanumerics), year (2 digits),
# designation (5 digits). DDEX messages carry the compact 12-character form, no hyphens.
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}")
_ISRC_HYPHENATED = re.compile(r"[A-Z]{2}-[A-Z0-9]{3}-[0-9]{2}-[0-9]{5}")
# GRid: "A1", 5-character issuer code, 10-character release number, 1 check character.
_GRID = re.compile(r"A1[A-Z0-9]{5}[A-Z0-9]{10}[A-Z0-9]")
_ICPN_LENGTHS = (12, 13, 14)  # UPC-A, EAN-13, GTIN-14


def isrc_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an ISRC in a DDEX message, or None."""
    if _ISRC.fullmatch(value):
        return None
    if _ISRC_HYPHENATED.fullmatch(value):
        return f"ISRC {value!r} must be written without hyphens ({value.replace('-', '')})"
    return f"ISRC {value!r} is not 12 characters shaped CC-XXX-YY-NNNNN"


def is_valid_isrc(value: str) -> bool:
    """True for a compact, well-shaped ISRC (ISRC has no check digit)."""
    return isrc_problem(value) is None


def gtin_check_digit(payload: str) -> int:
    """GS1 mod-10 check digit for the digits before the check digit (any GTIN length)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def icpn_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an ICPN (UPC-A / EAN-13 / GTIN-14), or None."""
    if not value.isascii() or not value.isdigit():
        return f"ICPN {value!r} must contain only digits"
    if len(value) not in _ICPN_LENGTHS:
        return f"ICPN {value!r} has {len(value)} digits; expected 12 (UPC), 13 (EAN) or 14 (GTIN)"
    expected = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"ICPN {value!r} has check digit {value[-1]}, expected {expected}"
    return None


def is_valid_icpn(value: str) -> bool:
    """True for a 12/13/14-digit ICPN whose GS1 check digit is right."""
    return icpn_problem(value) is None


def make_icpn(payload: str) -> str:
    """``payload`` (11, 12 or 13 digits) followed by its check digit."""
    return payload + str(gtin_check_digit(payload))


def _char_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def _mod37_36_state(chars: str) -> tuple[int, int]:
    """ISO 7064 MOD 37,36 (hybrid): the running product and the last sum."""
    product, total = 36, 0
    for ch in chars:
        total = (product % 37 + _char_value(ch)) % 36 or 36
        product = (total * 2) % 37
    return product, total


def grid_check_character(payload: str) -> str:
    """The ISO 7064 MOD 37,36 check character completing a 17-character GRid payload."""
    product, _ = _mod37_36_state(payload)
    value = (37 - product) % 36
    return str(value) if value < 10 else chr(ord("A") + value - 10)


def grid_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a GRid, or None."""
    compact = value.replace("-", "")
    if not _GRID.fullmatch(compact):
        return f"GRid {value!r} is not 18 characters shaped A1-XXXXX-XXXXXXXXXX-C"
    _, total = _mod37_36_state(compact)
    if total != 1:
        expected = grid_check_character(compact[:-1])
        return f"GRid {value!r} has check character {compact[-1]}, expected {expected}"
    return None


def is_valid_grid(value: str) -> bool:
    """True for an 18-character GRid with a correct ISO 7064 check character."""
    return grid_problem(value) is None


def make_grid(payload: str) -> str:
    """A 17-character GRid payload (``A1`` + issuer + release number) with its check character."""
    return payload + grid_check_character(payload)


_DPID = re.compile(r"PADPIDA[a-zA-Z0-9]+")
_ISNI = re.compile(r"[0-9]{15}[0-9X]")


def party_id_scheme(value: str) -> str | None:
    """The ERN 4.x PartyId child a bare party id is written as by its shape: ``DPID``, ``ISNI``,
    else None (a ProprietaryId)."""
    return "DPID" if _DPID.fullmatch(value) else "ISNI" if _ISNI.fullmatch(value) else None


def free_references(taken: set[str], prefix: str = "P") -> Iterator[str]:
    """``P1``, ``P2``… skipping the references in ``taken`` (each one yielded is added to it)."""
    for n in itertools.count(1):
        ref = f"{prefix}{n}"
        if ref not in taken:
            taken.add(ref)
            yield ref
