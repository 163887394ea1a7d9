from lorabench.judging.guards import exact_match_guard, gold_guard, position_guard, unparseable_guard
from lorabench.judging.stats import summarize_preference
from lorabench.judging.verdicts import pair_outcome


def test_gold_guard_flags_a_judge_under_ninety_percent():
    assert gold_guard(["correct"] * 9 + ["incorrect"]).ok
    flagged = gold_guard(["correct"] * 8 + ["incorrect", "unparseable"])
    assert not flagged.ok
    assert "NOT TRUSTWORTHY" in flagged.message and "8 of 10" in flagged.message
    assert not gold_guard([]).ok


def test_position_guard():
    consistent = summarize_preference("base", "tuned", [pair_outcome("B", "A")] * 9 + [pair_outcome("A", "A")])
    assert position_guard(consistent).ok
    biased = summarize_preference("base", "tuned", [pair_outcome("A", "A")] * 6 + [pair_outcome("B", "A")] * 4)
    finding = position_guard(biased)
    assert not finding.ok and "position-biased" in finding.message
    assert finding.details["position_bias_rate"] == 0.6
    assert position_guard(None).ok


def test_exact_match_guard():
    assert exact_match_guard([]).ok
    assert exact_match_guard(["correct"] * 10).ok
    assert not exact_match_guard(["correct", "incorrect"]).ok


def test_unparseable_guard_counts():
    assert unparseable_guard(["correct", "A"]).ok
    finding = unparseable_guard(["correct", "unparseable", "unparseable", "B"])
    assert not finding.ok and finding.details["unparseable"] == 2 and "2 of 4" in finding.message
