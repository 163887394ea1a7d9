import pytest

from lorabench.metrics.text import is_short, lenient_match, relaxed_match, rouge_l, token_f1


def test_relaxed_short_gold_containment_both_ways():
    assert relaxed_match("in the year 1889", ["1889"], short_thresh=3) == 1.0
    assert relaxed_match("Tower", ["Eiffel Tower"], short_thresh=3) == 1.0


def test_relaxed_respects_token_boundaries_and_empty_prediction():
    assert relaxed_match("1", ["1889"], short_thresh=3) == 0.0
    assert relaxed_match("", ["1889"], short_thresh=3) == 0.0


def test_relaxed_long_gold_needs_exact_match():
    gold = ["a long answer with many words in it"]
    assert relaxed_match("long answer", gold, short_thresh=3) == 0.0
    assert relaxed_match("A long answer, with many words in it.", gold, short_thresh=3) == 1.0


def test_lenient_gold_inside_prediction_only():
    assert lenient_match("It was completed in 1889.", ["1889"]) == 1.0
    assert lenient_match("1889", ["completed in 1889"]) == 0.0
    assert lenient_match("", []) == 1.0


def test_token_f1_keeps_articles():
    # SQuAD F1 would drop "the"; plain token F1 keeps it: P = 1/2, R = 1 -> 2/3
    assert token_f1("the cat", ["cat"]) == pytest.approx(2 / 3)
    assert token_f1("Cat!", ["cat"]) == 1.0
    assert token_f1("", ["cat"]) == 0.0


def test_rouge_l_uses_longest_common_subsequence():
    # LCS("the cat sat on the mat", "the cat on the mat") = 5 tokens: P = 5/5, R = 5/6
    assert rouge_l("the cat on the mat", ["the cat sat on the mat"]) == pytest.approx(2 * 1 * (5 / 6) / (1 + 5 / 6))
    assert rouge_l("x", ["y", "x"]) == 1.0


def test_is_short():
    assert is_short("the Main Building", 2)
    assert not is_short("one two three four", 3)
