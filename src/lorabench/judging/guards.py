"""The judge is checked before it is believed. Each check is a `Finding`, shown like the run's guards.

- judge_gold: the judge grades the gold answer itself; under GOLD_MIN correct, it is not trustworthy
  on this data and its verdict is not the headline.
- judge_position: the two orders of a preference pair should name the same answer.
- judge_exact_match: an answer that matches the gold exactly should be graded correct.
- judge_unparseable: outputs with no readable verdict, counted (never dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

from lorabench.comparison.guards import Finding
from lorabench.judging.parse import UNPARSEABLE
from lorabench.results.judged import PreferenceSummary

GOLD_MIN = 0.90  # share of gold answers a judge must call correct to be believed
CONSISTENCY_MIN = 0.80  # share of preference pairs whose two orders agree
EM_AGREEMENT_MIN = 0.90  # share of exact matches the judge must call correct


def gold_guard(gold_grades: Sequence[str]) -> Finding:
    n = len(gold_grades)
    correct = sum(g == "correct" for g in gold_grades)
    rate = correct / n if n else 0.0
    details = {"n": n, "correct": correct, "rate": rate, "threshold": GOLD_MIN}
    if n and rate >= GOLD_MIN:
        return Finding("judge_gold", True, f"the judge calls {correct} of {n} gold answers correct ({rate:.0%})", details)
    return Finding(
        "judge_gold", False,
        f"NOT TRUSTWORTHY on this data: the judge calls only {correct} of {n} gold answers correct ({rate:.0%}, "
        f"needs {GOLD_MIN:.0%}); its verdict is not the headline",
        details,
    )


def position_guard(preference: PreferenceSummary | None) -> Finding:
    if preference is None or preference.asked == 0:
        return Finding("judge_position", True, "no pair of differing answers to judge in both orders", {})
    rate, bias = preference.consistency_rate, preference.position_bias_rate
    details = {
        "asked": preference.asked, "both_parsed": preference.both_parsed, "consistent": preference.consistent,
        "followed_position": preference.followed_position, "consistency_rate": rate, "position_bias_rate": bias,
        "threshold": CONSISTENCY_MIN,
    }
    if rate is None:
        return Finding("judge_position", False, f"none of {preference.asked} preference pairs parsed in both orders", details)
    said = (f"the two orders agree on {preference.consistent} of {preference.both_parsed} pairs ({rate:.0%}); "
            f"the verdict followed the position on {preference.followed_position} ({bias:.0%})")
    if rate >= CONSISTENCY_MIN:
        return Finding("judge_position", True, said, details)
    return Finding("judge_position", False, f"position-biased judge: {said}; only pairs both orders agree on count as wins", details)


def exact_match_guard(grades_of_exact_matches: Sequence[str]) -> Finding:
    n = len(grades_of_exact_matches)
    if n == 0:
        return Finding("judge_exact_match", True, "no answer matches its gold exactly; nothing to check", {"n": 0})
    correct = sum(g == "correct" for g in grades_of_exact_matches)
    rate = correct / n
    details = {"n": n, "correct": correct, "rate": rate, "threshold": EM_AGREEMENT_MIN}
    said = f"the judge calls {correct} of {n} exact-match answers correct ({rate:.0%})"
    if rate >= EM_AGREEMENT_MIN:
        return Finding("judge_exact_match", True, said, details)
    return Finding("judge_exact_match", False, f"disagrees with exact match: {said}", details)


def unparseable_guard(verdicts: Sequence[str]) -> Finding:
    n = len(verdicts)
    bad = sum(v == UNPARSEABLE for v in verdicts)
    details = {"n": n, "unparseable": bad}
    if bad == 0:
        return Finding("judge_unparseable", True, f"all {n} judge outputs had a readable verdict", details)
    return Finding(
        "judge_unparseable", False,
        f"{bad} of {n} judge outputs had no readable verdict ({bad / n:.0%}); they count as not correct, "
        "and as ties in preference (judgments.jsonl keeps their raw text)",
        details,
    )
