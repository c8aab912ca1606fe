"""The seed's benchmark suite: ``ddex-otel bench`` (and ``make bench``).

Parse (1 KB … 1 MB), build (simple and complex), a parse → modify → build round trip and a 10 MB+
stream in a child process (peak memory), timed in interleaved rounds (every case once per round,
in a shuffled order, so drift in machine speed hits all of them alike) and reported as medians.
A bare ``lxml.etree.fromstring`` of the 100 KB input runs in the same rounds as the *reference*:
``--compare BASELINE.json`` divides every figure by it before comparing, so a machine that is
uniformly slower today does not read as a regression. Results are JSON with machine information;
where the DDEX Suite (``ddex_parser`` / ``ddex_builder``) is installed, the same inputs go through
it too (its time, or the error it gives).

Modules: ``cases`` (inputs and what is timed), ``runner`` (rounds, medians, machine info, the
stream child), ``compare`` (against a stored baseline), ``report`` (tables, HTML with a plot),
``cli`` (the command).
"""

from ddex_otel.bench.compare import compare_results
from ddex_otel.bench.runner import run_suite

__all__ = ["compare_results", "run_suite"]
