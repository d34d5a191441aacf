# The two commands of the README: `make demo` (the quickstart main job) and `make test` (the test suite, as CI
# runs it). `make test-fast` leaves out the tests marked slow (training runs, subprocesses) while you work.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast

setup:
	VENV=$(VENV) bash tools/setup_env.sh

demo: setup
	$(PY) tools/quickstart.py

test: setup
	$(PY) -m pytest tests

test-fast: setup
	$(PY) -m pytest tests -m "not slow"
