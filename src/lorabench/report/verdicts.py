"""Plain-language verdicts: better, worse, or no significant difference, and what the test set could see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lorabench.comparison.lm_eval_compare import PairedLmEvalRuns
from lorabench.comparison.paired import POWER, MetricComparison
from lorabench.config.judge import JUDGE_PRIMARY
from lorabench.results.outcomes import RetentionVerdicts

VERDICT_CSS = {"better": "better", "worse": "worse"}  # the report's class of a verdict; anything else is "ns"


def _points(value: float) -> str:
    return f"{100 * value:+.1f} points"


def evidence(c: MetricComparison) -> str:
    """The numbers behind a verdict: changed items or the interval of the change, and the p-value."""
    if c.improved is not None:
        unchanged = "" if c.unchanged is None else f", {c.unchanged} unchanged"
        detail = f"{c.improved} items improved, {c.regressed} regressed{unchanged}; McNemar exact p = {c.p_value:.2g}"
    else:
        level = f"{100 * c.confidence:.3g}% CI"
        interval = "" if c.ci_low is None else f"{level} [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]; "
        detail = f"{interval}paired bootstrap p = {c.p_value:.2g}"
    if c.p_adjusted is not None:
        detail += f", Holm-adjusted p = {c.p_adjusted:.2g}"
    return f"{_points(c.difference)} ({detail})"


def detectable(c: MetricComparison) -> str:
    """Says out loud how small a change this test set could have shown."""
    if c.min_detectable is None:
        return "every item changed by the same amount, so there is no spread to test against"
    return (
        f"with {c.n} items this test detects only changes of about {100 * c.min_detectable:.1f} points or more "
        f"({100 * POWER:.0f}% power)"
    )


def verdict_detail(c: MetricComparison, before: str = "base", after: str = "tuned") -> str:
    """What follows the verdict: both values, the change with its evidence, and for a null result
    the smallest change the test set could have shown."""
    detail = f"{before} {100 * c.base:.1f}% -> {after} {100 * c.tuned:.1f}%, {evidence(c)}"
    return f"{detail}; {detectable(c)}" if c.verdict == "no significant difference" else detail


def verdict_sentence(c: MetricComparison, before: str = "base", after: str = "tuned") -> str:
    """One line per metric, e.g. 'exact_match: better, base 0.0% -> tuned 80.0%, +80.0 points (...)'."""
    return f"{c.metric}: {c.verdict}, {verdict_detail(c, before, after)}"


def multiplicity_sentence(verdict: Mapping[str, Any]) -> str:
    """Which metric decides the verdict, and how far to trust the others: with k metrics tested,
    one of them can come out "better" by chance alone. `verdict` is the run's as `run_verdict` made
    it (summary.json's `verdict`), whose figures the sentence says in words."""
    k = verdict["metrics_tested"]
    if verdict["primary_metric"] is None or k == 0:
        return ""
    metric, alpha = verdict["primary_metric"], verdict["alpha"]
    which = "metrics.primary, graded by the judge" if metric == JUDGE_PRIMARY else "the task's primary metric"
    head = f"verdict: {verdict['verdict']} on {metric}, {which}"
    if k == 1:
        return head
    how = ("their p-values are Holm-adjusted (metrics.correction: holm)" if verdict["correction"] == "holm"
           else "not adjusted for multiple testing (metrics.correction: holm adjusts them)")
    return (f"{head}; the other {k - 1} are secondary, {how}. {k} metrics tested at alpha {alpha:g}: with no real "
            f"change, the chance of at least one false \"better\" among them is up to {100 * verdict['false_better_chance']:.0f}%")


RETENTION_TITLE = "Did the fine-tune hurt general ability?"


def tradeoff_sentence(target: Sequence[MetricComparison], retention: Sequence[MetricComparison]) -> str | None:
    """Said out loud when a significant gain on the target task came with a significant loss on a retention task."""
    gains = [c.metric for c in target if c.verdict == "better"]
    losses = [c for c in retention if c.verdict == "worse"]
    if not (gains and losses):
        return None
    lost = "; ".join(f"{c.metric} {100 * c.base:.1f}% -> {100 * c.tuned:.1f}% (p = {c.p_value:.2g})" for c in losses)
    return f"the gain on the target task ({', '.join(gains)}) came with a significant loss elsewhere: {lost}"


def retention_verdicts(target: Sequence[MetricComparison], retention: PairedLmEvalRuns) -> RetentionVerdicts:
    """The retention section's words: base vs tuned per lm-eval task and metric, and the trade-off
    when a gain on the target task (`target`, its comparisons) came with a loss there."""
    return RetentionVerdicts(
        title=RETENTION_TITLE, items=dict(retention.items),
        sentences=[verdict_sentence(c) for c in retention.comparisons], notes=list(retention.notes),
        tradeoff=tradeoff_sentence(target, retention.comparisons),
    )
