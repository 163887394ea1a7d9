"""Validation during training: the task's metric by generation, as the evaluation of the same items gets
it, and the caveat when the validation metric is too noisy to choose by, and what would fix it."""

from __future__ import annotations

import math

import pytest


def test_validation_caveat_asks_for_more_items_only_where_more_would_be_enough():
    from lorabench.data.records import TaskKind
    from lorabench.training.train import TrainSettings
    from lorabench.training.validation import validation_caveat

    few = validation_caveat(9, TaskKind.extractive, TrainSettings(val_metric_items=8))
    assert "scored on 8 of its 9 items" in few and "larger data.split.validation, and raise training.val_metric_items" in few
    many = validation_caveat(200, TaskKind.extractive, TrainSettings(val_metric_items=8))
    assert many.endswith("raise training.val_metric_items") and "data.split.validation" not in many
    assert validation_caveat(200, TaskKind.extractive, TrainSettings(val_metric_items=200)) is None
    assert "validation has 1 item:" in validation_caveat(1, TaskKind.extractive, TrainSettings())


@pytest.mark.parametrize(("kind", "metric"), [("extractive", "f1"), ("choice", "accuracy"), ("math", "no_number")])
def test_the_validation_metric_is_the_evaluations_mean_score_on_the_same_items(tiny_causal_path, kind, metric):
    from lorabench.config.decoding import DecodingSettings
    from lorabench.config.settings import ModelSpec
    from lorabench.core.kinds import get_task
    from lorabench.data.synth import synthesize
    from lorabench.evaluation.runner import evaluate_records
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.models.load import load_model
    from lorabench.prompts.build import PromptSettings, resolve_prompt
    from lorabench.training.validation import _metric_fn

    loaded = load_model(ModelSpec(name=str(tiny_causal_path)))
    items, decoding, scoring = synthesize(kind, 6, seed=3), DecodingSettings(max_new_tokens=6), ScoreSettings()
    task = get_task(items[0].task)
    prompt = resolve_prompt(PromptSettings(), loaded.model, decoding.max_new_tokens_for(task.kind))
    compute = _metric_fn(loaded, task, items, prompt, decoding, scoring, metric)
    loaded.model.train()
    value = compute(loaded.model)
    assert loaded.model.training  # the Trainer gets its model back in training mode
    rows = evaluate_records(loaded, items, prompt, decoding, scoring).rows
    assert [row["id"] for row in rows] == [r.id for r in items]
    assert value == pytest.approx(sum(row["scores"][metric] for row in rows) / len(items))
    assert math.isnan(_metric_fn(loaded, task, [], prompt, decoding, scoring, metric)(loaded.model))
