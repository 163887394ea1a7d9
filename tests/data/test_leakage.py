"""Overlap checks between record sets: four kinds, counts, examples, and the allow switch."""

from __future__ import annotations

import json

import pytest

from lorabench.data.leakage import check_leakage, ensure_no_leakage, normalize_text
from lorabench.tasks.choice import ChoiceRecord
from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.tasks.math import MathRecord
from lorabench.tasks.open_answers import OpenRecord
from lorabench.core.errors import LeakageError

LONG_Q = "In which year did the first crewed mission land on the surface of the moon?"


def _math(id: str, question: str) -> MathRecord:
    return MathRecord(id=id, question=question, answer="#### 1")


def _disjoint(prefix: str, n: int) -> list[MathRecord]:
    # Each question uses words unique to its set and index, so no 8-gram can be shared.
    return [_math(f"{prefix}{i}", f"{prefix} item {i} asks {prefix}{i} about {prefix}w{i} and {prefix}z{i} now") for i in range(n)]


def test_normalize_text() -> None:
    assert normalize_text("  What's the   YEAR?!\n") == "whats the year"


def test_no_false_positive_on_disjoint_sets() -> None:
    report = check_leakage(_disjoint("a", 50), _disjoint("b", 50))
    assert not report.has_leakage
    assert all(f.count == 0 for f in report.findings)
    assert report.summary().startswith("No leakage")
    ensure_no_leakage(report, allow=False, what="train vs test")  # does not raise


def test_same_id() -> None:
    report = check_leakage(_disjoint("a", 3), [_math("a1", "Completely different question here?"), _math("b9", "x y")])
    assert report.count("same_id") == 1
    assert report.examples("same_id")[0].b_id == "a1"
    assert report.count("same_question") == 0


def test_same_question_after_normalization() -> None:
    a = [_math("a1", "What is two plus two?"), _math("a2", "Name the capital.")]
    b = [_math("b1", "what is TWO plus two"), _math("b2", "Name   the capital!"), _math("b3", "Unrelated?")]
    report = check_leakage(a, b)
    assert report.count("same_question") == 2
    assert [(e.a_id, e.b_id) for e in report.examples("same_question")] == [("a1", "b1"), ("a2", "b2")]
    assert report.count("near_duplicate_question") == 0


def test_same_context_counts_items_and_ignores_empty_contexts() -> None:
    ctx = "The Eiffel Tower is in Paris. It was built in 1889."
    a = [ExtractiveRecord(id="a1", context=ctx, question="Where is it?", answers=["Paris"])]
    b = [
        ExtractiveRecord(id="b1", context=ctx.upper(), question="When was it built?", answers=["1889"]),
        ExtractiveRecord(id="b2", context=ctx, question="What is in Paris?", answers=["The Eiffel Tower"]),
        ExtractiveRecord(id="b3", context="Another text.", question="Which text?", answers=["Another"]),
    ]
    report = check_leakage(a, b)
    assert report.count("same_context") == 2
    # OpenRecord/ChoiceRecord without context must not all match each other on "".
    open_a = [OpenRecord(id="o1", instruction="Write a poem.", response="Roses.")]
    open_b = [ChoiceRecord(id="c1", question="Pick one.", options=["x", "y"], answer="A")]
    assert check_leakage(open_a, open_b).count("same_context") == 0


def test_near_duplicate_with_one_word_changed() -> None:
    changed = LONG_Q.replace("first", "second")
    report = check_leakage([_math("a1", LONG_Q)], [_math("b1", changed), _math("b2", LONG_Q)])
    assert report.count("near_duplicate_question") == 1  # b2 is identical, counted only there
    assert report.count("same_question") == 1
    example = report.examples("near_duplicate_question")[0]
    assert (example.a_id, example.b_id) == ("a1", "b1")


def test_templated_questions_about_different_entities_are_not_near_duplicates() -> None:
    # Same 8-word template, different names: a shared n-gram, but not the same question.
    a = [_math("a1", "How long in days was the trip of Velka Gormiris to the coast?")]
    b = [_math("b1", "How long in days was the trip of Draess Zenik across the hills?")]
    assert check_leakage(a, b).count("near_duplicate_question") == 0


def test_near_duplicate_found_behind_a_very_common_template_ngram() -> None:
    template = "what is the name of the person who led the"
    a = [_math(f"a{i}", f"{template} guild number {i} in the year {1000 + i}") for i in range(300)]
    b = [_math("b1", f"{template} guild number 250 in the year 1250 exactly")]
    report = check_leakage(a, b)
    assert report.count("near_duplicate_question") == 1
    assert report.examples("near_duplicate_question")[0].a_id == "a250"


