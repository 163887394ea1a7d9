"""Paired statistics of judged results: McNemar on judge_correct / judge_attempted (as for exact
match), and an exact sign test on preference wins against losses (ties carry no sign)."""

from __future__ import annotations

from collections.abc import Sequence

from scipy import stats

from lorabench.comparison.paired import MetricComparison, compare_metric
from lorabench.judging.verdicts import PairOutcome
from lorabench.results.judged import JUDGE_METRICS, PreferenceSummary


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test (binomial, p = 1/2) of wins against losses; 1.0 with neither."""
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def summarize_preference(first: str, second: str, outcomes: Sequence[PairOutcome], alpha: float = 0.05) -> PreferenceSummary:
    wins = sum(o.outcome == "second" for o in outcomes)
    losses = sum(o.outcome == "first" for o in outcomes)
    identical = sum(o.outcome == "identical" for o in outcomes)
    p = sign_test(wins, losses)
    verdict = "no significant difference" if p >= alpha or wins == losses else ("better" if wins > losses else "worse")
    return PreferenceSummary(
        first=first, second=second, n=len(outcomes), wins=wins, losses=losses, ties=len(outcomes) - wins - losses,
        identical=identical, p_value=p, verdict=verdict, asked=len(outcomes) - identical,
        both_parsed=sum(o.both_parsed for o in outcomes), consistent=sum(o.consistent for o in outcomes), followed_position=sum(o.followed_position for o in outcomes),
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
