"""The registry: every kind's module declares a whole, consistent Task."""

from __future__ import annotations

import pytest

from lorabench.comparison.items import CATEGORIES
from lorabench.metrics.scoring import PROPORTIONS, TASK_METRICS, score_item, ScoreInput
from lorabench.tasks import KINDS, Task, TaskKind, get_task


@pytest.mark.parametrize("kind", list(TaskKind))
def test_every_kind_declares_a_consistent_task(kind) -> None:
    task = get_task(kind)
    assert isinstance(task, Task) and task.kind is kind
    assert task.primary_metric in task.metrics
    assert set(task.error_categories) <= set(CATEGORIES)
    assert task.format_flag is None or task.format_flag in task.metrics
    assert task.record_type.task is kind
    assert all(stop for stop in task.stop_strings) and task.max_new_tokens > 0
    assert TASK_METRICS[kind] == task.metrics and TASK_METRICS[kind.value] == task.metrics


def test_the_enum_is_the_registry() -> None:
    assert [k.value for k in TaskKind] == list(KINDS)
    assert list(TASK_METRICS) == list(TaskKind)


def test_an_unknown_kind_is_refused_not_scored_as_another() -> None:
    with pytest.raises(ValueError):
        get_task("trivia")
    with pytest.raises(ValueError):
        score_item("trivia", ScoreInput(prediction="x", golds=["x"]))
    with pytest.raises(KeyError):
        TASK_METRICS["trivia"]


@pytest.mark.parametrize("kind", list(TaskKind))
def test_scores_are_in_range_and_named_as_declared(kind) -> None:
    from lorabench.data.synth import synthesize
    from lorabench.evaluation.rows import item_scores
    from lorabench.prompts.build import target_text

    record = synthesize(kind, 1, seed=4)[0]
    right = item_scores(get_task(kind), record, target_text(record))
    assert tuple(right) == get_task(kind).metrics
    assert all(0.0 <= v <= 1.0 for v in right.values())
    assert right[get_task(kind).primary_metric] == 1.0  # the training target is a right answer
    assert set(right) - PROPORTIONS <= {"f1", "token_f1", "rouge_l"}
