"""`train_adapter`: LoRA fine-tuning with transformers' Trainer, validated on the task's real metric.

The Trainer does the loop, checkpoints, resume, schedules and data parallelism (`accelerate launch`
and `torchrun` work unchanged); this module adds what a benchmark needs on top: prompts identical
to evaluation, an answer-only loss that skips LM-head logits nobody learns from, validation by
generation, a JSON Lines log, a loud stop on a non-finite loss, and an adapter folder that records
exactly how it was made. Each of those jobs has its module beside this one: lora.py (wrapping),
loss.py (answer-only loss), trainer.py (the Trainer subclass), callbacks.py (totals and logs),
arguments.py (TrainingArguments), validation.py (the real metric, and its caveat); this module puts
them together. `train_resolved` is the same for a caller that has resolved the kind's Task and the
prompt already (`lorabench run` resolves them once for every stage).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import EarlyStoppingCallback, PrinterCallback, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from lorabench.config.decoding import DecodingSettings
from lorabench.config.settings import LoraSettings, TrainSettings  # noqa: F401 - re-exported
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task, get_task
from lorabench.core.version import __version__
from lorabench.data.records import Record
from lorabench.metrics.scoring import LOWER_IS_BETTER, TASK_METRICS, ScoreSettings
from lorabench.models.adapter_folder import ADAPTER_META, save_portable_files
from lorabench.models.load import LoadedModel, load_model
from lorabench.models.precision import training_precision
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import ResolvedPrompt, prompt_sha256, resolve_prompt, uses_chat_template
from lorabench.runs.folder import write_json
from lorabench.results import TrainResult  # noqa: F401 - returned by train_adapter; public as lorabench.TrainResult
from lorabench.training.arguments import _check_batch_fits, _training_arguments
from lorabench.training.callbacks import LogHook, _JsonlLog, _LogAtCheckpoints, _RunTotals, _checkpoint_step, _prepare_log
from lorabench.training.examples import ExampleDataset, PadCollator, encode_examples
from lorabench.training.lora import wrap_with_lora
from lorabench.training.loss import AnswerOnlyHead
from lorabench.training.merge import check_mergeable, write_merged
from lorabench.training.trainer import _LoraTrainer, _NonFiniteLoss
from lorabench.training.validation import _metric_fn

logger = logging.getLogger(__name__)


def _resume_point(checkpoints: Path, resume: bool) -> str | None:
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is not None and not resume:
        raise LorabenchError(
            f"{checkpoints} holds checkpoints of an earlier run; resume it, or delete the folder to start over"
        )
    if resume and last is None:
        logger.info("no checkpoint in %s; training from the start", checkpoints)
    return last if resume else None


def adapter_metadata(
    loaded: LoadedModel, task: Task, prompt_settings: PromptSettings, lora: LoraSettings,
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
        "task": task.kind.value,
        "prompt": prompt_settings.model_dump(mode="json"),
        "prompt_sha256": prompt_sha256(task, loaded.tokenizer, fitted, probe_extra),
        "max_prompt_tokens_used": max_prompt_tokens_used,
        "chat_template": {
            "used": uses_chat_template(loaded.tokenizer, prompt_settings),
            "sha256": hashlib.sha256(template.encode("utf-8")).hexdigest() if template else None,
        },
        "lora": lora.model_dump(mode="json"),
        "training": training.model_dump(mode="json"),
        "base_model": loaded.description,
        "data": {"train_items": n_train, "val_items": n_val},
    }


def _save_merged(loaded: LoadedModel, adapter_dir: Path, merged_dir: Path, meta: dict[str, Any]) -> None:
    """Base + adapter merged into plain weights, from a fresh CPU load of the base; `meta`: the
    adapter's lorabench.json, as written.

    Reloading leaves the caller's base model untouched and, for a 4-bit base, merges into
    unquantized weights (in the training dtype) instead of rounding the update into 4 bits.
    """
    spec = loaded.spec.unquantized(str(loaded.dtype).removeprefix("torch."))
    fresh = load_model(spec, adapter=str(adapter_dir), source=loaded.source)
    write_merged(fresh, merged_dir, meta)


def train_adapter(
    loaded: LoadedModel,
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    out_dir: Path,
    prompt_settings: PromptSettings | ResolvedPrompt,
    lora: LoraSettings,
    training: TrainSettings,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    resume: bool = False,
    merge: bool = False,
    on_log: LogHook | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    report_args: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `train_records`, validating on `val_records`; write it to `out_dir/adapter`.

    `out_dir` gets `checkpoints/` (resumable with `resume=True`), `train_log.jsonl`, `adapter/`
    (safetensors, tokenizer and lorabench.json; see adapter_folder) and, with `merge=True`, `merged/`.
    `loaded.model` is wrapped during training and handed back as the plain base model afterwards
    (its weights never change).
    `callbacks` are extra TrainerCallbacks (tests use them to interrupt or corrupt a run).
    `report_args` are TrainingArguments fields saying where `report_to` logs (run_name, project):
    they change no weight, so they are set apart from the training settings.
    """
    if not train_records:
        raise LorabenchError("the training split is empty")
    task = get_task(train_records[0].task)
    # The same fit evaluate_records applies, so a long prompt is shortened the same way in both.
    prompt = resolve_prompt(prompt_settings, loaded.model, decoding.max_new_tokens_for(task.kind))
    return train_resolved(
        loaded, task, train_records, val_records, out_dir, prompt, lora, training, decoding, score_settings,
        resume, merge, on_log, callbacks, report_args,
    )


