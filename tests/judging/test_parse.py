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
        # The rubric's own format: the label alone first, then why (which may name other labels).
        ("INCORRECT\nA correct answer would name Paris.", "incorrect"),
        ("Correct: it restates the gold.", "correct"),
        ("NOT_ATTEMPTED.\nIt says it does not know.", "not_attempted"),
        ("**INCORRECT** - the gold says 1889.", "incorrect"),
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
        ("B\nIt names the right town.", "B"),
        ("A: it is shorter and right.", "A"),
        ("TIE\nBoth are right.", "tie"),
    ],
)
def test_preferences_read(output, preference):
    assert parse_preference(output) == preference


@pytest.mark.parametrize(
    "output",
    [
        "", "a better answer is needed here", "Answer A is good but B is better", "Verdict: A or B", "Verdict: none",
        "A better answer would name the town.",  # an article, not a verdict
        "B is better.",  # a sentence about B, not the asked-for line: not guessed
    ],
)
def test_unclear_preferences_are_unparseable(output):
    assert parse_preference(output) is None


def test_reason_drops_the_verdict():
    assert reason("It names Rome, not Paris.\nVerdict: INCORRECT\n") == "It names Rome, not Paris."
    assert reason("Verdict: A") == ""
    assert reason("INCORRECT\nIt names Rome, not Paris.") == "It names Rome, not Paris."
    assert reason("B: it names the town.") == "it names the town."
    assert reason("The passage says so.") == "The passage says so."
