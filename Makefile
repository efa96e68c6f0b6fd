# regmirror — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help deps system-deps venv node lint typecheck complexity test unit demo bench bench-smoke synth image clean
NODE_STAMP := node_modules/.installed

help:
	@echo "make demo   - run regmirror plan + sync between two loopback registries"
	@echo "make test   - install everything, run ruff, mypy, xenon and the whole pytest suite"
	@echo "make bench  - benchmarks against skopeo sync (see bench/README.md)"

system-deps:
	@bash .ci/system-deps.sh

$(STAMP): requirements.txt requirements-cli.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# The pinned AWS CDK CLI (package.json / package-lock.json), for `npx cdk synth|deploy`.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

node: $(NODE_STAMP)

deps: system-deps venv

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict infra app.py bench
	@# three modules are called `handler`: one run each (the relay's Fargate entry point too)
	@for module in functions/*/*.py; do $(VENV)/bin/mypy --strict $$module || exit 1; done

complexity: venv
	$(VENV)/bin/xenon --max-absolute B --max-modules A --max-average A layers/regmirror/python/regmirror functions infra

test: deps lint typecheck complexity synth image
	$(VENV)/bin/pytest -n 2 --dist loadfile tests

unit: venv
	$(VENV)/bin/pytest tests/unit

# `make demo` installs only what it runs: the CLI and the test bed's registries (~120 MB, not ~870 MB).
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
$(DEMO_STAMP): requirements.txt requirements-cli.txt requirements-demo.txt pyproject.toml
	@bash .ci/system-deps.sh demo
	@test -x $(DEMO_VENV)/bin/python || python3 -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q -r requirements-demo.txt
	$(DEMO_VENV)/bin/pip install -q --no-deps -e .
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	@bash .ci/system-deps.sh demo
	@bash examples/demo.sh

bench: deps
	$(PY) -m bench.run

bench-smoke: deps
	$(PY) -m bench.run --smoke

# The CLI container image, built without Docker (examples/container/build.sh): the tests run it.
IMAGE_DIR := .image
IMAGE_INPUTS := $(wildcard examples/container/*) requirements.txt requirements-cli.txt pyproject.toml \
	$(shell find layers/regmirror/python/regmirror -name '*.py')
$(IMAGE_DIR)/oci/index.json: $(IMAGE_INPUTS) | venv
	bash examples/container/build.sh $(IMAGE_DIR)

image: $(IMAGE_DIR)/oci/index.json

# Both example environments, with the Lambda layer really bundled (pip for manylinux / Python 3.12).
synth: venv node
	npx cdk synth --quiet -c env=all > /dev/null

clean:
	rm -rf $(VENV) $(DEMO_VENV) node_modules cdk.out .demo $(IMAGE_DIR) .mypy_cache .ruff_cache .pytest_cache
