"""TrainingArguments from lorabench's settings (plus training.trainer_args), and the step arithmetic behind them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import TrainingArguments

from lorabench.config.settings import TrainSettings
from lorabench.config.trainer_args import checkpointing_field
from lorabench.core.errors import LorabenchError
from lorabench.metrics.scoring import LOWER_IS_BETTER
from lorabench.models.load import LoadedModel

def effective_logging_steps(configured: int, total_steps: int) -> int:
    """Log every `configured` steps, but at least ~20 times a run, so a short run still draws a curve."""
    return min(configured, max(1, total_steps // 20))


# ---- orchestration -----------------------------------------------------------------------------------


def _use_bf16(setting: Literal["auto", True, False], loaded: LoadedModel) -> bool:
    """training.bf16 resolved: on CUDA GPUs that support it, and wherever the weights were loaded in
    bfloat16 (model.dtype), so the adapter's float32 products run in bf16 too instead of in float32."""
    if setting != "auto":
        return bool(setting)
    if loaded.dtype == torch.bfloat16:
        return True
    return loaded.device.startswith("cuda") and torch.cuda.is_bf16_supported() and loaded.dtype != torch.float16


def _strategy(every: Literal["epoch"] | int) -> tuple[str, int | None]:
    return ("epoch", None) if every == "epoch" else ("steps", int(every))


def total_steps(n_examples: int, training: TrainSettings, world_size: int) -> int:
    """The run's optimizer steps, counted as Trainer counts them: max_steps, else epochs x steps per
    epoch (one step per grad_accum batches, the last partial group included)."""
    if training.max_steps:
        return training.max_steps
    batches = math.ceil(n_examples / (training.batch_size * world_size))
    return math.ceil(training.epochs * max(math.ceil(batches / training.grad_accum), 1))


def _with_trainer_args(trainer_args: dict[str, Any], **ours: Any) -> TrainingArguments:
    """TrainingArguments from lorabench's own fields plus the config's training.trainer_args (which
    never repeat them: the config check refuses those)."""
    try:
        return TrainingArguments(**ours, **trainer_args)
    except (ValueError, TypeError) as error:
        if not trainer_args:
            raise  # lorabench's own fields: a bug, not a user mistake
        # Each field passed the check alone when the config was read; lorabench's own fields refuse it.
        raise LorabenchError(f"training.trainer_args: TrainingArguments refuses them with this run's settings: {' '.join(str(error).split())}") from None


def _training_arguments(
    training: TrainSettings, loaded: LoadedModel, checkpoints: Path, validate: bool, best_metric: str | None,
    n_examples: int,
) -> TrainingArguments:
    eval_strategy, eval_steps = _strategy(training.eval_every) if validate else ("no", None)
    save_strategy, save_steps = _strategy(training.save_every)
    early = training.early_stopping_patience is not None
    bf16 = _use_bf16(training.bf16, loaded)
    args = _with_trainer_args(
        training.trainer_args,
        output_dir=str(checkpoints),
        num_train_epochs=training.epochs,
        max_steps=training.max_steps or -1,
        per_device_train_batch_size=training.batch_size,
        per_device_eval_batch_size=training.batch_size,
        gradient_accumulation_steps=training.grad_accum,
        learning_rate=training.lr,
        lr_scheduler_type=training.schedule,
        warmup_steps=training.warmup_ratio,  # a value below 1 is read as a fraction of all steps
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        seed=training.seed,
        data_seed=training.seed,
        **{checkpointing_field(): training.grad_checkpointing},
        logging_strategy="steps",
        logging_steps=training.logging_steps,
        logging_first_step=True,
        eval_strategy=eval_strategy,
        eval_steps=eval_steps,
        save_strategy=save_strategy,
        save_steps=save_steps,
        save_total_limit=training.save_total_limit,
        load_best_model_at_end=early,
        metric_for_best_model=best_metric if early else None,
        greater_is_better=(best_metric not in LOWER_IS_BETTER and best_metric != "loss") if early else None,
        restore_callback_states_from_checkpoint=early,  # the patience counter survives a resume
        report_to=training.report_to or "none",
        bf16=bf16,
        fp16=not bf16 and loaded.device.startswith("cuda") and loaded.dtype == torch.float16,
        use_cpu=loaded.device == "cpu",
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        prediction_loss_only=True,
        label_names=["labels"],
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    # Set here rather than by a callback, so a resumed run's saved state agrees with its arguments.
    args.logging_steps = effective_logging_steps(training.logging_steps, total_steps(n_examples, training, args.world_size))
    return args


def _check_batch_fits(n_train: int, training: TrainSettings, world_size: int) -> None:
    needed = training.batch_size * training.grad_accum * world_size
    if n_train < needed:
        raise LorabenchError(
            # batch/sequential strategies make one example per context, not per question
            f"the training split makes {n_train} training examples, fewer than one optimizer step needs "
            f"(batch_size {training.batch_size} x grad_accum {training.grad_accum} x {world_size} process(es) "
            f"= {needed}); add data or lower training.batch_size / grad_accum"
        )
