# flexrun: `make demo` runs the whole event chain locally; `make test` runs the full suite.
# Both install what they need into .venv (functions, local cloud, tests) and .venv-executor
# (the stand-in for Vertex AI's TensorFlow executor image), once, then reuse them.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
EXECUTOR := .venv-executor
# The trainer's own test venv: layered on the executor image stand-in (a .pth line), trainer editable.
TRAINER_VENV := .venv-trainer
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test lint test-trainer unit bench up down clean install browser

demo: install
	$(PY) -m local demo

# The trainer's tests (TensorFlow, CPU-bound) run beside the main suite (mostly waiting on local
# services), so the two overlap on a 2-core machine; both must pass.
# Lint and type checks first: they take seconds and fail before the suite's minutes.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared functions cli deploy local
	$(VENV)/bin/hadolint image/Dockerfile

test: lint install browser $(TRAINER_VENV)/.installed
	@mkdir -p .cache; $(TRAINER_VENV)/bin/python -m pytest trainer/tests -q -p no:cacheprovider \
	  > .cache/trainer-tests.log 2>&1 & trainer=$$!; \
	$(PY) -m pytest; main=$$?; \
	wait $$trainer; trained=$$?; \
	echo "== trainer/tests"; cat .cache/trainer-tests.log; \
	test $$main -eq 0 && test $$trained -eq 0

test-trainer: $(VENV)/.installed $(TRAINER_VENV)/.installed
	$(TRAINER_VENV)/bin/python -m pytest trainer/tests -q

unit: $(VENV)/.installed
	$(PY) -m pytest -m "not integration"

bench: install $(TRAINER_VENV)/.installed
	$(PY) -m bench

up: install
	$(PY) -m local up

down:
	$(PY) -m local down

install: $(VENV)/.installed $(EXECUTOR)/.installed

# Headless Chromium renders `flexrun report` in tests/unit/test_report_page.py (Debian's package; once).
# Not fatal: without it (no apt, no root) that one test skips and says why.
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo -n)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium not installed: the report rendering test will skip"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	$(PY) -m pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	touch $@

$(EXECUTOR)/.installed: local/executor-image.txt
	test -x $(EXECUTOR)/bin/python || $(PYTHON) -m venv $(EXECUTOR)
	$(EXECUTOR)/bin/python -m pip install $(PIP_FLAGS) -r local/executor-image.txt
	touch $@

$(TRAINER_VENV)/.installed: $(EXECUTOR)/.installed trainer/pyproject.toml
	test -x $(TRAINER_VENV)/bin/python || $(PYTHON) -m venv $(TRAINER_VENV)
	$(EXECUTOR)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
	  > "$$($(TRAINER_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/flexrun-executor.pth"
	$(TRAINER_VENV)/bin/python -m pip install $(PIP_FLAGS) -e 'trainer[test]'
	touch $@

clean:
	-$(PY) -m local down
	rm -rf $(VENV) $(EXECUTOR) $(TRAINER_VENV) .local-cloud .cache dist
