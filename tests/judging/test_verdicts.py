import pytest

from lorabench.judging.stats import sign_test, summarize_preference
from lorabench.judging.verdicts import correctness_scores, identical_pair, judged_rates, pair_outcome, preference_outcomes
from lorabench.results.judged import Judgment


def test_correctness_scores():
    assert correctness_scores("correct") == {"judge_correct": 1.0, "judge_attempted": 1.0}
    assert correctness_scores("incorrect") == {"judge_correct": 0.0, "judge_attempted": 1.0}
    assert correctness_scores("not_attempted") == {"judge_correct": 0.0, "judge_attempted": 0.0}
    # An unreadable verdict can only hide a gain, never invent one.
    assert correctness_scores("unparseable") == {"judge_correct": 0.0, "judge_attempted": 0.0}


@pytest.mark.parametrize(
    ("first_order", "second_order", "outcome", "followed", "consistent"),
    [
        ("B", "A", "second", False, True),  # tuned shown as B, then as A: tuned both times
        ("A", "B", "first", False, True),
        ("A", "A", "tie", True, False),  # the same position both times: the position decided
        ("B", "B", "tie", True, False),
        ("tie", "tie", "tie", False, True),
        ("B", "tie", "tie", False, False),
        ("B", "unparseable", "tie", False, False),
    ],
)
def test_a_win_needs_both_orders(first_order, second_order, outcome, followed, consistent):
    pair = pair_outcome(first_order, second_order)
    assert (pair.outcome, pair.followed_position, pair.consistent) == (outcome, followed, consistent)


def test_sign_test_is_exact():
    assert sign_test(0, 0) == 1.0
    assert sign_test(6, 0) == pytest.approx(2 * 0.5**6)
    assert sign_test(5, 5) == pytest.approx(1.0)


def test_preference_summary_counts_and_rates():
    outcomes = [pair_outcome("B", "A")] * 7 + [pair_outcome("A", "A")] * 2 + [pair_outcome("B", "unparseable")] + [identical_pair()] * 2
    summary = summarize_preference("base", "tuned", outcomes)
    assert (summary.wins, summary.losses, summary.ties, summary.identical, summary.n) == (7, 0, 5, 2, 12)
    assert summary.p_value == pytest.approx(2 * 0.5**7)
    assert summary.verdict == "better"
    assert (summary.asked, summary.both_parsed, summary.consistent, summary.followed_position) == (10, 9, 7, 2)
    assert summary.position_bias_rate == pytest.approx(2 / 9)
    assert summary.consistency_rate == pytest.approx(7 / 9)
    assert summarize_preference("base", "tuned", [pair_outcome("A", "B")] * 3).verdict == "no significant difference"


def test_rates_and_outcomes_come_from_the_parsed_verdicts():
    rates = judged_rates(["correct", "incorrect", "not_attempted", "unparseable"])
    assert rates == {"judge_correct": 0.25, "judge_attempted": 0.5, "unparseable": 1.0}

    def asked(item: str, subject: str, verdict: str) -> Judgment:
        return Judgment(id=item, check="preference", subject=subject, answers=["x", "y"], verdict=verdict, reason="",
                        raw=verdict, tokens_in=1, tokens_out=1, seconds=0.0, cached=False)

    judgments = [asked("1", "base", "B"), asked("1", "tuned", "A"), asked("2", "base", "A"), asked("2", "tuned", "A")]
    outcomes = preference_outcomes(["1", "2", "3"], "base", "tuned", judgments)
    assert outcomes == [pair_outcome("B", "A"), pair_outcome("A", "A"), identical_pair()]  # item 3 was not asked
