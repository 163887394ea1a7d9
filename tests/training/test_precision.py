"""Training in bfloat16 on the CPU: bf16 autocast over bf16 weights, LoRA weights kept in float32, all recorded."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from lorabench.config.decoding import DecodingSettings
from lorabench.data.synth import synthesize
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.arguments import _use_bf16
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft/transformers deprecation chatter
        yield


def _train(path, dtype, out):
    loaded = load_model(ModelSpec(name=str(path), dtype=dtype))
    before = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    result = train_adapter(
        loaded, synthesize("extractive", 8, seed=1), [], out, PromptSettings(max_prompt_tokens=128), LoraSettings(),
        TrainSettings(max_steps=3, batch_size=2, logging_steps=1, val_metric_items=0, save_every=1000),
        DecodingSettings(max_new_tokens=4, batch_size=4), ScoreSettings(),
    )
    untouched = all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    return loaded, result, untouched


def test_bf16_training_on_the_cpu_runs_and_records_its_precision(tiny_causal_path, tmp_path):
    loaded, result, untouched = _train(tiny_causal_path, "bfloat16", tmp_path / "bf16")
    assert loaded.device == "cpu" and loaded.model.dtype == torch.bfloat16 and untouched
    assert result.steps == 3 and torch.isfinite(torch.tensor(result.train_loss))
    meta = json.loads((result.adapter_dir / "lorabench.json").read_text())
    assert meta["precision"] == {"weights": "bfloat16", "autocast": "bfloat16", "adapter": "float32"}
    assert meta["base_model"]["dtype"] == "bfloat16"
    saved = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    assert {t.dtype for t in saved.values()} == {torch.float32}  # as peft keeps them, whatever the base
    assert any(t.abs().sum() > 0 for name, t in saved.items() if "lora_B" in name)


def test_float32_training_records_no_autocast(tiny_causal_path, tmp_path):
    _, result, _ = _train(tiny_causal_path, "float32", tmp_path / "fp32")
    meta = json.loads((result.adapter_dir / "lorabench.json").read_text())
    assert meta["precision"] == {"weights": "float32", "autocast": None, "adapter": "float32"}


@pytest.mark.parametrize(
    ("setting", "device", "dtype", "expected"),
    [
        ("auto", "cpu", torch.float32, False),  # the demo's case: unchanged
        ("auto", "cpu", torch.bfloat16, True),
        ("auto", "cpu", torch.float16, False),
        (False, "cpu", torch.bfloat16, False),
        (True, "cpu", torch.float32, True),
    ],
)
def test_bf16_autocast_follows_the_weights_on_the_cpu(setting, device, dtype, expected):
    assert _use_bf16(setting, SimpleNamespace(device=device, dtype=dtype)) is expected
