from lorabench.comparison.items import CATEGORIES, category_counts, change_counts, error_category, pair_items, sibling_golds


def _row(prediction, gold, em=0.0, cut=False, item_id="q", **scores):
    return {"id": item_id, "prediction": prediction, "gold": gold, "hit_max_new_tokens": cut,
            "scores": {"exact_match": em, **scores}}


def test_extractive_categories():
    assert error_category("extractive", _row("Bremora", ["Bremora"], em=1.0)) is None
    assert error_category("extractive", _row("", ["Bremora"])) == "empty"
    assert error_category("extractive", _row("Miress grew up in the town", ["Bremora"], cut=True)) == "cut"
    assert error_category("extractive", _row("She grew up in the town of Bremora", ["Bremora"])) == "verbose"
    # two words around a one-word gold is not "much longer": the answer only half-overlaps
    assert error_category("extractive", _row("town Bremora", ["Bremora"])) == "partial"
    assert error_category("extractive", _row("the Belosa river", ["the Belosa valley"])) == "partial"
    assert error_category("extractive", _row("Othdunholt", ["Bremora"])) == "wrong"
    assert error_category("extractive", _row("1845", ["1831"])) == "wrong"
    assert error_category("extractive", _row("Bremora", [])) == "answered_unanswerable"


def test_math_and_choice_format_violations():
    assert error_category("math", {"prediction": "I do not know", "gold": ["12"], "scores": {"numeric_match": 0.0, "no_number": 1.0}}) == "format"
    assert error_category("math", {"prediction": "#### 13", "gold": ["12"], "scores": {"numeric_match": 0.0, "no_number": 0.0}}) == "wrong"
    assert error_category("choice", {"prediction": "", "gold": ["B"], "scores": {"accuracy": 0.0, "no_choice": 1.0}}) == "empty"
    assert error_category("choice", {"prediction": "maybe", "gold": ["B"], "scores": {"accuracy": 0.0, "no_choice": 1.0}}) == "format"
    assert error_category("choice", {"prediction": "C", "gold": ["B"], "scores": {"accuracy": 0.0, "no_choice": 0.0}}) == "wrong"


def test_pairs_label_changes_and_count_categories_before_and_after():
    base = [_row("Bremora", ["Bremora"], 1.0, item_id="a"), _row("", ["Kaulow"], item_id="b"),
            _row("x y z Rinen", ["Rinen"], item_id="c"), _row("Paris", ["Rome"], item_id="d")]
    tuned = [_row("Rome", ["Bremora"], item_id="a"), _row("Kaulow", ["Kaulow"], 1.0, item_id="b"),
             _row("Rinen", ["Rinen"], 1.0, item_id="c"), _row("Rome", ["Rome"], 1.0, item_id="d")][::-1]
    pairs = pair_items("extractive", base, tuned, questions={"a": "Where?"})
    assert [p.id for p in pairs] == ["a", "b", "c", "d"]  # the base's order, whatever the tuned order
    assert [p.change for p in pairs] == ["regressed", "improved", "improved", "improved"]
    assert pairs[0].question == "Where?" and pairs[0].tuned_category == "wrong"
    assert change_counts(pairs) == {"improved": 3, "regressed": 1, "still_wrong": 0, "still_right": 0}
    before, after = category_counts("extractive", base), category_counts("extractive", tuned)
    assert list(before) == list(CATEGORIES)
    assert before["empty"] == 1 and before["verbose"] == 1 and before["wrong"] == 1 and sum(before.values()) == 3
    assert after == {**{k: 0 for k in CATEGORIES}, "wrong": 1}
    row = pairs[1].to_row(["exact_match"])
    assert row["change"] == "improved" and row["base_exact_match"] == 0.0 and row["tuned_exact_match"] == 1.0


def test_an_answer_to_another_question_on_the_same_context_is_a_mix_up():
    records = [{"id": "a", "context": "P", "answers": ["Kabrevik"]}, {"id": "b", "context": "P", "answers": ["Velvale"]},
               {"id": "c", "context": "Q", "answers": ["Rome"]}]
    siblings = sibling_golds(records)
    assert siblings == {"a": ["Velvale"], "b": ["Kabrevik"], "c": []}
    swapped = _row("Velvale", ["Kabrevik"], item_id="a")
    assert error_category("extractive", swapped, siblings["a"]) == "other_question"
    assert error_category("extractive", swapped) == "wrong"  # without the context's other answers
    assert category_counts("extractive", [swapped], siblings)["other_question"] == 1
    assert pair_items("extractive", [swapped], [swapped], siblings=siblings)[0].tuned_category == "other_question"
