#!/usr/bin/env bash
# Kept for habit and old docs: the build is `ddex-otel stack build` (src/ddex_otel/stack/build.py), run here
# with the checkout's .venv (make venv) or $PYTHON; --browser / --broker add chromium and redis for the tests.
# Like `make stack-bins`, it passes the team's Jaeger UI build from ../shared/jaeger-ui/ when there is one.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
UI="$ROOT/../shared/jaeger-ui/jaeger-ui-v1.76.0-build.tgz"
if [ -f "$UI" ]; then set -- --jaeger-ui "$UI" "$@"; fi
exec "$PY" -m ddex_otel.cli stack build --browser --broker "$@"
