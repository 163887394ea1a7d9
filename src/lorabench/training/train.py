"""`train_adapter`: LoRA fine-tuning with transformers' Trainer, validated on the task's real metric.

The Trainer does the loop, checkpoints, resume, schedules and data parallelism (`accelerate launch`
and `torchrun` work unchanged); this module adds what a benchmark needs on top: prompts identical
to evaluation, an answer-only loss that skips LM-head logits nobody learns from, validation by
generation, a JSON Lines log, a loud stop on a non-finite loss, and an adapter folder that records
exactly how it was made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import (
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from lorabench.core.version import __version__
from lorabench.models.adapter_folder import ADAPTER_META, save_portable_files
from lorabench.inference import get_backend
from lorabench.comparison.paired import min_detectable_proportion
from lorabench.data.records import Record, TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.evaluation.runner import evaluate_records
from lorabench.evaluation.sharding import current_shard, shard_records
from lorabench.config.decoding import DecodingSettings
from lorabench.training.merge import check_mergeable, unquantized_spec, write_merged
from lorabench.metrics.scoring import LOWER_IS_BETTER, TASK_METRICS, ScoreSettings
from lorabench.models.load import LoadedModel, load_model
from lorabench.prompts.build import PromptSettings, fit_to_model, model_context_length, prompt_sha256, uses_chat_template
from lorabench.runs.folder import write_json
from lorabench.config.settings import LoraSettings, TrainSettings  # noqa: F401 - re-exported
from lorabench.training.examples import (
    IGNORE_INDEX,
    ExampleDataset,
    LengthGroupedEpochSampler,
    PadCollator,
    encode_examples,
)

logger = logging.getLogger(__name__)

LogHook = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    """What a training run did. The figures are the whole run's, across an interruption and resume."""

    adapter_dir: Path
    log_path: Path
    steps: int
    epochs: float
    train_loss: float | None  # mean per-step training loss over all steps
    train_seconds: float  # wall time of training, validation included (see _RunTotals)
    tokens_per_second: float  # non-padding input tokens per second of training (validation time excluded)
    best_val_metric: float | None
    stopped_early: bool
    merged_dir: Path | None


class _NonFiniteLoss(Exception):
    def __init__(self, value: float, step: int) -> None:
        super().__init__(f"loss {value} at step {step}")
        self.value = value
        self.step = step


# ---- LoRA -------------------------------------------------------------------------------------


def _adaptable(module: torch.nn.Module) -> bool:
    """Layer kinds peft's LoRA can wrap (GPT-2 style models use transformers' Conv1D for linears)."""
    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d)
    return isinstance(module, kinds) or type(module).__name__ == "Conv1D"


def linear_module_names(model: Any) -> list[str]:
    """Distinct last names of the model's linear layers (q_proj, ...), the usual target_modules."""
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if name and (isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D")
    }
    return sorted(names)


def check_target_modules(model: Any, targets: list[str] | str) -> None:
    """LorabenchError when a target names no layer (peft matches a full name or its '.'-suffix)."""
    if targets == "all-linear":
        return
    names = [name for name, module in model.named_modules() if name and _adaptable(module)]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        available = linear_module_names(model)
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise LorabenchError(
            f"lora.target_modules {missing} match no layer of this model; its linear layers are named: "
            f"{shown} (or use 'all-linear')"
        )


