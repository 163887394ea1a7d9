import pytest

from lorabench.core.kinds import get_task
from lorabench.data.records import TaskKind
from lorabench.metrics.scoring import TASK_METRICS, ScoreInput, ScoreSettings, aggregate, score_all, score_item, task_metrics


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


def test_task_metrics_aggregate_the_items_and_the_short_answer_subset_of_their_golds():
    per_item = [score_item("open", ScoreInput([g], p)) for g, p in (("Paris", "Paris"), ("Rome", "Oslo"), ("a b c d e", "a b"))]
    golds = [["Paris"], ["Rome"], ["a b c d e"]]
    settings = ScoreSettings(short_thresh=3, bootstrap_resamples=100)
    metrics = task_metrics(get_task("open"), per_item, golds, settings)
    assert (metrics.task, metrics.n, metrics.settings) == (TaskKind.open, 3, settings)
    assert metrics.metrics == aggregate("open", per_item, settings)
    assert metrics.short is not None and metrics.short.n == 2
    assert metrics.short.metrics == aggregate("open", per_item[:2], settings)  # the golds of at most 3 tokens
    assert task_metrics(get_task("math"), [{"numeric_match": 1.0, "no_number": 0.0}], [["1"]]).short is None


TEXT_METRICS = ("exact_match", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc")


@pytest.mark.parametrize("gold, prediction", [("amazon river.", "The Amazon River"), ("The Amazon River", "amazon river.")])
def test_open_one_normalization_for_every_metric(gold, prediction):
    scores = score_item("open", ScoreInput([gold], prediction))
    assert {name: scores[name] for name in TEXT_METRICS} == {name: 1.0 for name in TEXT_METRICS}


def test_open_relaxed_match_at_token_boundaries():
    assert set(TASK_METRICS[TaskKind.open]) == set(score_item("open", ScoreInput(["x"], "x")))
    assert "relaxed_match" in TASK_METRICS[TaskKind.open]
    in_sentence = score_item("open", ScoreInput(["1889"], "It opened in 1889."))
    assert in_sentence["exact_match"] == 0.0 and in_sentence["relaxed_match"] == 1.0
    assert score_item("open", ScoreInput(["1889"], "1"))["relaxed_match"] == 0.0
    assert score_item("open", ScoreInput(["1889"], "in 18890"))["relaxed_match"] == 0.0
    assert score_item("open", ScoreInput(["1889"], ""))["relaxed_match"] == 0.0
    long_gold = ["Velmora lies on the Oslet river"]
    assert score_item("open", ScoreInput(long_gold, "Velmora"), ScoreSettings(short_thresh=3))["relaxed_match"] == 0.0


def test_extractive_looser_metrics_share_the_official_normalization():
    scores = score_item(TaskKind.extractive, ScoreInput(["the Main Building"], "Main Building."))
    assert {name: scores[name] for name in ("f1", *TEXT_METRICS)} == {name: 1.0 for name in ("f1", *TEXT_METRICS)}
    # "the" and "a" are not words of either answer: P = 2/3, R = 1 on every F1
    partial = score_item(TaskKind.extractive, ScoreInput(["the Main Building"], "a Main Building wall"))
    assert partial["f1"] == pytest.approx(0.8)
    assert partial["token_f1"] == pytest.approx(0.8)


def test_extractive_unanswerable_counts_an_article_only_answer_as_empty():
    # Official EM normalizes "The." to the empty answer; ROUGE-L now agrees.
    scores = score_item(TaskKind.extractive, ScoreInput([], "The."))
    assert scores["exact_match"] == 1.0 and scores["rouge_l"] == 1.0
    assert score_item(TaskKind.extractive, ScoreInput([], "Paris"))["rouge_l"] == 0.0
