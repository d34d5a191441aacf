# The two commands of the README: `make demo` (the quickstart main job) and `make test` (the linter, then the test
# suite, as CI runs it). `make test-fast` leaves out the tests marked slow (training runs, subprocesses) while you
# work; `make lint` runs only the linter (ruff, configured in ruff.toml).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo lint test test-fast

setup:
	VENV=$(VENV) bash tools/setup_env.sh

demo: setup
	$(PY) tools/quickstart.py

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest tests

test-fast: setup
	$(PY) -m pytest tests -m "not slow"