def wrap_with_lora(loaded: LoadedModel, lora: LoraSettings, training: TrainSettings) -> Any:
    """A trainable peft model around `loaded.model`; the base weights stay frozen."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    check_target_modules(loaded.model, lora.target_modules)
    model = loaded.model
    if loaded.spec.load_in_4bit:
        # QLoRA: norms to float32 and input grads on, so gradients flow through the frozen 4-bit layers.
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=training.grad_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        bias="none",
        task_type=TaskType.SEQ_2_SEQ_LM if loaded.is_seq2seq else TaskType.CAUSAL_LM,
    )
    set_seed(training.seed)  # LoRA's A matrices are drawn from the global RNG
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, config)  # peft still asks the deprecated name
    except ValueError as error:
        raise LorabenchError(f"could not add LoRA to this model: {error}") from None


# ---- answer-only logits ---------------------------------------------------------------------------


class AnswerOnlyHead:
    """Applies a causal LM's output head only at positions whose next label is learned.

    A forward pre-hook narrows the head's input from (batch, length, hidden) to the gathered
    (1, n_learned, hidden) states, inside the model's own forward: whatever the model does after its
    head (Gemma's final_logit_softcapping, logit scaling) then applies to those rows unchanged, and
    the call still goes through the DDP and peft wrappers, so gradient sync keeps working. The loss
    equals the full-logits loss; the (batch, length, vocab) logits tensor is never built.
    """

    def __init__(self, head: torch.nn.Module) -> None:
        self._keep: torch.Tensor | None = None
        self._did_narrow = False
        self._handle = head.register_forward_pre_hook(self._narrow)

    @classmethod
    def attach(cls, model: Any) -> "AnswerOnlyHead | None":
        """Hook `model`'s head; None for models it cannot serve (encoder-decoders, no output head)."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if getattr(base.config, "is_encoder_decoder", False):
            return None
        head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
        return cls(head) if isinstance(head, torch.nn.Module) else None

    def close(self) -> None:
        self._handle.remove()

    def _narrow(self, module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._keep is None or not args:
            return None  # generation and other forwards see the ordinary head
        hidden = args[0]
        if not torch.is_tensor(hidden) or hidden.dim() != 3 or hidden.shape[:2] != self._keep.shape:
            return None  # a model that feeds its head something else: leave it whole (see `loss`)
        self._did_narrow = True
        return (hidden[self._keep].unsqueeze(0), *args[1:])

    def loss(
        self, model: Any, inputs: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | int | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Cross-entropy over learned tokens: summed and divided by `num_items_in_batch` when given
        (the whole accumulated batch, as transformers' own loss does), else averaged."""
        labels = inputs["labels"]
        targets = labels[:, 1:]
        learned = targets != IGNORE_INDEX
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = learned  # hidden state t predicts label t + 1
        self._keep, self._did_narrow = keep, False
        try:
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False)
        finally:
            self._keep = None
        logits = outputs.logits
        # Normally (1, n_learned, vocab); full (batch, length, vocab) logits if the hook had to step aside.
        logits = logits.reshape(-1, logits.shape[-1]) if self._did_narrow else logits[:, :-1][learned]
        total = F.cross_entropy(logits.float(), targets[learned], reduction="sum")
        if num_items_in_batch is None:
            return total / learned.sum().clamp(min=1), outputs
        return total / num_items_in_batch, outputs


# ---- Trainer ------------------------------------------------------------------------------------


class _LoraTrainer(Trainer):
    """Trainer with the answer-only loss, a seeded length-grouped order, a non-finite-loss stop and
    the task metric added to each evaluation."""

    def __init__(
        self,
        *args: Any,
        answer_only: AnswerOnlyHead | None,
        lengths: list[int],
        val_metric: Callable[[Any], float] | None,
        metric_name: str | None,
        totals: "_RunTotals",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.answer_only = answer_only
        self.lengths = lengths
        self.val_metric = val_metric
        self.metric_name = metric_name
        self.totals = totals

    def _get_train_sampler(self, train_dataset: Any = None) -> LengthGroupedEpochSampler:
        # Every process draws this same order and accelerate deals it out a batch at a time, process by
        # process, so one optimizer step takes its next batch x grad_accum x world_size indices. Grouping
        # by that global batch makes each step's examples independent of how they are split over
        # processes and accumulation: 2 processes at batch B train as 1 process at batch 2B.
        args = self.args
        group = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        return LengthGroupedEpochSampler(self.lengths, group, args.seed)

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if self.answer_only is None:
            loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        else:
            loss, outputs = self.answer_only.loss(model, inputs, num_items_in_batch)
            # The same rescaling Trainer.compute_loss applies to a loss normalised over all devices' tokens.
            summed = self.model_accepts_loss_kwargs and num_items_in_batch is not None
            if summed and self.args.average_tokens_across_devices:
                scale = self.accelerator.num_processes // self.get_tp_size()
                loss = loss * (scale if self.args.n_gpu <= 1 else self.args.n_gpu)
        if model.training:
            self._stop_if_not_finite(loss)
        return (loss, outputs) if return_outputs else loss

    def _stop_if_not_finite(self, loss: torch.Tensor) -> None:
        """Raise before backward, so no NaN reaches the weights or a checkpoint."""
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if self.args.world_size > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")  # every rank stops together
        if bad.item() > 0:
            raise _NonFiniteLoss(float(loss.detach().float().mean()), self.state.global_step + 1)

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        started = time.perf_counter()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.totals.eval_seconds += time.perf_counter() - started

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "train_loss" in logs:
            # Trainer's end-of-training summary covers only this session's steps and time; after a resume
            # that is a fraction of the run. Report the whole run's instead, and keep them for the result.
            figures = self.totals.finish(self.state)
            logs = {
                **logs, "train_loss": figures["train_loss"], "train_runtime": figures["train_seconds"],
                "train_tokens_per_second": figures["tokens_per_second"],
            }
        super().log(logs, start_time)

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.val_metric is not None:
            # Added here, before Trainer logs the metrics and hands them to early stopping and best-model tracking.
            model = self.accelerator.unwrap_model(self.model)
            output.metrics[f"{metric_key_prefix}_{self.metric_name}"] = self.val_metric(model)
        return output


PROGRESS_FILE = "lorabench_progress.json"  # in each checkpoint: the run's seconds and tokens up to it


def effective_logging_steps(configured: int, total_steps: int) -> int:
    """Log every `configured` steps, but at least ~20 times a run, so a short run still draws a curve."""
    return min(configured, max(1, total_steps // 20))


def whole_run_loss(history: Sequence[dict[str, Any]], resumed_at: int = 0) -> float | None:
    """Mean per-step training loss from Trainer's log history (`state.log_history`, which a checkpoint
    carries across a resume): each logged `loss` is the mean of the steps since the previous log, so it
    is weighted by their number. A session resumed at step `resumed_at` logs its first loss over the
    steps after it; steps nobody logged are left out rather than guessed."""
    total, steps, previous = 0.0, 0, 0
    for entry in sorted((e for e in history if "loss" in e and "step" in e), key=lambda e: e["step"]):
        step = int(entry["step"])
        start = max(previous, resumed_at) if step > resumed_at else previous
        if step > start:
            total += float(entry["loss"]) * (step - start)
            steps += step - start
        previous = step
    return total / steps if steps else None


def _read_progress(checkpoint: str | None) -> dict[str, Any]:
    path = Path(checkpoint) / PROGRESS_FILE if checkpoint else None
    if path is None:
        return {}
    if not path.is_file():
        logger.warning(
            "%s has no %s: train_seconds and tokens/s will count only the resumed part", checkpoint, PROGRESS_FILE
        )
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


class _RunTotals(TrainerCallback):
    """The whole run's figures (mean loss, seconds, tokens/s), across an interruption and resume.

    Every checkpoint records the seconds and tokens up to it in PROGRESS_FILE; a resumed session
    starts from those, so a run cut at step N and resumed reports what one uninterrupted run would.
    The steps after the last checkpoint, trained twice, count once: `train_seconds` is the time the
    adapter took to make, each session counted up to its last checkpoint and the final one to its end.
    `train_seconds` is wall time including setup and validation; tokens/s excludes validation.
    """

    def __init__(self, resume_from: str | None) -> None:
        before = _read_progress(resume_from)
        self.resumed_at = _checkpoint_step(resume_from) if resume_from else 0
        self.seconds_before = float(before.get("train_seconds", 0.0))
        self.step_seconds_before = float(before.get("step_seconds", 0.0))
        self.tokens_before = int(before.get("tokens_seen", 0))  # the tokens step_seconds_before covers
        self.started = time.perf_counter()
        self.first_step: float | None = None
        self.tokens_at_first_step = 0
        self.eval_seconds = 0.0  # this session's validation time (added by _LoraTrainer.evaluate)
        self.final: dict[str, Any] | None = None

    def start(self) -> None:
        self.started = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # At the first step, not at train begin: setup and a resume's data skipping are not training.
        if self.first_step is None:
            self.first_step, self.tokens_at_first_step = time.perf_counter(), state.num_input_tokens_seen

    def _step_figures(self, state: Any) -> tuple[float, int]:
        """Seconds spent in training steps (validation excluded) and the tokens they saw, whole run."""
        if self.first_step is None:
            return self.step_seconds_before, self.tokens_before
        seconds = time.perf_counter() - self.first_step - self.eval_seconds
        return self.step_seconds_before + seconds, self.tokens_before + state.num_input_tokens_seen - self.tokens_at_first_step

    def figures(self, state: Any) -> dict[str, Any]:
        step_seconds, tokens = self._step_figures(state)
        return {
            "train_loss": whole_run_loss(state.log_history, self.resumed_at),
            "train_seconds": round(self.seconds_before + time.perf_counter() - self.started, 3),
            "tokens_per_second": round(tokens / step_seconds, 1) if step_seconds > 0 else 0.0,
        }

    def finish(self, state: Any) -> dict[str, Any]:
        """The figures at the end of training, kept so the log and the result report the same."""
        self.final = self.figures(state)
        return self.final

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            step_seconds, tokens = self._step_figures(state)
            progress = {
                "step": state.global_step,
                "train_seconds": self.seconds_before + time.perf_counter() - self.started,
                "step_seconds": step_seconds,
                "tokens_seen": tokens,
            }
            write_json(folder / PROGRESS_FILE, progress)


class _LogAtCheckpoints(TrainerCallback):
    """Logs the loss at every checkpoint and the last step too, so the logged losses cover every
    step: `whole_run_loss` then averages them exactly, also across a resume from any checkpoint."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_save or control.should_training_stop:
            control.should_log = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_save:
            control.should_log = True


class _JsonlLog(TrainerCallback):
    """Appends one JSON object per Trainer log event to `path` (main process only) and passes it on."""

    def __init__(self, path: Path, on_log: LogHook | None, metric_name: str | None) -> None:
        self.path = path
        self.hook = on_log  # not `on_log`: that name is the callback method itself
        self.metric_name = metric_name
        self.val_metrics: list[float] = []
        self._mark_time = time.perf_counter()
        self._mark_tokens = 0
        self._stepping = False

    def _mark(self, state: Any) -> None:
        self._mark_time = time.perf_counter()
        self._mark_tokens = state.num_input_tokens_seen

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # At the first step: a resumed state starts from the checkpoint's token count, and setup and
        # data skipping are not training.
        if not self._stepping:
            self._stepping = True
            self._mark(state)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._mark(state)  # validation time is not training throughput

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        row = self._row(state, logs or {})
        if self.metric_name and f"val_{self.metric_name}" in row:
            self.val_metrics.append(row[f"val_{self.metric_name}"])
        if not state.is_world_process_zero:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self.hook is not None:
            self.hook(row)

    def _row(self, state: Any, logs: dict[str, float]) -> dict[str, Any]:
        row: dict[str, Any] = {"step": state.global_step, "epoch": round(float(state.epoch or 0.0), 4)}
        if "loss" in logs:
            now, tokens = time.perf_counter(), state.num_input_tokens_seen
            row["loss"] = logs["loss"]
            row["lr"] = logs.get("learning_rate")
            if "grad_norm" in logs:
                row["grad_norm"] = logs["grad_norm"]
            row["tokens_seen"] = tokens
            row["tokens_per_second"] = round((tokens - self._mark_tokens) / max(now - self._mark_time, 1e-9), 1)
            self._mark_time, self._mark_tokens = now, tokens
        for key, value in logs.items():
            if key.startswith("eval_") and key.removeprefix("eval_") in ("loss", self.metric_name):
                row["val_" + key.removeprefix("eval_")] = value
        if "train_loss" in logs:  # the whole run's summary, once training ends (see _LoraTrainer.log)
            row["train_loss"] = logs["train_loss"]
            row["train_runtime"] = logs.get("train_runtime")
            row["train_tokens_per_second"] = logs.get("train_tokens_per_second")
        return row


# ---- orchestration -----------------------------------------------------------------------------------


def _use_bf16(setting: Literal["auto", True, False], loaded: LoadedModel) -> bool:
    if setting != "auto":
        return bool(setting)
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
        activation_checkpointing=training.grad_checkpointing,
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


def _prepare_log(log_path: Path, resume_step: int | None, metric_name: str | None, write: bool = True) -> list[float]:
    """Start a fresh log, or on resume cut the old one back to the checkpoint's step (the steps after
    it are trained, and logged, again) and drop the interrupted session's end-of-training summary (the
    run goes on; its own summary comes at its end). Returns the validation metrics already logged.
    `write=False` (data-parallel processes other than the main one) only reads."""
    rows = []
    if resume_step is not None and log_path.is_file():
        lines = log_path.read_text(encoding="utf-8").splitlines()
        rows = [
            row for row in map(json.loads, filter(str.strip, lines))
            if row.get("step", 0) <= resume_step and "train_loss" not in row
        ]
    if write:
        log_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return [row[f"val_{metric_name}"] for row in rows if f"val_{metric_name}" in row]


def _checkpoint_step(checkpoint: str) -> int:
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])


def _resume_point(checkpoints: Path, resume: bool) -> str | None:
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is not None and not resume:
        raise LorabenchError(
            f"{checkpoints} holds checkpoints of an earlier run; resume it, or delete the folder to start over"
        )
    if resume and last is None:
        logger.info("no checkpoint in %s; training from the start", checkpoints)
    return last if resume else None


def _check_batch_fits(n_train: int, training: TrainSettings, world_size: int) -> None:
    needed = training.batch_size * training.grad_accum * world_size
    if n_train < needed:
        raise LorabenchError(
            # batch/sequential strategies make one example per context, not per question
            f"the training split makes {n_train} training examples, fewer than one optimizer step needs "
            f"(batch_size {training.batch_size} x grad_accum {training.grad_accum} x {world_size} process(es) "
            f"= {needed}); add data or lower training.batch_size / grad_accum"
        )


# A validation that cannot see a change smaller than this, or has fewer items, only adds noise to
# early stopping and best-adapter choice.
MIN_VALIDATION_ITEMS = 20
MAX_VALIDATION_DETECTABLE = 0.30


def validation_caveat(n_validation: int, task: TaskKind, training: TrainSettings, alpha: float = 0.05) -> str | None:
    """A warning when the validation that steers training is too small to mean anything, else None.

    It names the smallest change the validation metric could show, by the same measure the test set's
    comparison reports (`compare.min_detectable_proportion`, at its best case: no noise from items
    that change both ways), so a 1-item validation reads "changes of about 100 points".
    """
    metric_items = min(n_validation, training.val_metric_items) if training.val_metric_items else n_validation
    if metric_items == 0:
        return None
    detectable = min_detectable_proportion(metric_items, 0, alpha)
    if metric_items >= MIN_VALIDATION_ITEMS and detectable <= MAX_VALIDATION_DETECTABLE:
        return None
    what = f"validation has {metric_items} item{'s' if metric_items != 1 else ''}"
    fix = "give data.validation or a larger data.split.validation"
    if metric_items < n_validation:
        what = f"validation is scored on {metric_items} of its {n_validation} items (training.val_metric_items)"
        # Scoring all of them helps only if all of them would be enough.
        whole_set_enough = n_validation >= MIN_VALIDATION_ITEMS and (
            min_detectable_proportion(n_validation, 0, alpha) <= MAX_VALIDATION_DETECTABLE
        )
        fix = "raise training.val_metric_items" if whole_set_enough else f"{fix}, and raise training.val_metric_items"
    use = "early stopping on it is noise" if training.early_stopping_patience else "its numbers are noise"
    if not training.val_metric_items:
        return f"{what}: too few for its loss to tell a better adapter from luck; {use}; {fix}"
    return (
        f"{what}: its {TASK_METRICS[task][0]} detects only changes of about {100 * detectable:.0f} points or more; "
        f"{use}; {fix}"
    )


def _metric_fn(
    loaded: LoadedModel, records: Sequence[Record], prompt_settings: PromptSettings,
    decoding: DecodingSettings, score_settings: ScoreSettings, name: str,
) -> Callable[[Any], float]:
    """The task metric of a model on `records`, by generation exactly as evaluation does it.

    Under data parallelism each rank generates for its shard of the items (whole context groups, as
    in data-parallel evaluation) and the per-item scores are gathered, so every rank gets the same
    value (early-stopping decisions agree) and no item is generated twice.
    """

    def compute(model: Any) -> float:
        shard = current_shard()
        was_training = model.training
        model.eval()
        try:
            # The model being trained lives in this process: only the hf backend can run it.
            backend = get_backend("hf", replace(loaded, model=model))
            mine = shard_records(records, shard)  # empty when there are fewer context groups than ranks
            rows = evaluate_records(backend, mine, prompt_settings, decoding, score_settings).rows if mine else []
        finally:
            model.train(was_training)
        values = [float(row["scores"][name]) for row in rows]
        if shard.distributed and torch.distributed.is_initialized():
            parts: list[Any] = [None] * shard.world
            torch.distributed.all_gather_object(parts, values)
            values = [value for part in parts for value in part]
        # Every metric of a task is the mean of its per-item scores (see metrics.scoring.aggregate).
        return sum(values) / len(values) if values else float("nan")

    return compute


def adapter_metadata(
    loaded: LoadedModel, task: TaskKind, prompt_settings: PromptSettings, lora: LoraSettings,
    training: TrainSettings, n_train: int, n_val: int, max_prompt_tokens_used: int,
    probe_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What `lorabench.json` records: everything that must match for the adapter's numbers to hold.

    The prompt settings include templates and the few-shot examples (ids and texts); `prompt_sha256`
    hashes how they render a fixed probe item (see prompts.prompt_sha256; `probe_extra` gives it the
    data's other columns, which a template may read).
    """
    template = getattr(loaded.tokenizer, "chat_template", None) or ""
    fitted = prompt_settings.model_copy(update={"max_prompt_tokens": max_prompt_tokens_used})
    return {
        "lorabench": __version__,
        "task": task.value,
        "prompt": prompt_settings.model_dump(mode="json"),
        "prompt_sha256": prompt_sha256(task, loaded.tokenizer, fitted, probe_extra),
        "max_prompt_tokens_used": max_prompt_tokens_used,
        "chat_template": {
            "used": uses_chat_template(loaded.tokenizer, prompt_settings),
            "sha256": hashlib.sha256(template.encode("utf-8")).hexdigest() if template else None,
        },
        "lora": lora.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "base_model": loaded.describe(),
        "data": {"train_items": n_train, "val_items": n_val},
    }


def _save_merged(loaded: LoadedModel, adapter_dir: Path, merged_dir: Path) -> None:
    """Base + adapter merged into plain weights, from a fresh CPU load of the base.

    Reloading leaves the caller's base model untouched and, for a 4-bit base, merges into
    unquantized weights (in the training dtype) instead of rounding the update into 4 bits.
    """
    fresh = load_model(unquantized_spec(loaded.spec, str(loaded.dtype).removeprefix("torch.")), adapter=str(adapter_dir))
    write_merged(fresh, merged_dir)


def train_adapter(
    loaded: LoadedModel,
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    out_dir: Path,
    prompt_settings: PromptSettings,
    lora: LoraSettings,
    training: TrainSettings,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    resume: bool = False,
    merge: bool = False,
    on_log: LogHook | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> TrainResult:
    """Train a LoRA adapter on `train_records`, validating on `val_records`; write it to `out_dir/adapter`.

    `out_dir` gets `checkpoints/` (resumable with `resume=True`), `train_log.jsonl`, `adapter/`
    (safetensors, tokenizer and lorabench.json; see adapter_folder) and, with `merge=True`, `merged/`.
    `loaded.model` is wrapped during training and handed back as the plain base model afterwards
    (its weights never change).
    `callbacks` are extra TrainerCallbacks (tests use them to interrupt or corrupt a run).
    """
    if not train_records:
        raise LorabenchError("the training split is empty")
    task = train_records[0].task
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoints, log_path, adapter_dir = out_dir / "checkpoints", out_dir / "train_log.jsonl", out_dir / "adapter"

    # The same fit evaluate_records applies, so a long prompt is shortened the same way in both.
    fitted = fit_to_model(prompt_settings, loaded.model, decoding.max_new_tokens_for(task))
    max_length = None if loaded.is_seq2seq else model_context_length(loaded.model)
    train_examples = encode_examples(train_records, loaded.tokenizer, fitted, loaded.is_seq2seq, max_length)
    val_examples = encode_examples(val_records, loaded.tokenizer, fitted, loaded.is_seq2seq, max_length)
    metric_records = list(val_records[: training.val_metric_items])
    metric_name = TASK_METRICS[task][0] if metric_records else None
    if training.early_stopping_patience is not None and not val_examples:
        raise LorabenchError("early stopping needs a validation split, and it is empty")
    if merge:
        check_mergeable(loaded.model, lora.target_modules)
    # Made before training, so that a prompt it cannot render fails before the work, not after.
    meta = adapter_metadata(
        loaded, task, prompt_settings, lora, training, len(train_records), len(val_records),
        fitted.max_prompt_tokens, train_records[0].extra,
    )

    args = _training_arguments(
        training, loaded, checkpoints, bool(val_examples), metric_name or "loss", len(train_examples)
    )
    _check_batch_fits(len(train_examples), training, args.world_size)
    resume_from = _resume_point(checkpoints, resume)
    log = _JsonlLog(log_path, on_log, metric_name)
    totals = _RunTotals(resume_from)
    resume_step = _checkpoint_step(resume_from) if resume_from else None
    # Only the main process rewrites the log (it alone appends to it); the others read it once that is
    # done, rather than racing to truncate and rewrite the same file.
    with args.main_process_first(local=False, desc="preparing the training log"):
        log.val_metrics = _prepare_log(log_path, resume_step, metric_name, write=args.process_index == 0)
    early = EarlyStoppingCallback(training.early_stopping_patience) if training.early_stopping_patience else None
    metric = (
        _metric_fn(loaded, metric_records, prompt_settings, decoding, score_settings, metric_name)
        if metric_name else None
    )

    use_cache = getattr(loaded.model.config, "use_cache", None)
    peft_model = wrap_with_lora(loaded, lora, training)
    answer_only = AnswerOnlyHead.attach(peft_model) if training.answer_only_logits else None
    try:
        trainer = _LoraTrainer(
            model=peft_model,
            args=args,
            train_dataset=ExampleDataset(train_examples),
            eval_dataset=ExampleDataset(val_examples) if val_examples else None,
            data_collator=PadCollator(loaded.tokenizer.pad_token_id),
            callbacks=[_LogAtCheckpoints(), totals, log, *([early] if early else []), *callbacks],
            answer_only=answer_only,
            lengths=ExampleDataset(train_examples).lengths,
            val_metric=metric,
            metric_name=metric_name,
            totals=totals,
        )
        trainer.remove_callback(PrinterCallback)  # our log rows replace its prints
        figures = _run(trainer, checkpoints, resume_from)
        if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
            # Each rank holds a shard of the weights: the Trainer gathers them (a collective every rank
            # joins) and rank 0 writes the adapter, as save_pretrained would unsharded.
            trainer.save_model(str(adapter_dir))
            if trainer.is_world_process_zero():
                (adapter_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle; lorabench.json says it all
        elif trainer.is_world_process_zero():
            peft_model.save_pretrained(adapter_dir, safe_serialization=True, save_embedding_layers=False)
        if trainer.is_world_process_zero():
            save_portable_files(adapter_dir, loaded.tokenizer, loaded.source.name, loaded.spec.revision)
            write_json(adapter_dir / ADAPTER_META, meta)
    finally:
        if answer_only is not None:
            answer_only.close()
        _restore_base(peft_model, loaded, use_cache)

    merged_dir = out_dir / "merged" if merge and trainer.is_world_process_zero() else None
    if merged_dir is not None:
        _save_merged(loaded, adapter_dir, merged_dir)
    return TrainResult(
        adapter_dir=adapter_dir,
        log_path=log_path,
        steps=trainer.state.global_step,
        epochs=float(trainer.state.epoch or 0.0),
        train_loss=figures["train_loss"],
        train_seconds=figures["train_seconds"],
        tokens_per_second=figures["tokens_per_second"],
        best_val_metric=_best(log.val_metrics, metric_name),
        stopped_early=early is not None and early.early_stopping_patience_counter >= early.early_stopping_patience,
        merged_dir=merged_dir,
    )


def _run(trainer: _LoraTrainer, checkpoints: Path, resume_from: str | None) -> dict[str, Any]:
    """Train and return the whole run's figures (see _RunTotals); a non-finite loss becomes a
    LorabenchError naming the checkpoint left to resume from."""
    trainer.totals.start()
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    except _NonFiniteLoss as error:
        kept = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        where = f"the last good checkpoint is kept at {kept}" if kept else "no checkpoint had been saved yet"
        raise LorabenchError(
            f"training stopped: the loss became {error.value} at step {error.step}; {where}. "
            "Lower training.lr (or check the data), then resume or start over"
        ) from None
    return trainer.totals.final or trainer.totals.figures(trainer.state)


def _best(values: list[float], name: str | None) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    if not finite or name is None:
        return None
    return min(finite) if name in LOWER_IS_BETTER else max(finite)


def _restore_base(peft_model: Any, loaded: LoadedModel, use_cache: bool | None) -> None:
    """Take the LoRA layers out again so `loaded.model` is the untouched base, in eval mode."""
    base = peft_model.unload()
    if getattr(base, "is_activation_checkpointing", False):
        base.activation_checkpointing_disable()
    if use_cache is not None:
        base.config.use_cache = use_cache
    base.eval()
    loaded.model = base
