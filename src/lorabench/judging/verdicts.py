"""From parsed judge outputs to per-item metrics and preference outcomes. Pure functions.

Correctness: judge_correct is 1 for "correct", judge_attempted 1 for "correct" or "incorrect". An
unparseable output scores 0 on both (so it can only hide a gain, never invent one) and is counted.
Preference: each pair is asked in both orders; a side wins only when both orders pick it. Anything
else, a split, a tie or an unparseable order, is a tie. When the judge picks the same position
both times (A then A), its verdict followed the position, not the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lorabench.judging.parse import UNPARSEABLE
from lorabench.results.judged import Judgment, chosen_side, preferred_side

Outcome = Literal["first", "second", "tie", "identical"]


def correctness_scores(grade: str) -> dict[str, float]:
    return {"judge_correct": float(grade == "correct"), "judge_attempted": float(grade in ("correct", "incorrect"))}


def judged_rates(grades: Sequence[str]) -> dict[str, float]:
    """One side's grades as shares: judge_correct, judge_attempted, and the count of unparseable ones."""
    n = len(grades)
    return {
        "judge_correct": sum(g == "correct" for g in grades) / n,
        "judge_attempted": sum(g in ("correct", "incorrect") for g in grades) / n,
        "unparseable": float(sum(g == UNPARSEABLE for g in grades)),
    }


@dataclass(frozen=True)
class PairOutcome:
    """One item's preference between `first` and `second` (e.g. base and tuned)."""

    outcome: Outcome
    first_order: str  # verdict with first as A: A | B | tie | unparseable ("" for identical answers)
    second_order: str  # verdict with second as A
    followed_position: bool  # both orders picked the same letter

    @property
    def both_parsed(self) -> bool:
        return self.outcome != "identical" and UNPARSEABLE not in (self.first_order, self.second_order)

    @property
    def consistent(self) -> bool:
        """The two orders named the same answer (or both a tie)."""
        if not self.both_parsed:
            return False
        return chosen_side(self.first_order, True) == chosen_side(self.second_order, False)


def pair_outcome(first_order: str, second_order: str) -> PairOutcome:
    """Combine the verdict with `first` shown as A and the one with `second` shown as A."""
    outcome: Outcome = preferred_side(first_order, second_order)
    followed = first_order == second_order and first_order in ("A", "B")
    return PairOutcome(outcome, first_order, second_order, followed)


def identical_pair() -> PairOutcome:
    """Two identical answers: a tie the judge is not asked about."""
    return PairOutcome("identical", "", "", False)


def preference_outcomes(ids: Sequence[str], first: str, second: str, judgments: Sequence[Judgment]) -> list[PairOutcome]:
    """Each item's outcome from its two preference judgments (`first` shown as A, then `second`);
    an item without them had two identical answers, which the judge was not asked about."""
    verdicts = {(j.id, j.subject): j.verdict for j in judgments if j.check == "preference"}
    return [pair_outcome(verdicts[(i, first)], verdicts[(i, second)]) if (i, first) in verdicts else identical_pair()
            for i in ids]
