# candlekit: every target creates .venv itself and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lab venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

## The main job: offline emulator -> backfill -> advance clock -> backfill -> HTML reports/.
demo: $(STAMP)
	$(BIN)/candlekit demo

## The tests (unit tests; real-data tests skip cleanly when ../shared is absent), one
## pytest worker per core, each test file whole on one worker (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

## Speed and memory benchmarks, printing ratios against their baselines.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## JupyterLab on the notebooks (the explorer: notebooks/explorer.ipynb).
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/explorer.ipynb

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
