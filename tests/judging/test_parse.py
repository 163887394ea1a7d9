import pytest

from lorabench.judging.parse import parse_grade, parse_preference, reason


@pytest.mark.parametrize(
    ("output", "grade"),
    [
        ("The answer restates the gold.\nVerdict: CORRECT", "correct"),
        ("It names another city.\nVerdict: INCORRECT", "incorrect"),
        ("Verdict: NOT_ATTEMPTED", "not_attempted"),
        ("verdict - not attempted", "not_attempted"),
        ("CORRECT", "correct"),
        ("Incorrect.", "incorrect"),
        ("The answer is not correct.", "incorrect"),
        # The verdict line wins over words earlier in the reasoning.
        ("A correct answer would say Paris; this says Rome.\nVerdict: INCORRECT", "incorrect"),
        # The last verdict line wins (a judge that corrects itself).
        ("Verdict: CORRECT\nOn reflection it contradicts the gold.\nVerdict: INCORRECT", "incorrect"),
    ],
)
def test_grades_read(output, grade):
    assert parse_grade(output) == grade


@pytest.mark.parametrize(
    "output",
    ["", "blah blah", "It could be correct or incorrect.", "Verdict: maybe", "Question: When was"],
)
def test_unclear_grades_are_unparseable_not_guessed(output):
    assert parse_grade(output) is None


@pytest.mark.parametrize(
    ("output", "preference"),
    [
        ("A is shorter and right.\nVerdict: A", "A"),
        ("Verdict: B", "B"),
        ("Both say the same.\nVerdict: TIE", "tie"),
        ("Verdict: (B)", "B"),
        ("A", "A"),
        ("Tie.", "tie"),
        ("**B**", "B"),
    ],
)
def test_preferences_read(output, preference):
    assert parse_preference(output) == preference


@pytest.mark.parametrize(
    "output",
    ["", "a better answer is needed here", "Answer A is good but B is better", "Verdict: A or B", "Verdict: none"],
)
def test_unclear_preferences_are_unparseable(output):
    assert parse_preference(output) is None


def test_reason_drops_the_verdict_line():
    assert reason("It names Rome, not Paris.\nVerdict: INCORRECT\n") == "It names Rome, not Paris."
    assert reason("Verdict: A") == ""
