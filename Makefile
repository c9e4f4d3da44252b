# Two commands do everything on a fresh machine: `make demo` and `make test`.
#
# Both install a locked, hash-checked set (requirements/*.lock: Python 3.11, Linux x86_64; the set CI
# tests), then this checkout without resolving anything more. `make demo` installs only the core that
# plan and simulate need; `make test` everything (service, Dask, test tools). pyproject.toml keeps the
# declared ranges; `make lock` turns them into the lock files, `make wheelhouse` downloads every locked
# wheel for an offline install (`make demo OFFLINE=1` or `make test OFFLINE=1` then uses only it).
PYTHON     ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
DEMO       ?= configs/demo_street/scenario.yaml
WHEELHOUSE ?= wheelhouse
DEMO_STAMP := $(VENV)/.installed-demo
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP  := $(VENV)/.installed-dev

# OFFLINE=1: take every package from $(WHEELHOUSE) and nothing from an index.
PIP_FROM := $(if $(OFFLINE),--no-index --find-links $(WHEELHOUSE))
PIP      := $(PY) -m pip install --quiet --disable-pip-version-check $(PIP_FROM)

# $(call install,LOCK): the locked set with every hash checked, then this checkout (editable,
# built with the locked setuptools, no dependency resolution), then the stamp.
define install
	$(PIP) --require-hashes -r requirements/$(1).lock
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@
endef

.PHONY: demo test lint typecheck unit bench serve lock wheelhouse clean vendor

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): requirements/demo.lock pyproject.toml | $(VENV)/bin/python
	$(call install,demo)

$(SERVE_STAMP): requirements/serve.lock pyproject.toml | $(VENV)/bin/python
	$(call install,serve)

$(DEV_STAMP): requirements/dev.lock pyproject.toml | $(VENV)/bin/python
	$(call install,dev)

demo: $(DEMO_STAMP)
	$(VENV)/bin/sampler validate $(DEMO)
	$(VENV)/bin/sampler plan $(DEMO) -o out/demo/plan
	$(VENV)/bin/sampler simulate $(DEMO) --plan out/demo/plan -o out/demo/sim --replications 20 --seed 1
	$(VENV)/bin/sampler sms out/demo/plan -o out/demo/sms.csv --scenario $(DEMO)
	$(VENV)/bin/sampler notices out/demo/plan -o out/demo/notices --scenario $(DEMO)

serve: $(SERVE_STAMP)
	$(VENV)/bin/sampler serve

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check sampler sim api tests benchmarks configs

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

unit: $(DEV_STAMP)
	$(VENV)/bin/pytest

test: lint typecheck unit

bench: $(DEV_STAMP)
	$(PY) benchmarks/plan_scale.py
	$(PY) benchmarks/sim_speed.py
	$(PY) benchmarks/api_load.py

# Regenerate requirements/*.lock from pyproject.toml (needs the package index). Pins already in a
# lock are kept unless UPGRADE=1 (or UPGRADE_PACKAGE=name); the same inputs give the same files.
# dev.lock is resolved first and the smaller sets are constrained to it, so a package has one
# version in all three. UV=uv uses a uv from PATH (e.g. when dev.lock itself does not install).
UV        ?= $(VENV)/bin/uv
LOCK_NEEDS := $(if $(filter $(VENV)/bin/uv,$(UV)),$(DEV_STAMP))
UV_COMPILE = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade) $(if $(UPGRADE_PACKAGE),--upgrade-package $(UPGRADE_PACKAGE))

lock: | $(LOCK_NEEDS)
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra dev -o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra serve -c requirements/dev.lock -o requirements/serve.lock
	$(UV_COMPILE) pyproject.toml requirements/build.in -c requirements/dev.lock -o requirements/demo.lock

# Every wheel of dev.lock (a superset of demo.lock and serve.lock) for CPython 3.11 on Linux x86_64,
# hash-checked, into $(WHEELHOUSE)/ (gitignored). Needs the package index; works from any machine.
WHEEL_TAGS := --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	--platform manylinux_2_5_x86_64 --platform manylinux1_x86_64

wheelhouse: | $(VENV)/bin/python
	$(PY) -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
		$(WHEEL_TAGS) -d $(WHEELHOUSE) -r requirements/dev.lock
	@echo "$(WHEELHOUSE)/: $$(ls $(WHEELHOUSE) | wc -l) wheels, $$(du -sh $(WHEELHOUSE) | cut -f1)"
# Refresh the browser libraries shipped in api/web/static/vendor from package-lock.json.
vendor:
	cd api/web && npm ci --no-audit --no-fund --ignore-scripts
	$(PYTHON) api/web/vendor.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
