"""Paired statistics of judged results: McNemar on judge_correct / judge_attempted (as for exact
match), and an exact sign test on preference wins against losses (ties carry no sign)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

from lorabench.comparison.paired import MetricComparison, compare_metric
from lorabench.judging.verdicts import PairOutcome

JUDGE_METRICS = ("judge_correct", "judge_attempted")


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test (binomial, p = 1/2) of wins against losses; 1.0 with neither."""
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


@dataclass(frozen=True)
class PreferenceSummary:
    """Which side the judge preferred, counted over the items, and how much position mattered."""

    first: str  # e.g. "base"
    second: str  # e.g. "tuned"
    n: int
    wins: int  # second (tuned) preferred in both orders
    losses: int  # first (base) preferred in both orders
    ties: int  # everything else, identical answers included
    identical: int  # answers equal: a tie without asking the judge
    p_value: float  # exact sign test, wins vs losses
    verdict: str  # "better", "worse" or "no significant difference" (of second against first)
    asked: int  # items whose two answers differed (judged in both orders)
    both_parsed: int  # ... whose two verdicts both parsed
    consistent: int  # ... which named the same answer (or tie) in both orders
    followed_position: int  # ... which picked the same letter in both orders
    alpha: float = 0.05

    @property
    def position_bias_rate(self) -> float | None:
        """Share of the parsed pairs where the verdict followed the position, not the answer."""
        return self.followed_position / self.both_parsed if self.both_parsed else None

    @property
    def consistency_rate(self) -> float | None:
        return self.consistent / self.both_parsed if self.both_parsed else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "position_bias_rate": self.position_bias_rate, "consistency_rate": self.consistency_rate}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "PreferenceSummary":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def summarize_preference(first: str, second: str, outcomes: Sequence[PairOutcome], alpha: float = 0.05) -> PreferenceSummary:
    wins = sum(o.outcome == "second" for o in outcomes)
    losses = sum(o.outcome == "first" for o in outcomes)
    identical = sum(o.outcome == "identical" for o in outcomes)
    p = sign_test(wins, losses)
    verdict = "no significant difference" if p >= alpha or wins == losses else ("better" if wins > losses else "worse")
    return PreferenceSummary(
        first, second, len(outcomes), wins, losses, len(outcomes) - wins - losses, identical, p, verdict,
        asked=len(outcomes) - identical, both_parsed=sum(o.both_parsed for o in outcomes),
        consistent=sum(o.consistent for o in outcomes), followed_position=sum(o.followed_position for o in outcomes),
        alpha=alpha,
    )


def compare_judged(
    base: Sequence[dict[str, float]], tuned: Sequence[dict[str, float]], alpha: float = 0.05
) -> list[MetricComparison]:
    """McNemar's exact test on each judged metric, items in the same order on both sides."""
    return [
        compare_metric(metric, [s[metric] for s in base], [s[metric] for s in tuned], alpha, binary=True, lower_is_better=False)
        for metric in JUDGE_METRICS
    ]
