#!/usr/bin/env bash
# Kept for habit and old docs: the build is `ddex-otel stack build` (src/ddex_otel/stack/build.py), run here
# with the checkout's .venv (make venv) or $PYTHON; --browser / --broker add chromium and redis for the tests.
PY="${PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/python}"
exec "$PY" -m ddex_otel.cli stack build --browser --broker "$@"
