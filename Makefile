# Two entry points from a fresh clone (see README): `make demo` and `make test`.
# Each installs what it needs: the virtual env (re-made when pyproject.toml changes) and, for the
# tests, the local telemetry stack's binaries (built once, cached under ~/.cache/ddex-otel).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: venv demo test unit stack-bins bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: venv
	$(VENV)/bin/ddex-otel demo

stack-bins:
	bash scripts/build-stack.sh

test: venv stack-bins
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest -m "not integration"

bench: venv
	$(PY) -m pytest benchmarks --benchmark-only -p no:randomly -q

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks telemetry .stack
