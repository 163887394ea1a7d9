"""sweep.params: any config key as a sweep dimension, random search, and errors that name the key."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.core.errors import LorabenchError
from lorabench.studies.grid import load_study

CONFIG = """\
model: tiny
task: extractive
data:
  source: qa.jsonl
  split: {test: 8, validation: 4, seed: 3}
lora: {r: 4}
training: {epochs: 2, seed: 0, lr: 1.0e-3}
out: studies/s
sweep:
  strategies: [single, batch]
  params:
    learning_rate: [1.0e-4, 5.0e-4]
    lora.r: [8, 16]
"""


def _write(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_params_expand_with_the_four_lists_aliases_read_as_their_keys(tmp_path):
    study = load_study(_write(tmp_path, CONFIG + "  seeds: [0, 1]\n"))
    assert len(study.points) == 16 and study.grid_size == 16
    assert [p.name for p in study.points[:3]] == ["single__lr0.0001__r8__seed0", "single__lr0.0001__r8__seed1",
                                                   "single__lr0.0001__r16__seed0"]
    last = study.points[-1]
    assert (last.config.prompt.strategy, last.config.training.lr, last.config.lora.r, last.config.training.seed) == \
        ("batch", 5e-4, 16, 1)
    assert last.cell == "batch__lr0.0005__r16" and last.values["training.lr"] == 5e-4
    assert study.swept == ["strategy", "seed", "training.lr", "lora.r"] and study.chooses
    # settings not swept keep the base config's values; the test items are the same for every run
    assert {p.config.training.epochs for p in study.points} == {2} and {p.config.data.split.seed for p in study.points} == {3}


def test_the_four_lists_alone_are_the_study_they_always_were(tmp_path):
    study = load_study(_write(tmp_path, CONFIG.split("  params:")[0]))
    assert [p.name for p in study.points] == ["single", "batch"] and not study.chooses
    assert "params" not in study.sweep.model_dump(mode="json")  # study.yaml as before


def test_params_for_keys_with_their_own_list_become_that_list(tmp_path):
    study = load_study(_write(tmp_path, CONFIG.replace("    lora.r: [8, 16]", "    training.seed: [0, 1]")))
    assert study.sweep.seeds == [0, 1] and [k.name for k in study.params] == ["training.lr"]
    assert study.points[1].name == "single__lr0.0001__seed1"


def test_random_search_draws_trials_of_the_grid_with_every_seed(tmp_path):
    text = CONFIG + "  seeds: [0, 1]\n  search: random\n  trials: 3\n  search_seed: 7\n"
    study = load_study(_write(tmp_path, text))
    cells = list(dict.fromkeys(p.cell for p in study.points))
    assert len(cells) == 3 and len(study.points) == 6
    assert cells == list(dict.fromkeys(p.cell for p in load_study(_write(tmp_path, text)).points))  # seeded
    grid = [p.cell for p in load_study(_write(tmp_path, CONFIG)).points]
    assert sorted(cells, key=grid.index) == cells  # kept in grid order
    other = load_study(_write(tmp_path, text.replace("search_seed: 7", "search_seed: 8")))
    assert len({p.cell for p in other.points}) == 3


@pytest.mark.parametrize(("replace", "message"), [
    ("    lora.rr: [8, 16]", r"study.yaml:13: sweep.params.lora.rr: unknown key lora.rr; did you mean lora.r\?"),
    ("    lora.r: [0, 16]", r"study.yaml:13: sweep.params.lora.r: value 0: lora.r: Input should be greater than 0"),
    ("    lora.r: 8", r"study.yaml:13: sweep.params.lora.r: give a non-empty list"),
    ("    data.split.seed: [1, 2]", r"sweep.params.data.split.seed: cannot be swept: the split decides the test items"),
    ("    metrics.alpha: [0.05, 0.1]", r"sweep.params.metrics.alpha: cannot be swept"),
    ("    training: [1]", r"sweep.params.training: training is a section"),
    ("    training.lr.x: [1]", r"sweep.params.training.lr.x: training.lr is a single value"),
    ("    training.lr: [1.0e-4]", r"sweep.params.training.lr: the same setting as sweep.params.learning_rate"),
    ("    training.seed: [3]\n  seeds: [1]", r"sweep.params.training.seed: given twice, also as sweep.seeds"),
])
def test_bad_params_name_the_key_and_line(tmp_path, replace, message):
    text = CONFIG.replace("    lora.r: [8, 16]", replace)
    with pytest.raises(LorabenchError, match=message):
        load_study(_write(tmp_path, text))


def test_search_settings_are_checked(tmp_path):
    with pytest.raises(LorabenchError, match="search: random needs `trials`"):
        load_study(_write(tmp_path, CONFIG + "  search: random\n"))
    with pytest.raises(LorabenchError, match="trials applies to search: random only"):
        load_study(_write(tmp_path, CONFIG + "  trials: 2\n"))
    with pytest.raises(LorabenchError, match="sweep.trials: 9 draws from a grid of only 8 combinations"):
        load_study(_write(tmp_path, CONFIG + "  search: random\n  trials: 9\n"))
    with pytest.raises(LorabenchError, match=r"study.yaml:\d+: sweep.executor"):
        load_study(_write(tmp_path, CONFIG + "  executor: dask\n"))


def test_plan_lists_cells_and_shared_base_evaluations_and_bad_input_exits_2(tmp_path):
    path = _write(tmp_path, CONFIG)
    result = CliRunner().invoke(app, ["study", str(path), "--plan"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "8 runs: 8 cell(s) x 1 seed(s), all scored on the same test items"
    assert "single__lr0.0001__r8: to run -> studies/s/runs/single__lr0.0001__r8; base evaluation made here, shared with 3 other run(s)" in lines
    assert "batch__lr0.0005__r16: to run -> studies/s/runs/batch__lr0.0005__r16; base evaluation shared with batch__lr0.0001__r8" in lines
    assert lines[-1].startswith("choice: the cell with the best mean validation exact_match over its seeds")
    bad = CliRunner().invoke(app, ["study", str(_write(tmp_path, CONFIG.replace("lora.r:", "lora.rr:"))), "--plan"])
    assert bad.exit_code == 2 and "sweep.params.lora.rr: unknown key" in bad.output and "Traceback" not in bad.output
    wrong = CliRunner().invoke(app, ["study", str(path), "--executor", "dask"])
    assert wrong.exit_code == 2 and "--executor: 'dask' is not an executor" in wrong.output