def test_short_questions_do_not_near_match() -> None:
    a = [_math("a1", "What is the capital of France?")]
    b = [_math("b1", "What is the capital of Spain?")]  # shares 5 words, fewer than ngram=8
    report = check_leakage(a, b)
    assert not report.has_leakage
    assert check_leakage(a, b, ngram=5).count("near_duplicate_question") == 0  # different questions
    assert check_leakage(a, b, ngram=5, similarity=0.8).count("near_duplicate_question") == 1


def test_counts_are_per_item_and_examples_capped() -> None:
    a = [_math(f"a{i}", f"Question number {i}?") for i in range(10)]
    b = [_math(f"b{i}", f"question number {i}") for i in range(10)]
    report = check_leakage(a, b, max_examples=3)
    assert report.count("same_question") == 10
    assert len(report.examples("same_question")) == 3


def test_summary_and_to_dict_name_examples() -> None:
    report = check_leakage([_math("train-7", LONG_Q)], [_math("test-3", LONG_Q)])
    summary = report.summary()
    assert "identical questions: 1 item(s)" in summary
    assert "test-3 ~ train-7" in summary
    data = json.loads(json.dumps(report.to_dict()))
    assert data["has_leakage"] is True
    assert data["kinds"]["same_question"]["examples"][0] == {
        "a_id": "train-7",
        "b_id": "test-3",
        "snippet": report.examples("same_question")[0].snippet,
    }


def test_ensure_no_leakage_raises_unless_allowed() -> None:
    report = check_leakage([_math("a1", LONG_Q)], [_math("b1", LONG_Q)])
    with pytest.raises(LeakageError) as info:
        ensure_no_leakage(report, allow=False, what="train vs test")
    message = str(info.value)
    assert message.startswith("train vs test:")
    assert "identical questions: 1" in message and "b1 ~ a1" in message
    assert "data.allow_leakage: true" in message
    assert "\n" not in message
    ensure_no_leakage(report, allow=True, what="train vs test")  # permitted explicitly


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ngram"):
        check_leakage([], [], ngram=0)
    with pytest.raises(KeyError):
        check_leakage([], []).count("nope")


def _qa_folder(folder, questions):
    folder.mkdir()
    pairs = [{"question": q, "options": ["yes", "no"], "ground_truth_correct_option": "A"} for q in questions]
    (folder / "qa_1.json").write_text(json.dumps({"qa_pairs": pairs}), encoding="utf-8")
    return folder


def test_qa_folders_numbered_alike_are_not_leakage_unless_their_questions_match(tmp_path):
    from lorabench.data.loaders import load_records
    from lorabench.data.spec import DataSpec

    def load(folder):
        return load_records(DataSpec(path=str(folder), task="choice")).records

    train = load(_qa_folder(tmp_path / "train", [f"Is train fact {i} true?" for i in range(3)]))
    test = load(_qa_folder(tmp_path / "test", [f"Is test claim {i} right?" for i in range(2)]))
    assert {r.id for r in test} <= {r.id for r in train}  # both folders start at qa_1.json
    report = check_leakage(train, test)
    assert not report.has_leakage
    assert report.id_collisions == 2 and report.to_dict()["id_collisions"] == 2
    assert "not leakage" in report.id_collision_warning()
    assert report.summary().startswith("No leakage") and "identical ids on different records (not leakage): 2" in report.summary()
    ensure_no_leakage(report, allow=False, what="train vs test")  # does not raise

    copy = load(_qa_folder(tmp_path / "copy", ["Is train fact 0 true?", "Is test claim 0 right?"]))
    leaked = check_leakage(train, copy)
    assert leaked.has_leakage and leaked.count("same_question") == 1
    assert leaked.id_collisions == 1  # qa_1-0 is the same record (leaked); qa_1-1 names another question
    with pytest.raises(LeakageError, match="identical questions: 1") as info:
        ensure_no_leakage(leaked, allow=False, what="train vs test")
    assert "identical ids" not in str(info.value)


def test_same_id_on_the_same_record_is_counted_as_that_records_leakage_only():
    report = check_leakage([_math("x1", LONG_Q)], [_math("x1", LONG_Q.upper())])
    assert report.has_leakage and report.count("same_question") == 1 and report.id_collisions == 0


def test_chat_records_compare_their_conversations_not_only_the_last_question() -> None:
    def chat(id: str, *earlier: str, system: str = "Be terse.") -> OpenRecord:
        turns = [{"role": "system", "content": system}] + [
            {"role": role, "content": text} for role, text in zip(("user", "assistant") * 4, earlier)]
        return OpenRecord(id=id, instruction="And what about the year after?", response="r", history=turns)

    a = [chat("a1", "Who won the cup in 1986?", "Argentina.")]
    b = [chat("b1", "Who won the cup in 1986?", "Argentina.", system="Answer in French."),  # the same conversation
         chat("b2", "How tall was the tallest tower in 1986?", "300 m.")]  # the same follow-up only
    report = check_leakage(a, b)
    assert report.count("same_question") == 1 and report.examples("same_question")[0].b_id == "b1"
    assert report.count("near_duplicate_question") == 0
