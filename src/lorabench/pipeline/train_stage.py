"""The run's training stage: the LoRA adapter trained into `train/`, or kept from an earlier session
when it was made for exactly these settings and data (its fingerprint, in `train/stage.json`).

A training interrupted midway resumes from its checkpoints only for the same fingerprint; one made
with other prompt settings alone is refused, or kept with `--allow-prompt-change`."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lorabench.comparison.prompt_change import PromptDifference, adapter_prompt_difference, prompt_change_refusal
from lorabench.core.messages import Hint, Message
from lorabench.core.notices import Say, alarm
from lorabench.data.records import Record
from lorabench.evaluation.sharding import barrier, current_shard
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import LoadedModel
from lorabench.pipeline.resolve import TrainPlan
from lorabench.pipeline.splits import DataSplits
from lorabench.prompts.build import ResolvedPrompt
from lorabench.runs.folder import write_json
from lorabench.training.train import TrainResult, train_resolved


def prompt_change_since_training(
    out: Path, prompt: ResolvedPrompt, loaded: LoadedModel, test: list[Record], force: bool, allow: bool
) -> PromptDifference | None:
    """A finished training in the run folder whose prompts differ from this config's: refused,
    unless `allow` (then returned, and the run evaluates that adapter under the new prompts)."""
    train_dir = out / "train"
    if force or not (train_dir / "stage.json").exists():
        return None
    difference = adapter_prompt_difference(train_dir / "adapter", test, loaded.tokenizer, loaded.model, prompt)
    if difference is not None and not allow:
        raise prompt_change_refusal(train_dir / "adapter", difference, Message(", or ", Hint("force"), " to train again"))
    return difference


def train_stage(
    plan: TrainPlan, loaded: LoadedModel, base_model: dict[str, Any], splits: DataSplits, out: Path, force: bool,
    say: Say, on_log: Callable[[dict], None] | None, keep_prompt_change: bool = False,
    report_args: dict[str, Any] | None = None,
) -> tuple[Path, TrainResult | None]:
    """Train unless an adapter for exactly these settings and data is already there (with
    `keep_prompt_change`, one that differs in the prompt settings alone is kept too). `base_model`:
    the loaded base's `describe()`. `report_args`: where the Trainer's report_to logs
    (TrainingArguments fields), outside the fingerprint."""
    train_dir = out / "train"
    stamp = train_dir / "stage.json"
    fingerprint, without_prompt = _train_fingerprints(plan, base_model, splits)
    saved = json.loads(stamp.read_text()) if stamp.exists() and not force else {}
    if saved.get("fingerprint") == fingerprint:
        say(Message("train: adapter for these settings exists, skipping (use ", Hint("force"), " to retrain)"))
        return train_dir / "adapter", None
    if keep_prompt_change and saved.get("fingerprint_without_prompt") == without_prompt:
        say(alarm("train: keeping the adapter trained with other prompt settings (", Hint("allow_prompt_change"), ")"))
        return train_dir / "adapter", None
    resume = not force and (train_dir / "checkpoints").exists() and _same_pending(train_dir, fingerprint)
    shard = current_shard()
    if shard.main:
        if not resume and train_dir.exists():
            shutil.rmtree(train_dir)  # outputs of other settings: never resume or mix them
        write_json(train_dir / "pending.json", {"fingerprint": fingerprint})
    barrier(shard)
    result = train_resolved(
        loaded, plan.task, splits.train, splits.validation, train_dir, plan.prompt, plan.lora, plan.training,
        plan.decoding, ScoreSettings.of(plan.metrics), resume=resume, on_log=on_log, report_args=report_args,
    )
    if shard.main:
        write_json(stamp, {
            "fingerprint": fingerprint, "fingerprint_without_prompt": without_prompt,
            "steps": result.steps, "train_seconds": result.train_seconds,
            "training": result.figures().model_dump(),
        })
        (train_dir / "pending.json").unlink(missing_ok=True)
    return result.adapter_dir, result


def _train_fingerprints(plan: TrainPlan, model: dict[str, Any], splits: DataSplits) -> tuple[str, str]:
    """What the adapter depends on, and the same without the prompt settings (for reusing an
    adapter under a changed prompt section, see --allow-prompt-change). The items' fingerprints are
    the splits' (made once when the data is split)."""
    payload = {
        "model": model,
        "train": splits.digests.train,
        "validation": splits.digests.validation,
        "prompt": plan.prompt.settings.model_dump(mode="json"),
        "lora": plan.lora.model_dump(mode="json"),
        "training": plan.training.model_dump(mode="json"),
        # Validation during training always runs on 'hf', so the evaluation backend (and its vLLM sizes)
        # is not part of it; the engine changes how answers are generated, never what they are.
        "decoding": plan.decoding.model_dump(mode="json", exclude={"backend", "engine", "vllm"}),
    }
    if splits.digests.prompted_training is not None:  # a template may read columns the items' fingerprint leaves out
        payload["extra"] = splits.digests.prompted_training
    without_prompt = {key: value for key, value in payload.items() if key != "prompt"}
    # A multiple-choice mode is part of the prompt too (what a choice answer is: prompt.choice_answer).
    without_prompt["decoding"] = {k: v for k, v in payload["decoding"].items() if k != "choice_mode"}
    return _sha256_of(payload), _sha256_of(without_prompt)


def _sha256_of(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _same_pending(train_dir: Path, fingerprint: str) -> bool:
    """Checkpoints may be resumed only if they were made for the same settings."""
    pending = train_dir / "pending.json"
    return pending.exists() and json.loads(pending.read_text()).get("fingerprint") == fingerprint


def stage_train_seconds(train_dir: Path) -> float | None:
    stamp = train_dir / "stage.json"
    return json.loads(stamp.read_text())["train_seconds"] if stamp.exists() else None


def stage_training(train_dir: Path) -> dict[str, Any] | None:
    """The figures of a training found finished on disk (None for a stamp older than them)."""
    stamp = train_dir / "stage.json"
    return json.loads(stamp.read_text()).get("training") if stamp.exists() else None
