"""Validation during training: the task's real metric by generation, and the caveat when too few items can show a change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from lorabench.comparison.paired import min_detectable_proportion
from lorabench.config.decoding import DecodingSettings
from lorabench.config.settings import TrainSettings
from lorabench.core.kinds import Task
from lorabench.data.records import Record, TaskKind
from lorabench.evaluation.strategies import AnswerPlan, answer_records
from lorabench.evaluation.sharding import current_shard, shard_records
from lorabench.inference.hf import HFBackend
from lorabench.metrics.scoring import TASK_METRICS, ScoreSettings
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import ResolvedPrompt

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
    loaded: LoadedModel, task: Task, records: Sequence[Record], prompt: ResolvedPrompt,
    decoding: DecodingSettings, score_settings: ScoreSettings, name: str,
) -> Callable[[Any], float]:
    """The task metric of a model on `records` (of `task`'s kind), by generation exactly as evaluation does it.

    Under data parallelism each rank generates for its shard of the items (whole context groups, as
    in data-parallel evaluation) and the per-item scores are gathered, so every rank gets the same
    value (early-stopping decisions agree) and no item is generated twice.
    """
    plan = AnswerPlan(task, prompt.fitted, decoding, score_settings)

    def compute(model: Any) -> float:
        shard = current_shard()
        was_training = model.training
        model.eval()
        try:
            # The model being trained lives in this process: only the hf backend can run it.
            backend = HFBackend(replace(loaded, model=model), decoding.engine)
            mine = shard_records(records, shard)  # empty when there are fewer context groups than ranks
            rows = answer_records(plan, backend, mine).rows if mine else []
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
