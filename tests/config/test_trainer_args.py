"""training.trainer_args: other TrainingArguments fields, checked when the config is read, reaching the Trainer."""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from transformers import TrainerCallback

from lorabench.config.run import load_config
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.config.settings import LoraSettings, TrainSettings
from lorabench.training.train import ADAPTER_META, train_adapter
from lorabench.training.arguments import _training_arguments, _with_trainer_args
from lorabench.config.trainer_args import FIXED, FROM_KEYS

BASE = {"model": {"name": "org/base", "device": "cpu"}, "task": "extractive", "data": {"source": "qa.jsonl"}}
CPU = SimpleNamespace(device="cpu", dtype=torch.float32)  # what _training_arguments reads of a loaded model


def _config(tmp_path: Path, trainer_args: Any, **training: Any) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**BASE, "training": {**training, "trainer_args": trainer_args}}, sort_keys=False))
    return path


def _arguments(training: TrainSettings, tmp_path: Path) -> Any:
    return _training_arguments(training, CPU, tmp_path / "checkpoints", True, "loss", 16)


def test_no_trainer_args_leave_saved_configs_and_fingerprints_as_they_were(tmp_path) -> None:
    assert "trainer_args" not in TrainSettings().model_dump(mode="json")  # lorabench.json, the training fingerprint
    without = tmp_path / "without.yaml"
    without.write_text(yaml.safe_dump(BASE))
    assert load_config(_config(tmp_path, {})).to_yaml() == load_config(without).to_yaml()
    assert "trainer_args" not in load_config(without).to_yaml()


def test_trainer_args_are_saved_and_reach_training_arguments(tmp_path) -> None:
    given = {"optim": "adamw_torch", "lr_scheduler_kwargs": {"num_cycles": 2}, "adam_beta2": 0.95}
    config = load_config(_config(tmp_path, given, schedule="cosine"))
    assert yaml.safe_load(config.to_yaml())["training"]["trainer_args"] == given
    args = _arguments(config.training, tmp_path)
    assert args.optim == "adamw_torch" and args.lr_scheduler_kwargs == {"num_cycles": 2} and args.adam_beta2 == 0.95
    assert args.learning_rate == config.training.lr and args.lr_scheduler_type == "cosine"  # lorabench's own fields stay


def test_set_adds_a_trainer_arg(tmp_path) -> None:
    config = load_config(_config(tmp_path, {}), ["training.trainer_args.optim=sgd"])
    assert config.training.trainer_args == {"optim": "sgd"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"optimm": "sgd"}, r"run\.yaml:9: training\.trainer_args\.optimm: not a TrainingArguments field \(did you mean optim\?\)"),
        ({"learning_rate": 0.1}, r"run\.yaml:9: training\.trainer_args\.learning_rate: lorabench sets this TrainingArguments "
         r"field from training\.lr; write training\.lr instead"),
        ({"warmup_ratio": 0.1}, r"training\.trainer_args\.warmup_ratio: .*write training\.warmup_ratio instead"),
        ({"remove_unused_columns": True}, r"training\.trainer_args\.remove_unused_columns: lorabench sets this .* itself"),
        ({"hub_token": "hf_x"}, r"training\.trainer_args\.hub_token: .*HF_TOKEN"),
        ({"optim": "adam_of_my_own"}, r"run\.yaml:9: training\.trainer_args\.optim: adam_of_my_own is not a valid OptimizerNames"),
        ({"adam_beta1": 0.9, "torch_empty_cache_steps": -1}, r"run\.yaml:10: training\.trainer_args\.torch_empty_cache_steps: "
         r"`torch_empty_cache_steps` must be an integer bigger than 0"),
        ({"lr_scheduler_kwargs": {"num_cycles": 2}}, r"training\.trainer_args\.lr_scheduler_kwargs: the linear schedule "
         r"\(training\.schedule\) takes last_epoch, not num_cycles"),
        ({"fp16_full_eval": True, "bf16_full_eval": True}, r"run\.yaml:8: training\.trainer_args: TrainingArguments refuses "
         r"these fields together: At most one of fp16 and bf16"),
        (["optim"], r"run\.yaml:8: training\.trainer_args: Input should be a valid dictionary"),
    ],
    ids=["unknown", "lorabench-key", "removed-from-transformers", "fixed", "token", "bad-value", "second-key-bad",
         "scheduler-kwargs", "together", "not-a-mapping"],
)
def test_a_bad_trainer_arg_is_refused_at_its_line(tmp_path, given: Any, message: str) -> None:
    with pytest.raises(LorabenchError, match=message):
        load_config(_config(tmp_path, given))


def test_the_constant_schedule_takes_no_scheduler_kwargs(tmp_path) -> None:
    with pytest.raises(LorabenchError, match="the constant schedule .* takes no arguments, not num_cycles"):
        load_config(_config(tmp_path, {"lr_scheduler_kwargs": {"num_cycles": 2}}, schedule="constant"))


def test_every_field_lorabench_sets_is_refused_as_a_trainer_arg(monkeypatch, tmp_path) -> None:
    passed: dict[str, Any] = {}
    monkeypatch.setattr(importlib.import_module("lorabench.training.arguments"), "TrainingArguments", lambda **kwargs: passed.update(kwargs) or SimpleNamespace(world_size=1))
    _training_arguments(TrainSettings(early_stopping_patience=2), CPU, tmp_path, True, "exact_match", 16)
    assert passed and set(passed) <= set(FROM_KEYS) | set(FIXED), sorted(set(passed) - set(FROM_KEYS) - set(FIXED))


def test_a_trainer_arg_lorabench_s_own_fields_refuse_is_a_user_error(tmp_path) -> None:
    with pytest.raises(LorabenchError, match="training.trainer_args: TrainingArguments refuses them with this run's settings"):
        _with_trainer_args({"bf16_full_eval": True}, output_dir=str(tmp_path), use_cpu=True, fp16_full_eval=True)


class _Optimizer(TrainerCallback):
    def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
        self.optimizer = getattr(optimizer, "optimizer", optimizer)


def test_the_trainer_trains_with_the_trainer_args(tiny_causal_path, tmp_path) -> None:
    records = synthesize("extractive", 8, seed=1)
    seen = _Optimizer()
    training = TrainSettings(max_steps=2, batch_size=2, val_metric_items=0, trainer_args={"optim": "sgd"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft/transformers chatter
        result = train_adapter(
            load_model(ModelSpec(name=str(tiny_causal_path))), records, [], tmp_path, PromptSettings(max_prompt_tokens=128),
            LoraSettings(r=2, alpha=4), training, DecodingSettings(max_new_tokens=4), ScoreSettings(), callbacks=[seen],
        )
    assert isinstance(seen.optimizer, torch.optim.SGD)
    meta = json.loads((result.adapter_dir / ADAPTER_META).read_text())
    assert meta["training"]["trainer_args"] == {"optim": "sgd"}


def test_the_checkpointing_field_is_the_one_this_transformers_takes_without_a_warning(tmp_path):
    # vLLM's releases pin transformers below 5.23, which renamed gradient_checkpointing; the
    # suite fails on the old name's FutureWarning where the new one exists.
    from transformers import TrainingArguments

    from lorabench.config.trainer_args import checkpointing_field

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, **{checkpointing_field(): True})
    assert getattr(args, checkpointing_field()) is True
