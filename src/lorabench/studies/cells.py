"""One grid point's work in a study: whether it is finished, its shared base evaluation, its run,
and the tuned adapter scored on validation. The runner (in order, here) and the Ray executor (as
parallel tasks) both run points through these functions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.config.run import RunConfig
from lorabench.data.loaders import load_records
from lorabench.data.records import records_digest
from lorabench.data.spec import DataSpec
from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.core.errors import LorabenchError
from lorabench.comparison.prompt_change import trained_prompt_settings
from lorabench.models.load import load_model, resolve_source
from lorabench.core.notices import Say
from lorabench.pipeline.resolve import EvalPlan
from lorabench.pipeline.eval_stage import ProgressFactory, eval_stage
from lorabench.pipeline.run import run_pipeline
from lorabench.pipeline.splits import split_data
from lorabench.report.verdicts import verdict_sentence
from lorabench.runs.folder import ensure_run_folder, write_atomic
from lorabench.runs.lock import hold_folder
from lorabench.studies.grid import GridPoint, Study
from lorabench.training.lora import check_target_modules

EPOCHS_DIR = "epochs"
# The tuned adapter scored on the validation split: what a study over sweep.params chooses its cell by.
VALIDATION_DIR = "validation"


@dataclass
class PointStatus:
    point: GridPoint
    state: str  # "done" (already on disk), "ran", "failed"
    seconds: float
    error: str | None = None


def is_finished(point: GridPoint, eval_each_epoch: bool, validation: bool = False) -> bool:
    out = Path(point.config.out)
    if not (out / "summary.json").exists() or not (out / "config.yaml").exists():
        return False
    if (out / "config.yaml").read_text(encoding="utf-8") != point.config.to_yaml():
        return False
    if validation and not (out / VALIDATION_DIR / "metrics.json").exists():
        return False
    return not eval_each_epoch or (out / EPOCHS_DIR / "done.json").exists()


def point_finished(study: Study, point: GridPoint) -> bool:
    """Everything the study needs of this point is on disk for its current settings."""
    return is_finished(point, study.sweep.eval_each_epoch, study.chooses)


def base_eval_key(config: RunConfig) -> str:
    """What a base evaluation depends on: the training size and seed are not part of it."""
    data = config.data.model_copy(update={"train_size": None})
    parts = (config.model, config.task, data, config.prompt, config.decoding, config.metrics)
    return json.dumps([p.model_dump(mode="json") if hasattr(p, "model_dump") else str(p) for p in parts], sort_keys=True)


def share_base_eval(point: GridPoint, points: list[GridPoint]) -> None:
    """Copy a finished base evaluation made under the same settings, if one exists. The copied
    folder's config.yaml is still checked against this run's when the stage opens it."""
    target = Path(point.config.out) / "base"
    if target.exists():
        return
    key = base_eval_key(point.config)
    for other in points:
        source = Path(other.config.out) / "base"
        if other is not point and (source / "metrics.json").exists() and base_eval_key(other.config) == key:
            shutil.copytree(source, target)
            return


def evaluate_epochs(point: GridPoint, progress: ProgressFactory | None, say: Say) -> None:
    """Evaluate each epoch's checkpoint on the test split into <run>/epochs/epoch_<k>/."""
    out = Path(point.config.out)
    checkpoints = sorted((out / "train" / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    test = _saved_split(point, "test")
    done = []
    for checkpoint in checkpoints:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        epoch = round(float(state.get("epoch", 0.0)), 2)
        say(f"{point.name}: test evaluation of the epoch {epoch:g} adapter ({checkpoint.name})")
        loaded = load_model(point.config.model, adapter=str(checkpoint))
        plan = _trained_plan(point, loaded.model)
        outcome = eval_stage(
            f"{EPOCHS_DIR}/epoch_{epoch:g}", loaded, test, _prompted_digest(test, plan), plan, out, False, progress
        )
        done.append({"epoch": epoch, "step": int(checkpoint.name.rsplit("-", 1)[1]), "metrics": outcome.metrics.to_dict()})
    write_atomic(out / EPOCHS_DIR / "done.json", json.dumps(done, indent=2))


def _saved_split(point: GridPoint, split: str) -> list:
    out = Path(point.config.out)
    return load_records(DataSpec(path=out / "data" / f"{split}.jsonl", task=point.config.task)).records


def _prompted_digest(records: list, plan: EvalPlan) -> str:
    """The fingerprint of a saved split as `plan` prompts it, as a run's SplitDigests makes it."""
    return records_digest(plan.task, records, extra=plan.prompt.settings.uses_templates)


def _trained_plan(point: GridPoint, model: Any) -> EvalPlan:
    config = point.config
    if config.prompt.few_shot is not None:  # evaluated with the examples the run drew, which its adapter keeps
        return EvalPlan.of(config, trained_prompt_settings(Path(config.out) / "train" / "adapter"), model)
    return EvalPlan.of(config, config.prompt, model)


def evaluate_validation(point: GridPoint, force: bool, progress: ProgressFactory | None, say: Say) -> None:
    """Score the run's tuned adapter (the one its test evaluation used) on the whole validation
    split into <run>/validation/, with the test evaluation's prompts and decoding. A study over
    sweep.params chooses its cell on these numbers, never on test."""
    out = Path(point.config.out)
    validation = _saved_split(point, "validation")
    say(f"{point.name}: validation evaluation of the tuned adapter ({len(validation)} items; the study chooses on it)")
    loaded = load_model(point.config.model, adapter=str(out / "train" / "adapter"))
    plan = _trained_plan(point, loaded.model)
    eval_stage(VALIDATION_DIR, loaded, validation, _prompted_digest(validation, plan), plan, out, force, progress)


def evaluate_base(point: GridPoint, say: Say) -> None:
    """The base evaluation alone, into the point's folder, as its run would make it: the parallel
    executor runs it once for the points that share it before their runs start (which copy it)."""
    config = point.config
    out = Path(config.out)
    ensure_run_folder(out, "out")
    with hold_folder(out, "out"):
        splits = split_data(config, say)
        loaded = load_model(config.model)
        say(f"{point.name}: base evaluation, shared by every run with the same model, items and prompts")
        plan = EvalPlan.of(config, splits.prompt, loaded.model)
        eval_stage("base", loaded, splits.test, splits.digests.prompted_test, plan, out, False, None)


def run_point(
    study: Study, point: GridPoint, force: bool, say: Say, progress: ProgressFactory | None,
    on_train_log: Callable[[dict], None] | None,
) -> None:
    """One grid point: its run (resuming stage by stage), then what the study adds to it, with
    its folder held throughout, so another study or a manual run on it is refused."""
    ensure_run_folder(Path(point.config.out), "out")
    with hold_folder(Path(point.config.out), "out"):
        if not force:
            share_base_eval(point, study.points)
        result = run_pipeline(point.config, force=force, say=say, progress=progress, on_train_log=on_train_log,
                              study=study.out)
        primary = next(c for c in result.comparisons if c.metric == PRIMARY_METRIC[point.config.task])
        say(f"{point.name}: {verdict_sentence(primary)}")
        if study.sweep.eval_each_epoch:
            evaluate_epochs(point, progress, say)
        if study.chooses:
            evaluate_validation(point, force, progress, say)


def preflight(study: Study) -> None:
    """Refuse a study that cannot run to the end before anything is written: the output folder,
    the shared split, every training size against it, and every model of the sweep."""
    ensure_run_folder(study.out, "out")
    base = study.base.model_copy(update={"data": study.base.data.model_copy(update={"train_size": None})})
    splits = split_data(base, say=lambda _: None)
    for size in sorted({p.values["train_size"] for p in study.points if p.values["train_size"]}):
        if size > len(splits.train):
            key = "sweep.train_sizes" if study.sweep.train_sizes else "data.train_size"
            raise LorabenchError(f"{key}: {size} asks for more than the {len(splits.train)} training items there are")
    if study.chooses and not splits.validation:
        raise LorabenchError(
            "sweep.params: the study chooses its best cell on the validation split, which is empty; "
            "set data.split.validation (e.g. 16) or data.validation"
        )
    for spec in {p.config.model for p in study.points}:
        key = "sweep.models" if study.sweep.models else "model"
        try:
            resolve_source(spec.name, spec.cache_dir, spec.revision)
        except LorabenchError as error:
            raise LorabenchError(f"{key}: {error}") from None
        if study.base.lora.target_modules != "all-linear":
            # Named layers must exist in every model; only loading one tells (each run loads it anyway).
            check_target_modules(load_model(spec).model, study.base.lora.target_modules)
