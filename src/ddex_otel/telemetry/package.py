"""Instrumented packages, in the contrib convention (``_instruments``).

The ERN engine ships inside this package, so ``DDEXInstrumentor`` needs nothing else installed.
The DDEX Suite packages are optional targets with their own instrumentor (``ddex_suite``), so a
missing or mismatched ``ddex-parser`` / ``ddex-builder`` only disables that part.
"""

_instruments: tuple[str, ...] = ()

_instruments_ddex_parser = "ddex-parser >= 0.4"
_instruments_ddex_builder = "ddex-builder >= 0.4"
_suite_instruments: tuple[str, ...] = (_instruments_ddex_parser, _instruments_ddex_builder)

_supports_metrics = True
