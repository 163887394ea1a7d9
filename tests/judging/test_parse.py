import pytest

from lorabench.judging.cache import Completion
from lorabench.judging.parse import UNPARSEABLE, parse_grade, parse_preference, read_judgment, reason


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


def test_a_judgment_keeps_the_whole_output_its_verdict_and_its_cost():
    graded = read_judgment(Completion("INCORRECT - it names Rome", 12, 5, 0.5), "correctness", "item-1", "tuned", ["Rome"], cached=False)
    assert (graded.id, graded.subject, graded.verdict, graded.reason) == ("item-1", "tuned", "incorrect", "it names Rome")
    assert (graded.raw, graded.tokens_in, graded.tokens_out, graded.seconds, graded.cached) == ("INCORRECT - it names Rome", 12, 5, 0.5, False)
    preferred = read_judgment(Completion("Verdict: B", 1, 1, 0.0), "preference", "item-1", "base", ["a", "b"], cached=True)
    assert preferred.verdict == "B" and preferred.cached
    unclear = read_judgment(Completion("Hard to say.", 1, 1, 0.0), "preference", "item-1", "base", ["a", "b"], cached=True)
    assert unclear.verdict == UNPARSEABLE and unclear.raw == "Hard to say."
