import random
import re
import string
from collections import Counter

import pytest

from lorabench.metrics.squad import exact_match, f1_score, normalize_answer


# The SQuAD v1.1 official evaluation script's definitions, kept verbatim in spirit as the oracle.
def official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(prediction, ground_truth):
    prediction_tokens = official_normalize(prediction).split()
    ground_truth_tokens = official_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_em(prediction, ground_truth):
    return official_normalize(prediction) == official_normalize(ground_truth)


def official_max(fn, prediction, ground_truths):
    return max(fn(prediction, gt) for gt in ground_truths)


def test_main_building_with_article_is_exact():
    assert exact_match("Main Building", ["the Main Building"]) == 1.0
    assert f1_score("Main Building", ["the Main Building"]) == 1.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The  Eiffel Tower!", "eiffel tower"),
        ("an apple, a pear", "apple pear"),
        ("Theatre", "theatre"),  # 'the' only as a whole word
        ("U.S.A.", "usa"),
        ("  1,889 ", "1889"),
    ],
)
def test_normalization_steps(text, expected):
    assert normalize_answer(text) == expected


def test_f1_hand_worked():
    # pred tokens {denver, broncos, won}, gold {denver, broncos}: P = 2/3, R = 1, F1 = 0.8
    assert f1_score("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    # multiset overlap: "the the cat" -> [cat]; repeated tokens only count as often as in both
    assert f1_score("cat cat dog", ["cat"]) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert f1_score("nothing shared", ["Carolina Panthers"]) == 0.0


def test_max_over_golds():
    golds = ["Denver Broncos", "the Broncos", "Broncos"]
    assert exact_match("broncos", golds) == 1.0
    assert f1_score("Denver", golds) == pytest.approx(2 * 1 * 0.5 / 1.5)


def test_squad_v2_unanswerable():
    assert exact_match("", []) == 1.0
    assert f1_score("", []) == 1.0
    assert exact_match("Paris", []) == 0.0
    assert f1_score("Paris", []) == 0.0
    # an answerable question answered with nothing scores zero
    assert f1_score("", ["Paris"]) == 0.0


def test_agrees_with_official_script_on_random_strings():
    rng = random.Random(0)
    vocab = ["the", "a", "an", "Cat", "cat.", "dog", "1889", "U.S.", "main", "Building", ",", "!", "New-York", "é"]
    for _ in range(2000):
        pred = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))
        golds = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 3))]
        if not all(official_normalize(g) for g in golds) or not official_normalize(pred):
            continue  # v1.1 never sees empty normalized answers; v2 rules cover those (tested above)
        assert exact_match(pred, golds) == float(official_max(official_em, pred, golds))
        assert f1_score(pred, golds) == pytest.approx(official_max(official_f1, pred, golds))
