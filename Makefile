# The two commands of the README: `make demo` (the quickstart main job) and `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test

setup:
	VENV=$(VENV) bash tools/setup_env.sh

demo: setup
	$(PY) tools/quickstart.py

test: setup
	$(PY) -m pytest tests
