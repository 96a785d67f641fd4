# Two entry points for people (`make run`, `make test`), both self-bootstrapping:
# they create .venv when it is missing and install requirements.txt into it once
# (the stamp file is newer than requirements.txt and pyproject.toml afterwards),
# so running them again does no work beyond DVC's and pytest's own.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# DVC runs each stage's `cmd` through the shell, so `python` must be the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint typecheck bench serve hooks clean-venv

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

run: $(STAMP)
	$(BIN)/dvc repro

# Git hooks that keep DVC in step with git: post-checkout runs `dvc checkout`,
# pre-commit `dvc status`, pre-push `dvc push` (so pushing needs remote access).
# Opt-in, not part of `run`, because a newcomer may have no remote credentials.
hooks: $(STAMP)
	$(BIN)/dvc install

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# Per-stage wall time and peak memory, training throughput and the final accuracy.
# Re-runs the whole pipeline (a few minutes on a 2-core CPU).
bench: $(STAMP)
	$(BIN)/python -m apparel_classifier.benchmark

clean-venv:
	rm -rf $(VENV)
