# The two quick-start commands (see README): `make simulate` and `make test`.
# Each creates .venv and installs what it needs from pyproject.toml on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: simulate test lint bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

simulate: $(STAMP)
	$(VENV)/bin/peakday simulate scenarios/double11.yaml

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -n auto --dist loadgroup

bench: $(STAMP)
	$(PY) benchmarks/sim_throughput.py
