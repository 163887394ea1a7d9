"""Shared fixtures. Tiny models are built once per test session, offline, from tests/tiny_models.py."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# No test reaches the Hugging Face Hub: every model and tokenizer is built locally. Set before
# transformers / huggingface_hub are imported, as they read it once.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import tiny_models`

import lm_eval_runs  # noqa: E402
import tiny_models  # noqa: E402

# Tiny models gain nothing from threads, and with one test process per core, torch's thread pools
# oversubscribe the CPU and make matrix products tens of times slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_causal_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a 2-layer llama-style causal LM, ChatML chat template, pad == eos (like SmolLM2)."""
    return tiny_models.build_tiny_causal(tmp_path_factory.mktemp("tiny_causal"))


@pytest.fixture(scope="session")
def tiny_seq2seq_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a 2-layer T5-style seq2seq model; pad <pad>, eos </s>, unk <unk>."""
    return tiny_models.build_tiny_seq2seq(tmp_path_factory.mktemp("tiny_seq2seq"))


@pytest.fixture(scope="session")
def lm_eval_pair(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> lm_eval_runs.LmEvalRuns:
    """Two real lm-eval `--log_samples` runs (base, base + random adapter) on two local tasks, made once."""
    return lm_eval_runs.make_runs(tiny_causal_path, tmp_path_factory.mktemp("lm_eval"))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_library_deprecations() -> Iterator[None]:
    """transformers announces some renames through its logger, not `warnings` (so `filterwarnings`
    misses them); a test whose calls trigger one fails like a FutureWarning would."""
    handler = _Collect()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    # warning_once would stay silent in every test after the first that triggers it.
    from transformers.utils import logging as hf_logging

    hf_logging.warning_once.cache_clear()
    try:
        yield
    finally:
        logger.removeHandler(handler)
    deprecations = [m for m in handler.messages if "deprecated" in m.lower()]
    assert not deprecations, f"deprecated transformers API used: {deprecations[0]}"


@pytest.fixture(scope="module")
def adapter(tiny_causal_path, tmp_path_factory) -> Path:
    """An adapter trained at a high rate, so that it clearly changes what the base computes (the
    merge tests' input: the function's in tests/training, the command's in tests/cli)."""
    from lorabench.config.decoding import DecodingSettings
    from lorabench.config.prompt import PromptSettings
    from lorabench.data.synth import synthesize
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.models.load import ModelSpec, load_model
    from lorabench.training.train import LoraSettings, TrainSettings, train_adapter

    records = synthesize("extractive", 8, seed=1)
    result = train_adapter(
        load_model(ModelSpec(name=str(tiny_causal_path))), records, [], tmp_path_factory.mktemp("train"),
        PromptSettings(max_prompt_tokens=128), LoraSettings(r=4, alpha=8),
        TrainSettings(max_steps=3, batch_size=4, lr=5e-2, val_metric_items=0, save_every=1000),
        DecodingSettings(max_new_tokens=4), ScoreSettings(),
    )
    return result.adapter_dir
