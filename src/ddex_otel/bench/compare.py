"""Compare a run with a stored baseline: any figure more than ``threshold`` times worse is a regression.

Noise-aware: figures are medians of interleaved rounds, and time figures are divided by the
same run's reference (a bare ``lxml.etree.fromstring`` of the 100 KB input) before comparing, so
a machine that is uniformly slower or faster than when the baseline was taken cancels out. Peak
memory is compared as it is. Throughputs (MB/s) are not compared separately: they are the same
figure as the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Default ratio beyond which a figure is a regression (shared 2-CPU VMs drift by ±30 %).
DEFAULT_THRESHOLD = 1.5


@dataclass(frozen=True)
class Comparison:
    case: str
    metric: str
    baseline: float
    current: float
    ratio: float  # current / baseline after normalisation: > 1 is worse
    regression: bool


def _normalised(results: dict[str, Any], reference: str | None, case: str) -> float | None:
    value = results.get(case, {}).get("median_s")
    if value is None:
        return None
    ref = results.get(reference or "", {}).get("median_s") if reference else None
    if ref and case != reference:
        return value / ref
    return value


def compare_results(current: dict[str, Any], baseline: dict[str, Any],
                    threshold: float = DEFAULT_THRESHOLD) -> list[Comparison]:
    """One Comparison per figure present in both runs."""
    out: list[Comparison] = []
    cur, base = current.get("results", {}), baseline.get("results", {})
    reference = current.get("reference") if current.get("reference") == baseline.get("reference") else None
    for case in cur:
        if case not in base or case == reference:
            continue
        c, b = _normalised(cur, reference, case), _normalised(base, reference, case)
        if c is not None and b:
            ratio = c / b
            metric = "time/reference" if reference else "time"
            out.append(Comparison(case, metric, b, c, ratio, ratio > threshold))
        c_mem, b_mem = cur[case].get("peak_rss_bytes"), base[case].get("peak_rss_bytes")
        if c_mem and b_mem:
            ratio = c_mem / b_mem
            out.append(Comparison(case, "peak_rss", b_mem, c_mem, ratio, ratio > threshold))
    return out
