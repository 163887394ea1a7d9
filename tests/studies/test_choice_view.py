"""The study page's choice section: the cell chosen on validation is the headline, the rest exploratory."""

from __future__ import annotations

from lorabench.comparison.paired import MetricComparison
from lorabench.studies.choice_view import choice_view
from lorabench.studies.grid import load_study
from lorabench.studies.tables import FinishedRun

STUDY = """\
model: tiny
task: extractive
data:
  source: qa.jsonl
  split: {test: 20, validation: 10, seed: 3}
out: studies/s
sweep:
  params: {training.lr: [0.005, 0.02]}
"""


def _run(point, validation_em: float, tuned: float, p_value: float) -> FinishedRun:
    test = MetricComparison("exact_match", 20, 0.1, tuned, tuned - 0.1, p_value, "mcnemar_exact",
                            "better" if p_value < 0.05 else "no significant difference", improved=4, regressed=0)
    return FinishedRun(point=point, summary={"task": "extractive", "sizes": {"train": 30, "validation": 10, "test": 20}},
                       base_rows=[], tuned_rows=[], comparisons=[test], epochs=[], train_log=[],
                       validation={"n": 10, "exact_match": validation_em, "f1": validation_em})


def test_the_cell_best_on_validation_is_the_headline_and_every_test_comparison_is_one_holm_family(tmp_path):
    (tmp_path / "study.yaml").write_text(STUDY)
    study = load_study(tmp_path / "study.yaml")
    slow, fast = study.points
    view = choice_view(study, [_run(slow, 0.5, 0.4, 0.01), _run(fast, 0.7, 0.3, 0.04)], [], alpha=0.05)
    assert view.headline.startswith(f"Chosen cell {fast.cell}: test exact_match 10.0 (base) -> 30.0 (tuned) on the same "
                                    "20 items: better (paired test per seed: p = 0.04;")
    assert f"{fast.cell} was chosen on the validation split (10 items)" in view.reason
    roles = {row["cells"][0]: row["cells"][-1] for row in view.cell_rows}
    assert roles == {fast.cell: "chosen (headline)", slow.cell: "exploratory"}
    # The chosen cell's own test needs no correction (p 0.04 stays better); the other is Holm-adjusted (2 x 0.01).
    holm = {row["comparison"]: row["p_holm"] for row in view.comparisons_csv}
    assert holm == {f"{slow.name} vs base": 0.02, f"{fast.name} vs base": 0.04}
    assert [row["chosen"] for row in view.cells_csv] == [False, True]
    assert view.note.startswith("All 2 test comparisons of the study are one family")


def test_nothing_is_chosen_before_any_cell_has_its_validation_evaluation(tmp_path):
    (tmp_path / "study.yaml").write_text(STUDY)
    study = load_study(tmp_path / "study.yaml")
    view = choice_view(study, [], [], alpha=0.05)
    assert view.headline == "No cell has its validation evaluation yet: nothing is chosen." and not view.cell_rows
