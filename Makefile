# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
DEMO   ?= configs/demo_street/scenario.yaml

.PHONY: demo test lint typecheck unit bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sampler validate $(DEMO)
	$(VENV)/bin/sampler plan $(DEMO) -o out/demo/plan
	$(VENV)/bin/sampler simulate $(DEMO) --plan out/demo/plan -o out/demo/sim --replications 20 --seed 1

lint: $(STAMP)
	$(VENV)/bin/ruff check sampler sim api tests benchmarks configs

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(PY) benchmarks/plan_scale.py
	$(PY) benchmarks/sim_speed.py
	$(PY) benchmarks/api_load.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
