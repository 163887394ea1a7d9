"""`lorabench study CONFIG`: run every grid point that is not finished, then rebuild the tables.

Each point is an ordinary `lorabench run` folder under <out>/runs/, so it resumes stage by stage;
a point whose summary exists for the same settings is not touched at all. Base evaluations are
shared: points that differ only in training size or seed evaluate the same base model on the same
items with the same prompts, so the first one's base/ folder is copied to the others.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from lorabench.config.run import RunConfig
from lorabench.data.loaders import load_records
from lorabench.data.spec import DataSpec
from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.core.errors import LorabenchError
from lorabench.comparison.guards import trained_prompt_settings
from lorabench.models.load import load_model, resolve_source
from lorabench.pipeline.run import ProgressFactory, eval_stage, run_pipeline, split_data
from lorabench.report.verdicts import verdict_sentence
from lorabench.runs.folder import ensure_run_folder, write_atomic
from lorabench.study.grid import GridPoint, Study
from lorabench.training.lora import check_target_modules

Say = Callable[[str], None]
EPOCHS_DIR = "epochs"


@dataclass
class PointStatus:
    point: GridPoint
    state: str  # "done" (already on disk), "ran", "failed"
    seconds: float
    error: str | None = None


def is_finished(point: GridPoint, eval_each_epoch: bool) -> bool:
    out = Path(point.config.out)
    if not (out / "summary.json").exists() or not (out / "config.yaml").exists():
        return False
    if (out / "config.yaml").read_text(encoding="utf-8") != point.config.to_yaml():
        return False
    return not eval_each_epoch or (out / EPOCHS_DIR / "done.json").exists()


def _base_eval_key(config: RunConfig) -> str:
    """What a base evaluation depends on: the training size and seed are not part of it."""
    data = config.data.model_copy(update={"train_size": None})
    parts = (config.model, config.task, data, config.prompt, config.decoding, config.metrics)
    return json.dumps([p.model_dump(mode="json") if hasattr(p, "model_dump") else str(p) for p in parts], sort_keys=True)


def _share_base_eval(point: GridPoint, points: list[GridPoint]) -> None:
    """Copy a finished base evaluation made under the same settings, if one exists. The copied
    folder's config.yaml is still checked against this run's when the stage opens it."""
    target = Path(point.config.out) / "base"
    if target.exists():
        return
    key = _base_eval_key(point.config)
    for other in points:
        source = Path(other.config.out) / "base"
        if other is not point and (source / "metrics.json").exists() and _base_eval_key(other.config) == key:
            shutil.copytree(source, target)
            return


def evaluate_epochs(point: GridPoint, progress: ProgressFactory | None, say: Say) -> None:
    """Evaluate each epoch's checkpoint on the test split into <run>/epochs/epoch_<k>/."""
    out = Path(point.config.out)
    checkpoints = sorted((out / "train" / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    test = load_records(DataSpec(path=out / "data" / "test.jsonl", task=point.config.task)).records
    config = point.config
    if config.prompt.few_shot is not None:  # evaluated with the examples the run drew, which its adapter keeps
        config = config.model_copy(update={"prompt": trained_prompt_settings(out / "train" / "adapter")})
    done = []
    for checkpoint in checkpoints:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        epoch = round(float(state.get("epoch", 0.0)), 2)
        say(f"{point.name}: test evaluation of the epoch {epoch:g} adapter ({checkpoint.name})")
        loaded = load_model(point.config.model, adapter=str(checkpoint))
        outcome = eval_stage(f"{EPOCHS_DIR}/epoch_{epoch:g}", loaded, test, config, out, False, progress)
        done.append({"epoch": epoch, "step": int(checkpoint.name.rsplit("-", 1)[1]), "metrics": outcome.metrics.to_dict()})
    write_atomic(out / EPOCHS_DIR / "done.json", json.dumps(done, indent=2))


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
    for spec in {p.config.model for p in study.points}:
        key = "sweep.models" if study.sweep.models else "model"
        try:
            resolve_source(spec.name, spec.cache_dir, spec.revision)
        except LorabenchError as error:
            raise LorabenchError(f"{key}: {error}") from None
        if study.base.lora.target_modules != "all-linear":
            # Named layers must exist in every model; only loading one tells (each run loads it anyway).
            check_target_modules(load_model(spec).model, study.base.lora.target_modules)


def run_study(
    study: Study,
    force: bool = False,
    say: Say = print,
    progress: ProgressFactory | None = None,
    on_train_log: Callable[[dict], None] | None = None,
    keep_going: bool = False,
) -> list[PointStatus]:
    """Run the missing grid points in order. With `keep_going`, a failed point is recorded and the
    study moves on (its error is in the status list); otherwise the first failure stops the study."""
    preflight(study)
    study.out.mkdir(parents=True, exist_ok=True)
    write_atomic(study.out / "study.yaml", yaml.safe_dump(
        {**study.base.model_dump(mode="json"), "sweep": study.sweep.model_dump(mode="json")}, sort_keys=False, allow_unicode=True))
    statuses = []
    for index, point in enumerate(study.points, start=1):
        if not force and is_finished(point, study.sweep.eval_each_epoch):
            say(f"[{index}/{len(study.points)}] {point.name}: finished earlier, kept")
            statuses.append(PointStatus(point, "done", 0.0))
            continue
        say(f"[{index}/{len(study.points)}] {point.name}")
        started = time.perf_counter()
        try:
            if not force:
                _share_base_eval(point, study.points)
            result = run_pipeline(point.config, force=force, say=say, progress=progress, on_train_log=on_train_log)
            primary = next(c for c in result.comparisons if c.metric == PRIMARY_METRIC[point.config.task])
            say(f"{point.name}: {verdict_sentence(primary)}")
            if study.sweep.eval_each_epoch:
                evaluate_epochs(point, progress, say)
        except Exception as error:  # noqa: BLE001 - recorded per point when keep_going, re-raised otherwise
            if not keep_going:
                raise
            say(f"[red]{point.name} failed: {error}[/]")
            statuses.append(PointStatus(point, "failed", time.perf_counter() - started, str(error)))
            continue
        statuses.append(PointStatus(point, "ran", time.perf_counter() - started))
    return statuses
