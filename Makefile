# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.siting-installed
SCENARIO ?= scenarios/jiangbei-yubei.yaml
BENCH ?= quick
BENCH_STAMP := $(VENV)/.siting-bench-installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "siting needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/siting run $(SCENARIO)

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks data
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks data
	$(VENV)/bin/mypy

# the bench extra holds the peers (spopt); the core and dev installs do not need it
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks --suite $(BENCH)

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
