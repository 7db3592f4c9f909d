# netmon — the two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml scripts/install-system-deps.sh | sha1sum | cut -c1-12)

.PHONY: test demo venv system-deps lint typecheck pytest bench clean

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.stamp-*; touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything CI runs: lint, types, every test. Most tests wait on processes and timers, so two
# workers share the machine (one test file per worker); the tests that compare a measurement with
# a reference taken in the same run (tests marked exclusive) then run alone, on a quiet machine.
PYTEST_WORKERS ?= 2
test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -m "not exclusive" -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	$(PY) -m pytest -m exclusive $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/netmon demo $(DEMO_ARGS)

bench: venv
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
