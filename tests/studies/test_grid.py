"""Study configs: the sweep expands into a grid of ordinary run configs sharing the test items."""

from __future__ import annotations

import pytest

from lorabench.config.run import load_config
from lorabench.core.errors import LorabenchError
from lorabench.studies.grid import load_study

CONFIG = """\
model: tiny
task: extractive
data:
  source: qa.jsonl
  split: {test: 8, validation: 4, seed: 3}
training: {epochs: 2, seed: 0}
out: studies/s
sweep:
  models: [tiny, other/model-b]
  train_sizes: [10, 40]
  strategies: [single, batch]
"""


def _write(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_sweep_expands_to_the_cross_product(tmp_path):
    study = load_study(_write(tmp_path, CONFIG))
    assert len(study.points) == 8
    first, last = study.points[0], study.points[-1]
    assert first.name == "tiny__n10__single" and last.name == "model-b__n40__batch"
    assert last.config.model.name == "other/model-b" and last.config.data.train_size == 40
    assert last.config.prompt.strategy == "batch" and last.config.out == "studies/s/runs/model-b__n40__batch"
    # the split (hence the test items) is the same for every point
    assert {p.config.data.split.seed for p in study.points} == {3}
    assert study.swept == ["model", "train_size", "strategy"]
    assert len({p.name for p in study.points}) == 8


def test_seeds_vary_training_only_and_epoch_eval_keeps_checkpoints(tmp_path):
    text = CONFIG.replace("  models: [tiny, other/model-b]\n", "  seeds: [0, 1]\n  eval_each_epoch: true\n")
    study = load_study(_write(tmp_path, text))
    assert [p.name for p in study.points][:2] == ["n10__single__seed0", "n10__single__seed1"]
    assert {p.config.training.seed for p in study.points} == {0, 1}
    assert all(p.config.training.save_every == "epoch" and p.config.training.save_total_limit >= 3 for p in study.points)


def test_bad_sweep_key_names_file_line_and_key(tmp_path):
    path = _write(tmp_path, CONFIG.replace("  strategies: [single, batch]", "  strategys: [single]"))
    with pytest.raises(LorabenchError, match=r"study.yaml:11: sweep.strategys: unknown key"):
        load_study(path)
    path = _write(tmp_path, CONFIG.replace("[10, 40]", "[10, -4]"))
    with pytest.raises(LorabenchError, match=r"study.yaml:10: sweep.train_sizes"):
        load_study(path)


def test_run_and_study_configs_are_not_mixed_up(tmp_path):
    path = _write(tmp_path, CONFIG)
    with pytest.raises(LorabenchError, match="lorabench study"):
        load_config(path)
    plain = _write(tmp_path, CONFIG.split("sweep:")[0])
    with pytest.raises(LorabenchError, match="no 'sweep' section"):
        load_study(plain)
