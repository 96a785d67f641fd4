# Two entry points for people (`make run`, `make test`), both self-bootstrapping:
# they create .venv when it is missing and install uv.lock into it once (the stamp
# file is newer than uv.lock and pyproject.toml afterwards), so running them again
# does no work beyond DVC's and pytest's own.
#
# pyproject.toml lists the direct dependencies; uv.lock pins every package with its
# hashes. `uv sync --locked` installs exactly the lock and refuses to run when the
# lock no longer matches pyproject.toml (`uv lock` regenerates it).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv

# DVC runs each stage's `cmd` through the shell, so `python` must be the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Write .pyc files at install time, as pip does: processes then start without
# compiling what they import (which they would redo on every start where
# PYTHONDONTWRITEBYTECODE is set).
export UV_COMPILE_BYTECODE := 1

# uv's own version and wheel hashes, read from uv.lock, as a pip requirement line.
UV_FROM_LOCK = import tomllib; \
	uv = next(p for p in tomllib.load(open("uv.lock", "rb"))["package"] if p["name"] == "uv"); \
	print("uv==" + uv["version"], *("--hash=" + w["hash"] for w in uv["wheels"]))

.PHONY: run field test lock-check lint typecheck bench serve bench-serve browser-deps hooks \
	clean-venv register promote rollback registry learning-curve search \
	error-analysis

# Bootstrap: a venv with pip, and uv installed by pip, hash-checked against uv.lock.
$(UV):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c '$(UV_FROM_LOCK)' | $(BIN)/python -m pip install --quiet \
		--disable-pip-version-check --require-hashes --no-deps --only-binary :all: -r /dev/stdin

# Exactly uv.lock (the serve extra and the dev group included) and the project itself,
# editable; anything else installed by hand is removed (pip, the venv's seed, stays).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras
	@touch $@

# Fails when pyproject.toml and uv.lock disagree (someone changed a dependency and
# did not run `uv lock`). Needs only uv, so CI runs it before the big install.
lock-check: | $(UV)
	$(UV) lock --check

# A fresh clone has data/field.dvc but not the field photos (DVC never re-runs an import:
# it is frozen): restore them from DVC's cache, or else import them again from the
# labelling team's folder. The same delivery leaves data/field.dvc unchanged.
# If the folder holds a newer delivery than the one committed, say so: that is new data
# (commit data/field.dvc to adopt it), not a reproduction of the committed state.
field: $(STAMP)
	@$(BIN)/dvc checkout -q data/field.dvc 2>/dev/null || $(BIN)/dvc update data/field.dvc || { \
		echo "error: the field photos are imported from ../shared/datasets/clothing-photos" \
			"(beside this project, see data/field.dvc); put the labelling team's folder there," \
			"or re-point the import with an absolute path:" \
			"dvc import-url --force /path/to/photos data/field" >&2; exit 1; }
	@git diff --quiet -- data/field.dvc 2>/dev/null || echo "note: the field photos' folder" \
		"holds a newer delivery than the committed one: data/field.dvc changed; commit it" \
		"with dvc.lock to adopt the new dataset version" >&2

run: field
	$(BIN)/dvc repro

# The experimentation toolkit (README, "Experimentation toolkit"):
# the learning curve, a pipeline of its own (learning_curve/dvc.yaml: each model on
# 10 %, 25 %, 50 % and 100 % of the training data); about half an hour on 2 cores.
learning-curve: field
	$(BIN)/dvc repro learning_curve/dvc.yaml

# The error analysis, a pipeline of its own (error_analysis/dvc.yaml): the test mistakes of
# the model `run` trains, clustered; reports/error_clusters.html. About 25 s after `run`.
error-analysis: field
	$(BIN)/dvc repro error_analysis/dvc.yaml

# A coarse-to-fine search of search.yaml's space through DVC's queue; applies the best
# run to the workspace (SEARCH_ARGS=--no-apply to leave it alone). After `run`, so that
# every experiment finds the data in DVC's cache instead of preprocessing it again.
SEARCH_ARGS ?=
search: run
	$(BIN)/python -m tools.search $(SEARCH_ARGS)

# Git hooks that keep DVC in step with git: post-checkout runs `dvc checkout`,
# pre-commit `dvc status`, pre-push `dvc push` (so pushing needs remote access); and
# nbstripout's git filter, so that notebooks are committed without their outputs.
# Opt-in, not part of `run`, because a newcomer may have no remote credentials.
hooks: $(STAMP)
	$(BIN)/dvc install
	$(BIN)/nbstripout --install

lint: $(STAMP)
	$(BIN)/ruff check src tests tools notebooks
	$(BIN)/ruff format --check src tests tools notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

test: lock-check lint typecheck browser-deps
	$(BIN)/pytest

# Training throughput, a time-to-accuracy table (test accuracy after each epoch against
# training seconds), then each stage's wall time and peak memory. Trains twice (in
# process, then the pipeline): about 15 minutes on a 2-core CPU. BENCH_ARGS=--skip-pipeline
# stops after the table; BENCH_ARGS=--pipeline-only times the stages alone (about 3 minutes).
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m tools.bench_pipeline $(BENCH_ARGS)

# The API and web page on http://127.0.0.1:$(PORT), serving the model in $(MODEL_DIR).
MODEL_DIR ?= models
PORT      ?= 8000
serve: $(STAMP)
	$(BIN)/python -m apparel_classifier.serving --model-dir $(MODEL_DIR) --port $(PORT)

# The model registry (GTO tags in git, files from DVC): register the committed model
# (VERSION optional: the next patch version), promote a version to prod, roll prod back
# to the version before, show versions and stages. See the README's "Model registry".
register: $(STAMP)
	$(BIN)/python -m apparel_classifier.registry register $(if $(VERSION),--version $(VERSION))
promote: $(STAMP)
	$(BIN)/python -m apparel_classifier.registry promote $(VERSION)
rollback: $(STAMP)
	$(BIN)/python -m apparel_classifier.registry rollback
registry: $(STAMP)
	$(BIN)/python -m apparel_classifier.registry show

# Latency (in-process and over HTTP) and batch throughput of the model in $(MODEL_DIR).
bench-serve: $(STAMP)
	$(BIN)/python -m tools.bench_serving --model-dir $(MODEL_DIR)

# Headless Chromium and its WebDriver for the browser test, from Debian, where missing.
# Installed as root (CI, containers); elsewhere it says what to install and carries on,
# and the browser test skips locally (it fails under CI=true, never silently).
browser-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	else echo "browser test needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver"; fi

clean-venv:
	rm -rf $(VENV)
