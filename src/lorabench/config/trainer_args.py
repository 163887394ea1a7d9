"""`training.trainer_args`: the transformers.TrainingArguments fields lorabench has no key for (optim,
lr_scheduler_kwargs, torch_compile, deepspeed, fsdp, ...), passed to the Trainer as given.

A field lorabench sets itself is refused, naming the key to write instead, so each setting has one
place. The rest are checked by TrainingArguments itself when the config is read, so a typo or a value
it rejects stops the command before any run folder exists, not after the base evaluation.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from lorabench.core.errors import ConfigKeyError

# TrainingArguments field -> the lorabench key it is set from (train.py's _training_arguments).
FROM_KEYS: dict[str, str] = {
    "output_dir": "out",
    "num_train_epochs": "training.epochs",
    "max_steps": "training.max_steps",
    "per_device_train_batch_size": "training.batch_size",
    "per_device_eval_batch_size": "training.batch_size",
    "gradient_accumulation_steps": "training.grad_accum",
    "learning_rate": "training.lr",
    "lr_scheduler_type": "training.schedule",
    "warmup_steps": "training.warmup_ratio",
    "warmup_ratio": "training.warmup_ratio",  # gone from TrainingArguments 5, still in many configs
    "weight_decay": "training.weight_decay",
    "max_grad_norm": "training.max_grad_norm",
    "seed": "training.seed",
    "data_seed": "training.seed",
    "activation_checkpointing": "training.grad_checkpointing",
    "gradient_checkpointing": "training.grad_checkpointing",
    "logging_strategy": "training.logging_steps",
    "logging_steps": "training.logging_steps",
    "logging_first_step": "training.logging_steps",
    "eval_strategy": "training.eval_every",
    "eval_steps": "training.eval_every",
    "save_strategy": "training.save_every",
    "save_steps": "training.save_every",
    "save_total_limit": "training.save_total_limit",
    "load_best_model_at_end": "training.early_stopping_patience",
    "metric_for_best_model": "training.early_stopping_patience",
    "greater_is_better": "training.early_stopping_patience",
    "restore_callback_states_from_checkpoint": "training.early_stopping_patience",
    "report_to": "training.report_to",
    "bf16": "training.bf16",
    "fp16": "model.dtype",
    "use_cpu": "model.device",
}

_LOOP = "lorabench's training loop depends on its value"

# TrainingArguments field -> why lorabench fixes its value.
FIXED: dict[str, str] = {
    "include_num_input_tokens_seen": _LOOP,
    "remove_unused_columns": _LOOP,
    "prediction_loss_only": _LOOP,
    "label_names": _LOOP,
    "dataloader_num_workers": _LOOP,
    "disable_tqdm": "lorabench shows its own progress",
    "train_sampling_strategy": "lorabench's sampler groups examples by length itself",
    "resume_from_checkpoint": "rerunning the config (or `lorabench train --resume`) resumes",
    "hub_token": "the config is saved into every run folder; set HF_TOKEN in the environment instead",
}


def _path(key: str) -> tuple[str, ...]:
    return ("training", "trainer_args", key)


def _refusal(key: str) -> str | None:
    if key in FROM_KEYS:
        return f"lorabench sets this TrainingArguments field from {FROM_KEYS[key]}; write {FROM_KEYS[key]} instead"
    if key in FIXED:
        return f"lorabench sets this TrainingArguments field itself: {FIXED[key]}"
    return None


def _runs_on_cpu(device: str) -> bool:
    """Whether the run will train on the CPU, as models.resolve_device decides (auto: CUDA, MPS, CPU)."""
    import torch

    if device == "auto":
        return not torch.cuda.is_available() and not torch.backends.mps.is_available()
    return device == "cpu"


def _rejection(args: Mapping[str, Any], use_cpu: bool) -> str | None:
    """TrainingArguments' own complaint about `args`, on one line; None when it takes them."""
    from transformers import TrainingArguments

    try:
        # Nothing is written: output_dir is only a name until the Trainer saves.
        TrainingArguments(output_dir="trainer_args_check", use_cpu=use_cpu, report_to="none", **args)
    except (ValueError, TypeError, ImportError, OSError) as error:
        return " ".join(str(error).split())
    return None


def _scheduler_refusal(kwargs: Any, schedule: str) -> str | None:
    """lr_scheduler_kwargs the schedule's function does not take: TrainingArguments does not look, and
    the Trainer would fail on them after the base evaluation (or, for a constant rate, ignore them)."""
    from transformers.optimization import TYPE_TO_SCHEDULER_FUNCTION
    from transformers.trainer_utils import SchedulerType

    if not isinstance(kwargs, Mapping):
        return None  # TrainingArguments judges the type
    takes: list[str] = []  # transformers' get_scheduler hands the constant schedules none of them
    if not schedule.startswith("constant"):
        function = TYPE_TO_SCHEDULER_FUNCTION[SchedulerType(schedule)]
        takes = sorted(set(inspect.signature(function).parameters) - {"optimizer", "num_warmup_steps", "num_training_steps"})
    unknown = sorted(set(kwargs) - set(takes))
    if not unknown:
        return None
    return f"the {schedule} schedule (training.schedule) takes {', '.join(takes) or 'no arguments'}, not {', '.join(unknown)}"


def check_trainer_args(args: Mapping[str, Any], device: str, schedule: str) -> None:
    """Refuse, naming the field, what lorabench sets itself, what is no TrainingArguments field and
    what TrainingArguments rejects (and lr_scheduler_kwargs that `schedule` does not take). Imports
    transformers (and torch) only when `args` is not empty."""
    for key in args:
        refusal = _refusal(key)
        if refusal:
            raise ConfigKeyError(_path(key), refusal)
    if not args:
        return
    from transformers import TrainingArguments

    fields = [field.name for field in dataclasses.fields(TrainingArguments) if field.init]
    for key in args:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            raise ConfigKeyError(_path(key), "not a TrainingArguments field" + (f" (did you mean {close[0]}?)" if close else ""))
    scheduler = _scheduler_refusal(args.get("lr_scheduler_kwargs"), schedule) if "lr_scheduler_kwargs" in args else None
    if scheduler:
        raise ConfigKeyError(_path("lr_scheduler_kwargs"), scheduler)
    use_cpu = _runs_on_cpu(device)
    together = _rejection(args, use_cpu)
    if together is None:
        return
    for key, value in args.items():
        alone = _rejection({key: value}, use_cpu)
        if alone:
            raise ConfigKeyError(_path(key), alone)
    raise ConfigKeyError(("training", "trainer_args"), f"TrainingArguments refuses these fields together: {together}")


def checkpointing_field() -> str:
    """TrainingArguments' name for recomputing activations in backward.

    transformers 5.23 renamed `gradient_checkpointing` to `activation_checkpointing` (the old name
    warns); vLLM's releases cap transformers below that, so both are served by feature detection.
    """
    from transformers import TrainingArguments

    names = {field.name for field in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