def train_resolved(
    loaded: LoadedModel,
    task: Task,
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    out_dir: Path,
    prompt: ResolvedPrompt,
    lora: LoraSettings,
    training: TrainSettings,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    resume: bool = False,
    merge: bool = False,
    on_log: LogHook | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    report_args: Mapping[str, Any] | None = None,
) -> TrainResult:
    """`train_adapter` for a run resolved already: `task` is the records' kind's Task and `prompt`
    the run's prompt, fitted to `loaded` (see pipeline.resolve), as its evaluations use them."""
    if not train_records:
        raise LorabenchError("the training split is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoints, log_path, adapter_dir = out_dir / "checkpoints", out_dir / "train_log.jsonl", out_dir / "adapter"

    fitted = prompt.fitted
    max_length = None if loaded.is_seq2seq else prompt.context_length  # the window the prompt was fitted to
    train_examples = encode_examples(train_records, loaded.tokenizer, fitted, loaded.is_seq2seq, max_length)
    val_examples = encode_examples(val_records, loaded.tokenizer, fitted, loaded.is_seq2seq, max_length)
    # Wrapped once: the Trainer and its length-grouped sampler read the same dataset.
    train_data = ExampleDataset(train_examples)
    val_data = ExampleDataset(val_examples) if val_examples else None
    metric_records = list(val_records[: training.val_metric_items])
    metric_name = TASK_METRICS[task.kind][0] if metric_records else None
    if training.early_stopping_patience is not None and not val_examples:
        raise LorabenchError("early stopping needs a validation split, and it is empty")
    if merge:
        check_mergeable(loaded.model, lora.target_modules)
    # Made before training, so that a prompt it cannot render fails before the work, not after.
    meta = adapter_metadata(
        loaded, task, prompt.settings, lora, training, len(train_records), len(val_records),
        fitted.max_prompt_tokens, train_records[0].extra,
    )

    args = _training_arguments(
        training, loaded, checkpoints, bool(val_examples), metric_name or "loss", len(train_examples)
    )
    for key, value in (report_args or {}).items():
        setattr(args, key, value)
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
        _metric_fn(loaded, task, metric_records, prompt, decoding, score_settings, metric_name)
        if metric_name else None
    )

    use_cache = getattr(loaded.model.config, "use_cache", None)
    peft_model = wrap_with_lora(loaded, lora, training)
    meta["precision"] = training_precision(args, loaded, peft_model)
    answer_only = AnswerOnlyHead.attach(peft_model) if training.answer_only_logits else None
    try:
        trainer = _LoraTrainer(
            model=peft_model,
            args=args,
            train_dataset=train_data,
            eval_dataset=val_data,
            data_collator=PadCollator(loaded.tokenizer.pad_token_id),
            callbacks=[_LogAtCheckpoints(), totals, log, *([early] if early else []), *callbacks],
            answer_only=answer_only,
            lengths=train_data.lengths,
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

    # The training's figures are final here; the merge only exports the saved adapter.
    best_val_metric = _best(log.val_metrics, metric_name)
    merged_dir = out_dir / "merged" if merge and trainer.is_world_process_zero() else None
    if merged_dir is not None:
        _save_merged(loaded, adapter_dir, merged_dir, meta)
    return TrainResult(
        adapter_dir=adapter_dir,
        log_path=log_path,
        steps=trainer.state.global_step,
        epochs=float(trainer.state.epoch or 0.0),
        train_loss=figures["train_loss"],
        train_seconds=figures["train_seconds"],
        tokens_per_second=figures["tokens_per_second"],
        best_val_metric=best_val_metric,
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
    # transformers before 5.23 names these gradient_checkpointing; asking the old name on newer
    # releases warns, so the new one is tried first.
    prefix = "activation" if hasattr(base, "activation_checkpointing_disable") else "gradient"
    if getattr(base, f"is_{prefix}_checkpointing", False):
        getattr(base, f"{prefix}_checkpointing_disable")()
    if use_cache is not None:
        base.config.use_cache = use_cache
    base.eval()
    loaded.model = base
