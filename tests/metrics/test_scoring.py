import pytest

from lorabench.data.records import TaskKind
from lorabench.metrics.scoring import TASK_METRICS, ScoreInput, ScoreSettings, score_all, score_item


def test_extractive_item_scores():
    scores = score_item(TaskKind.extractive, ScoreInput(["1889"], "It was completed in 1889."))
    assert scores["exact_match"] == 0.0
    assert scores["lenient_match"] == 1.0
    assert scores["relaxed_match"] == 1.0
    assert 0 < scores["f1"] < 1
    assert set(scores) == set(TASK_METRICS[TaskKind.extractive])


def test_math_scores_and_no_number():
    assert score_item("math", ScoreInput(["#### 72"], "The total is 72.0"))["numeric_match"] == 1.0
    missing = score_item("math", ScoreInput(["72"], "I cannot tell"))
    assert missing == {"numeric_match": 0.0, "no_number": 1.0}
    with pytest.raises(ValueError, match="contains no number"):
        score_item("math", ScoreInput(["seventy"], "72"))


def test_choice_by_label_or_text():
    options = ["red", "green", "blue"]
    assert score_item("choice", ScoreInput(["B"], "green", options))["accuracy"] == 1.0
    assert score_item("choice", ScoreInput(["blue"], "C", options))["accuracy"] == 1.0
    assert score_item("choice", ScoreInput(["A"], "purple", options)) == {"accuracy": 0.0, "no_choice": 1.0}
    with pytest.raises(ValueError, match="neither an option label"):
        score_item("choice", ScoreInput(["purple"], "A", options))


def test_open_rouge_threshold():
    settings = ScoreSettings(rouge_threshold=0.5)
    s = score_item("open", ScoreInput(["Velmora lies on the Oslet river."], "Velmora lies on a river."), settings)
    assert s["rouge_l_acc"] == float(s["rouge_l"] >= 0.5)


def test_aggregate_has_intervals_and_short_subset():
    items = [
        ScoreInput(["Paris"], "Paris"),
        ScoreInput(["Paris"], "London"),
        ScoreInput(["a very long gold answer of many words"], "a very long gold answer of many words"),
    ]
    _, metrics = score_all("extractive", items, ScoreSettings(short_thresh=3))
    out = metrics.to_dict()
    assert out["n"] == 3
    assert out["exact_match"] == pytest.approx(2 / 3, abs=1e-6)
    low, high = out["ci95"]["exact_match"]
    assert low < 2 / 3 < high
    assert out["short"]["n"] == 2
    assert out["short"]["exact_match"] == 0.5


def test_no_short_subset_for_math():
    _, metrics = score_all("math", [ScoreInput(["1"], "1")])
    assert "short" not in metrics.to_dict()
