"""The study's tables read what each finished run stored, also from summaries written before a key existed."""

from __future__ import annotations

from lorabench.studies.grid import load_study
from lorabench.studies.tables import FinishedRun, work_seconds

STUDY = """\
model: tiny
task: extractive
data:
  source: qa.jsonl
  split: {test: 8, validation: 4, seed: 3}
out: studies/s
sweep:
  train_sizes: [10]
"""


def _run(tmp_path, **summary) -> FinishedRun:  # noqa: ANN001
    (tmp_path / "study.yaml").write_text(STUDY)
    point = load_study(tmp_path / "study.yaml").points[0]
    stored = {"task": "extractive", "sizes": {"train": 7, "validation": 4, "test": 8}, **summary}
    return FinishedRun(point=point, summary=stored, base_rows=[], tuned_rows=[], comparisons=[], epochs=[], train_log=[])


def test_work_seconds_are_the_stored_ones_else_that_sessions_timings(tmp_path):
    stored = {"base_eval": 1.5, "train": 20.0, "tuned_eval": 2.5}
    assert work_seconds(_run(tmp_path, work_seconds=stored, timings={"train_seconds": 0.1})) == stored
    old = _run(tmp_path, timings={"base_eval_seconds": 3.0, "train_seconds": 30.0})  # before work_seconds existed
    assert work_seconds(old) == {"base_eval": 3.0, "train": 30.0, "tuned_eval": None}


def test_the_train_size_is_what_the_run_used_not_the_grid_value(tmp_path):
    run = _run(tmp_path)
    assert run.point.values["train_size"] == 10 and run.train_size == 7  # the train split had 7 items


def test_the_short_subset_stored_under_the_same_settings_is_read_back_not_recomputed(tmp_path):
    metrics = _run(tmp_path).point.config.metrics
    stored = {"thresh": metrics.short_thresh, "n": 3, "alpha": metrics.alpha, "resamples": metrics.bootstrap_resamples,
              "comparison": []}
    short = _run(tmp_path, short_comparison=stored).short()
    assert short is not None and (short.thresh, short.n, short.comparisons) == (metrics.short_thresh, 3, [])
