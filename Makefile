# flexrun: `make demo` runs the whole event chain locally; `make test` runs the full suite.
# Both install what they need into .venv (functions, local cloud, tests) and .venv-executor
# (the stand-in for Vertex AI's TensorFlow executor image), once, then reuse them.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
EXECUTOR := .venv-executor
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test unit bench up down clean install

demo: install
	$(PY) -m local demo

test: install
	$(PY) -m pytest

unit: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

bench: install
	$(PY) -m bench

up: install
	$(PY) -m local up

down:
	$(PY) -m local down

install: $(VENV)/.installed $(EXECUTOR)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@

$(EXECUTOR)/.installed: local/executor-image.txt
	test -x $(EXECUTOR)/bin/python || $(PYTHON) -m venv $(EXECUTOR)
	$(EXECUTOR)/bin/python -m pip install $(PIP_FLAGS) -r local/executor-image.txt
	touch $@

clean:
	-$(PY) -m local down
	rm -rf $(VENV) $(EXECUTOR) .local-cloud .cache dist
