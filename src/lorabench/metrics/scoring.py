"""Per-item scores for each task kind, and their aggregates with n and 95% intervals.

Metric names are the public vocabulary of every `metrics.json` lorabench writes.

Text tasks (extractive, open) score every metric on one normalization of prediction and golds,
SQuAD's `normalize_answer`: lower-case, drop punctuation, drop the articles a/an/the, collapse
whitespace. Exact, relaxed and lenient match, token F1 and ROUGE-L all see that same text, so
"The Amazon River" against "amazon river." is 1.0 on each of them, not an exact match with a token
F1 of 0.8. (SQuAD's `exact_match` and `f1` normalize the same way inside the official definition.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lorabench.core.kinds import ByKind, Task, TaskKind, get_task
from lorabench.metrics.intervals import Aggregate, aggregates
from lorabench.metrics.squad import normalize_answer
from lorabench.metrics.text import is_short, lenient_match, relaxed_match, rouge_l, token_f1
from lorabench.metrics.settings import ScoringSettings

# Bumped whenever a metric's definition changes (2: one normalization for every text metric, and
# relaxed match for open answers). Run folders record it, so scores made under another definition
# are never resumed into, or compared with, today's.
SCORING_VERSION = 2

# Per-item 0/1 outcomes get a Wilson interval; the rest are means of [0, 1] scores (bootstrap).
PROPORTIONS = frozenset(
    {"exact_match", "relaxed_match", "lenient_match", "rouge_l_acc", "numeric_match", "no_number", "accuracy", "no_choice"}
)

# Metric names per kind, in table order (each kind's module declares them).
TASK_METRICS: ByKind[tuple[str, ...]] = ByKind("metrics")

# Lower is better for these: they count format failures.
LOWER_IS_BETTER = frozenset({"no_number", "no_choice"})


@dataclass(frozen=True)
class ScoreSettings:
    """Knobs shared by all metrics; saved with every result so numbers can be reproduced."""

    short_thresh: int = 3  # a gold answer of at most this many normalized tokens is "short"
    rouge_threshold: float = 0.5  # rouge_l_acc counts an item correct at ROUGE-L F >= this
    numeric_rel_tol: float = 1e-6
    numeric_abs_tol: float = 1e-6
    bootstrap_resamples: int = 2000
    seed: int = 0

    @classmethod
    def of(cls, settings: ScoringSettings) -> "ScoreSettings":
        """The knobs a config or the command line set (`metrics:` of a run, the top of an eval config)."""
        return cls(short_thresh=settings.short_thresh, rouge_threshold=settings.rouge_threshold)


@dataclass(frozen=True)
class ScoreInput:
    """One prediction against its gold(s). For choice, `golds` holds the correct label (or option text)."""

    golds: list[str]
    prediction: str
    options: list[str] | None = None


def text_scores(prediction: str, golds: list[str], settings: ScoreSettings) -> dict[str, float]:
    """The looser text metrics, all on the task normalization (module docstring)."""
    pred, refs = normalize_answer(prediction), [normalize_answer(g) for g in golds]
    # An unanswerable question (no golds) is answered right only by an empty prediction.
    r = rouge_l(pred, refs) if refs else float(not pred)
    return {
        "relaxed_match": relaxed_match(pred, refs, settings.short_thresh),
        "lenient_match": lenient_match(pred, refs),
        "token_f1": token_f1(pred, refs),
        "rouge_l": r,
        "rouge_l_acc": float(r >= settings.rouge_threshold),
    }


def score_item(task: TaskKind, item: ScoreInput, settings: ScoreSettings = ScoreSettings()) -> dict[str, float]:
    """All of the task's metrics for one item, each in [0, 1]. Raises ValueError for an unusable gold."""
    return get_task(task).score(item, settings)


def in_short_subset(task: Task, golds: list[str], short_thresh: int) -> bool:
    """Short-answer subset: some gold answer has at most `short_thresh` tokens (unanswerables excluded)."""
    return task.short_subset and _has_short_gold(golds, short_thresh)


def _has_short_gold(golds: Sequence[str], short_thresh: int) -> bool:
    return any(is_short(g, short_thresh) and g.strip() for g in golds)


@dataclass
class TaskMetrics:
    """Aggregates of one task over a set of items, plus the same on the short-answer subset."""

    task: TaskKind
    n: int
    metrics: dict[str, Aggregate]
    short: "TaskMetrics | None" = None
    settings: ScoreSettings = field(default_factory=ScoreSettings)

    def to_dict(self) -> dict[str, Any]:
        """The `metrics.json` / `score --json` shape: `n`, each metric as a fraction, `ci95` intervals."""
        out: dict[str, Any] = {"task": self.task.value, "n": self.n}
        out.update({name: _clean(agg.value) for name, agg in self.metrics.items()})
        out["ci95"] = {name: [_clean(agg.low), _clean(agg.high)] for name, agg in self.metrics.items()}
        if self.short is not None:
            short = self.short.to_dict()
            short.pop("task")
            out["short"] = short
        return out


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def aggregate(task: TaskKind, per_item: list[dict[str, float]], settings: ScoreSettings = ScoreSettings()) -> dict[str, Aggregate]:
    return aggregates(TASK_METRICS[TaskKind(task)], per_item, PROPORTIONS, settings.bootstrap_resamples, settings.seed)


def task_metrics(
    task: Task, per_item: Sequence[dict[str, float]], golds: Sequence[Sequence[str]], settings: ScoreSettings = ScoreSettings()
) -> TaskMetrics:
    """The aggregates of items' scores (`golds[i]` holds item i's gold answers), and the same on the
    short-answer subset where the kind has one: everything an evaluation's metrics.json reports."""
    resamples, seed = settings.bootstrap_resamples, settings.seed
    short = None
    if task.short_subset:
        subset = [s for s, g in zip(per_item, golds) if _has_short_gold(g, settings.short_thresh)]
        short_metrics = aggregates(task.metrics, subset, PROPORTIONS, resamples, seed)
        short = TaskMetrics(task.kind, len(subset), short_metrics, settings=settings)
    return TaskMetrics(task.kind, len(per_item), aggregates(task.metrics, per_item, PROPORTIONS, resamples, seed), short, settings)


def score_all(task: TaskKind, items: list[ScoreInput], settings: ScoreSettings = ScoreSettings()) -> tuple[list[dict[str, float]], TaskMetrics]:
    """Per-item scores and the aggregate (with its short-answer subset where the task has one)."""
    task = TaskKind(task)
    per_item = [score_item(task, item, settings) for item in items]
    return per_item, task_metrics(get_task(task), per_item, [item.golds for item in items], settings)
