"""The validation caveat: when the validation metric is too noisy to choose by, and what would fix it."""

from __future__ import annotations


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
