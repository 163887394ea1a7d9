"""A grid point's bookkeeping: when it counts as finished, and which base evaluations it may share."""

from __future__ import annotations

import json
from pathlib import Path

from lorabench.studies.cells import EPOCHS_DIR, VALIDATION_DIR, base_eval_key, is_finished, share_base_eval
from lorabench.studies.grid import load_study

STUDY = """\
model: tiny
task: extractive
data:
  source: qa.jsonl
  split: {{test: 8, validation: 4, seed: 3}}
out: {out}
sweep:
  train_sizes: [10, 40]
  params: {{training.lr: [0.005, 0.02], decoding.max_new_tokens: [4, 8]}}
"""


def _study(tmp_path):  # noqa: ANN001, ANN202
    (tmp_path / "study.yaml").write_text(STUDY.format(out=tmp_path / "s"))
    return load_study(tmp_path / "study.yaml")


def _finish(point) -> Path:  # noqa: ANN001
    out = Path(point.config.out)
    out.mkdir(parents=True)
    (out / "config.yaml").write_text(point.config.to_yaml(), encoding="utf-8")
    (out / "summary.json").write_text("{}", encoding="utf-8")
    return out


def test_a_point_is_finished_only_with_its_summary_its_own_config_and_what_the_study_asks(tmp_path):
    point = _study(tmp_path).points[0]
    assert not is_finished(point, eval_each_epoch=False)
    out = _finish(point)
    assert is_finished(point, eval_each_epoch=False)
    assert not is_finished(point, eval_each_epoch=True)  # its epochs were not evaluated
    assert not is_finished(point, eval_each_epoch=False, validation=True)  # nor its adapter on validation
    (out / EPOCHS_DIR).mkdir()
    (out / EPOCHS_DIR / "done.json").write_text("[]")
    (out / VALIDATION_DIR).mkdir()
    (out / VALIDATION_DIR / "metrics.json").write_text(json.dumps({"n": 4}))
    assert is_finished(point, eval_each_epoch=True, validation=True)
    (out / "config.yaml").write_text(point.config.to_yaml().replace("0.005", "0.5"), encoding="utf-8")
    assert not is_finished(point, eval_each_epoch=False)  # run under other settings: not this point's result


def test_the_base_evaluation_is_shared_across_training_settings_but_not_across_decoding(tmp_path):
    points = _study(tmp_path).points
    key = {p.name: base_eval_key(p.config) for p in points}
    by_decoding: dict[int, set[str]] = {}
    for p in points:
        by_decoding.setdefault(p.config.decoding.max_new_tokens, set()).add(key[p.name])
    assert sorted(by_decoding) == [4, 8]
    assert all(len(keys) == 1 for keys in by_decoding.values())  # train size and lr do not matter
    assert by_decoding[4] != by_decoding[8]  # how answers are generated does

    source = next(p for p in points if p.config.decoding.max_new_tokens == 4)
    base = Path(source.config.out) / "base"
    base.mkdir(parents=True)
    (base / "metrics.json").write_text(json.dumps({"n": 8}))
    for point in points:
        share_base_eval(point, points)
        copied = (Path(point.config.out) / "base" / "metrics.json").exists()
        assert copied == (point.config.decoding.max_new_tokens == 4), point.name
