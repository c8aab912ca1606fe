# Two entry points from a fresh clone (see README): `make demo` and `make test`.
# Each installs what it needs: the virtual env (re-made when pyproject.toml changes) and, for the
# tests, the local telemetry stack's binaries (built once, cached under ~/.cache/ddex-otel).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KEY    := $(shell sha1sum pyproject.toml | cut -c1-12)
STAMP  := $(VENV)/.installed-$(KEY)
TEST_STAMP := $(VENV)/.installed-test-$(KEY)

LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed-$(KEY)

# The team's reference material beside the checkout, passed explicitly to the demo, the tests and the
# stack build (the package never looks for it); each is left out when absent (the demo then generates
# its messages). A local clone made elsewhere (`git clone . /tmp/x`) finds it beside the checkout it
# was cloned from. Set SHARED, or each variable, to use copies elsewhere.
ORIGIN := $(shell git config --get remote.origin.url 2>/dev/null)
SHARED ?= $(or $(wildcard ../shared),$(if $(ORIGIN),$(wildcard $(ORIGIN)/../shared)),../shared)
DDEX_SAMPLES_DIR ?= $(wildcard $(abspath $(SHARED)/ddex-samples))
DDEX_XSD_DIR ?= $(wildcard $(abspath $(SHARED)/ddex-xsd))
JAEGER_UI ?= $(wildcard $(abspath $(SHARED)/jaeger-ui/jaeger-ui-v1.76.0-build.tgz))
ifneq ($(DDEX_SAMPLES_DIR),)
export DDEX_SAMPLES_DIR
endif
ifneq ($(DDEX_XSD_DIR),)
export DDEX_XSD_DIR
endif
ifneq ($(JAEGER_UI),)
export JAEGER_UI
endif

.PHONY: venv test-venv lowest-venv demo lint test unit test-lowest stack-bins bench bench-scale-out clean

# The package alone (enough for the demo) ...
venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@rm -f $(VENV)/.installed-[0-9a-f]* && touch $@

# ... plus the test tools, the linters, the optional DDEX Suite (Rust build the first time, then pip's
# cache) and Celery (mypy checks the package against the same libraries the tests use).
test-venv: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,lint,ddex-suite,celery]'
	@rm -f $(VENV)/.installed-test-* && touch $@

# ... and a second env at the lowest versions pyproject.toml allows for its direct dependencies
# (uv resolves them: pip cannot), installed by pip so that its wheel cache serves the DDEX Suite.
lowest-venv: $(LOWEST_STAMP)

$(LOWEST_STAMP): $(TEST_STAMP)
	$(PY) -m pip install -q 'uv>=0.5'
	@rm -rf $(LOWEST) && $(PYTHON) -m venv $(LOWEST)
	$(VENV)/bin/uv pip compile -q --resolution lowest-direct --python-version 3.11 --no-header \
		--extra test --extra ddex-suite --extra celery -o $(LOWEST)/requirements.txt pyproject.toml
	$(LOWEST)/bin/python -m pip install -q -r $(LOWEST)/requirements.txt
	$(LOWEST)/bin/python -m pip install -q --no-deps -e .
	@touch $@

demo: venv
	$(VENV)/bin/ddex-otel demo

# The stack's binaries (`ddex-otel stack build`; cached, seconds when built), chromium and redis for the
# tests, and the Jaeger UI build when there is one.
stack-bins: venv
	$(VENV)/bin/ddex-otel stack build --browser --broker $(if $(JAEGER_UI),--jaeger-ui $(JAEGER_UI))

# ruff over every Python directory, then mypy over the package (both configured in pyproject.toml).
lint: test-venv
	$(VENV)/bin/ruff check src tests scripts benchmarks examples
	$(VENV)/bin/mypy

# The linters first (seconds; fail fast), everything at the newest allowed versions, then the unit
# tier again at the lowest ones (without the linters: their `lint` extra is not installed there).
test: lint test-venv stack-bins
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-lowest

unit: test-venv
	$(PY) -m pytest -m "not integration"

test-lowest: lowest-venv
	$(LOWEST)/bin/python -m pytest -m "not integration" -p no:cacheprovider

# Benchmarks print medians and ratios against a same-run baseline (docs/benchmarks.md):
# the suite (compared with the stored baseline; non-zero exit on a regression) and the telemetry
# cost. benchmarks/bench_parse.py (1 GB stream) and bench_build.py (1000 releases) run on their own.
bench: test-venv
	$(VENV)/bin/ddex-otel bench --compare benchmarks/baseline.json --html bench.html
	$(PY) benchmarks/bench_overhead.py

# Celery workers + collector tier on this machine (docs/scale-out.md): figures and the picture.
bench-scale-out: test-venv stack-bins
	$(PY) benchmarks/bench_scale_out.py --no-flush-variant --json .benchmarks/scale-out.json
	$(PY) scripts/draw_scale_out.py --bench .benchmarks/scale-out.json

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .mypy_cache .ruff_cache .benchmarks telemetry .stack bench.html
