"""Loaded by the Python programs ``ddex-otel run`` starts (this directory heads their PYTHONPATH):
set up telemetry before the program's own imports (``ddex_otel.telemetry.run.start_in_child``)."""

try:
    from ddex_otel.telemetry.run import start_in_child
except ImportError:  # ddex-otel is not installed for this interpreter: run the program untouched
    pass
else:
    start_in_child()
