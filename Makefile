# Two commands do all the set-up: `make demo` and `make test`.
# Each creates .venv from requirements.txt on first use (and again when it changes).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench release clean-venv

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## demo: grade the bundled example submissions of every lab and print the gradebook
demo: $(STAMP)
	$(PY) -m grading demo

## test: lint, then every test (slow ones included), offline
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

## test-fast: the tests without the slow ones, for the edit-run loop
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) -m bench all

release: $(STAMP)
	$(PY) -m grading release --out handout --force

clean-venv:
	rm -rf $(VENV)
