"""A run's data before anything is written: loaded, split, checked for leakage, and what the
console says about where validation came from."""

from __future__ import annotations

import json

import pytest

from lorabench.config.run import RunConfig
from lorabench.core.errors import LeakageError
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.splits import split_data


def _split_config(tmp_path, task, training=None, **data) -> RunConfig:
    return RunConfig.model_validate(
        {"model": "unused", "task": task, "data": data, "training": training or {}, "out": str(tmp_path / "run")}
    )


def test_validation_taken_from_train_says_so_and_a_tiny_one_is_warned_about(tmp_path):
    train = save_records(synthesize("math", 14, seed=1), tmp_path / "train.jsonl")
    test = save_records(synthesize("math", 6, seed=2), tmp_path / "test.jsonl")
    messages: list[str] = []
    early = {"early_stopping_patience": 1, "eval_every": 10, "save_every": 10}
    config = _split_config(tmp_path, "math", early, train=str(train), test=str(test), split={"validation": 0.1})
    splits = split_data(config, messages.append)
    assert len(splits.validation) == 1 and splits.validation_from == "taken from train by split.validation=0.1"
    assert any("train 13, validation 1 (taken from train by split.validation=0.1), test 6" in m for m in messages)
    warning = "validation has 1 item: its numeric_match detects only changes of about 100 points or more; early stopping on it is noise"
    assert splits.validation_warning.startswith(warning)
    assert any(warning in m for m in messages)

    # A validation set of its own, large enough: named, and no warning.
    validation = save_records(synthesize("math", 40, seed=3), tmp_path / "validation.jsonl")
    messages.clear()
    config = _split_config(tmp_path, "math", train=str(train), test=str(test), validation=str(validation))
    splits = split_data(config, messages.append)
    assert splits.validation_from.startswith("from data.validation") and splits.validation_warning is None
    assert not any("detects only" in m for m in messages)
    config = _split_config(tmp_path, "math", source=str(train), split={"test": 4, "validation": 0})
    assert split_data(config, messages.append).validation_from == "none: split.validation is 0"


def test_qa_folders_that_both_start_at_qa_1_do_not_stop_the_run(tmp_path):
    def folder(name, questions):
        path = tmp_path / name
        path.mkdir()
        pairs = [{"question": q, "options": ["yes", "no"], "ground_truth_correct_option": "A"} for q in questions]
        (path / "qa_1.json").write_text(json.dumps({"qa_pairs": pairs}), encoding="utf-8")
        return str(path)

    messages: list[str] = []
    train = folder("train", [f"Is train fact number {i} true?" for i in range(6)])
    config = _split_config(tmp_path, "choice", train=train, test=folder("test", [f"Is test claim {i} right?" for i in range(4)]),
                           split={"validation": 0})
    splits = split_data(config, messages.append)
    assert not splits.leakage["train_vs_test"]["has_leakage"] and splits.leakage["train_vs_test"]["id_collisions"] == 4
    assert any("leakage check clean" in m for m in messages)
    assert any("not leakage" in m for m in messages)
    config = _split_config(tmp_path, "choice", train=train, test=folder("copy", ["Is train fact number 2 true?"]),
                           split={"validation": 0})
    with pytest.raises(LeakageError, match="identical questions: 1"):
        split_data(config, messages.append)
