"""Paired comparison of two evaluations of the same items (base vs tuned).

Both models answered the same questions, so each item is its own control: binary metrics use
McNemar's exact test on the items that changed; continuous metrics a seeded paired bootstrap of
the mean difference. Unpaired tests would throw that information away.

A run tests several metrics at once: one (the primary) is its verdict, and the others are read as
a family, under Holm's adjustment when metrics.correction asks for it (`with_roles`).

Which metric is the primary is the run's `choose_headline`: metrics.primary may name judge_correct
for a kind a judge grades. It is the headline only when the judge passed its gold check; otherwise
the task's own primary metric decides, and the run says why (in the output, summary.json's verdict
and the report). Every metric tested, judged or not, counts in the multiple-testing note, and Holm
(metrics.correction) adjusts them as one family.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from scipy import stats

from lorabench.config.judge import JUDGE_PRIMARY
from lorabench.config.settings import MetricSettings
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task
from lorabench.metrics.scoring import LOWER_IS_BETTER, PROPORTIONS, in_short_subset
from lorabench.results.judged import JudgeResult
from lorabench.runs.predictions import PredictionRow


@dataclass(frozen=True)
class MetricComparison:
    """One metric, base vs tuned, on the same n items."""

    metric: str
    n: int
    base: float
    tuned: float
    difference: float  # tuned - base
    p_value: float
    test: str  # "mcnemar_exact" or "paired_bootstrap"
    verdict: str  # "better", "worse" or "no significant difference"
    improved: int | None = None  # binary metrics: items wrong before and right after
    regressed: int | None = None  # ... right before and wrong after
    unchanged: int | None = None  # ... the same score before and after
    ci_low: float | None = None  # continuous metrics: 95% interval of the difference
    ci_high: float | None = None
    # The smallest true difference this test set would detect with POWER (see min_detectable_*);
    # None when the data cannot tell (every paired difference identical).
    min_detectable: float | None = None
    alpha: float = 0.05  # the verdict's significance level; the interval is at 1 - alpha
    role: str | None = None  # "primary" (the task's primary metric: the run's verdict) or "secondary"
    p_adjusted: float | None = None  # secondary metrics under metrics.correction: holm; the verdict reads it

    @property
    def confidence(self) -> float:
        """The interval's level: 0.95 at alpha 0.05."""
        return 1 - self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


POWER = 0.8


def _z_sum(alpha: float, power: float = POWER) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def min_discordant_for_significance(alpha: float) -> int:
    """Fewest changed items that McNemar's exact test can call significant, all changing one way:
    the two-sided p-value of k out of k is 2 * 0.5**k."""
    k = 1
    while 2 * 0.5**k >= alpha:
        k += 1
    return k


def min_detectable_proportion(n: int, discordant: int, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest difference in a paired proportion that n items can show.

    Normal approximation of McNemar's test: the difference (b - c) / n has a standard error of
    about sqrt(d / n) with d the discordant share, so (z_alpha/2 + z_power) * sqrt(d / n). It can
    never be below the exact floor (k items all improving, k the fewest that can be significant),
    which is also the answer when no item changed: 15 items cannot show a gain under 6/15 = 40 points.
    """
    floor = min_discordant_for_significance(alpha) / n
    if discordant == 0:
        return min(1.0, floor)
    return min(1.0, max(floor, _z_sum(alpha, power) * math.sqrt(discordant / n / n)))


def min_detectable_mean(diffs: Sequence[float], alpha: float = 0.05, power: float = POWER) -> float | None:
    """Smallest mean paired difference detectable: (z_alpha/2 + z_power) * sd(diffs) / sqrt(n)."""
    values = np.asarray(diffs, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return None
    return float(_z_sum(alpha, power) * values.std(ddof=1) / math.sqrt(len(values)))


def mcnemar_exact(improved: int, regressed: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    discordant = improved + regressed
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(improved, discordant, 0.5).pvalue)


def paired_bootstrap(
    base: Sequence[float], tuned: Sequence[float], resamples: int = 10_000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float, float, float]:
    """Mean difference (tuned - base), its 1 - alpha percentile interval (95% at alpha 0.05) and a
    two-sided bootstrap p-value.

    Items are resampled as pairs, which keeps the correlation between the two models' scores.
    """
    diffs = np.asarray(tuned, dtype=float) - np.asarray(base, dtype=float)
    observed = float(diffs.mean())
    if np.all(diffs == diffs[0]):
        return observed, observed, observed, (1.0 if observed == 0 else 0.0)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(diffs))  # bound memory for large test sets
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, len(diffs), size=(stop - start, len(diffs)))
        means[start:stop] = diffs[idx].mean(axis=1)
    low, high = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    # (k + 1) / (B + 1): B resamples cannot show a p-value below 1 / (B + 1), so never report 0.
    tail = min(int(np.sum(means <= 0)), int(np.sum(means >= 0)))
    p = 2 * (tail + 1) / (resamples + 1)
    return observed, float(low), float(high), min(1.0, p)


def _verdict(difference: float, p_value: float, lower_is_better: bool, alpha: float) -> str:
    if p_value >= alpha or difference == 0:
        return "no significant difference"
    better = difference < 0 if lower_is_better else difference > 0
    return "better" if better else "worse"


def compare_metric(
    metric: str, base: Sequence[float], tuned: Sequence[float], alpha: float = 0.05, resamples: int = 10_000, seed: int = 0,
    binary: bool | None = None, lower_is_better: bool | None = None,
) -> MetricComparison:
    """`binary` and `lower_is_better` default to what lorabench knows of its own metric names;
    metrics named elsewhere (lm-eval's `acc`) say them explicitly."""
    if len(base) != len(tuned) or not base:
        raise ValueError("paired comparison needs two equally long, non-empty score lists")
    n = len(base)
    base_mean, tuned_mean = sum(base) / n, sum(tuned) / n
    binary = metric in PROPORTIONS if binary is None else binary
    lower = metric in LOWER_IS_BETTER if lower_is_better is None else lower_is_better
    if binary:
        improved = sum(1 for b, t in zip(base, tuned) if t > b)
        regressed = sum(1 for b, t in zip(base, tuned) if t < b)
        p = mcnemar_exact(improved, regressed)
        diff = tuned_mean - base_mean
        return MetricComparison(
            metric, n, base_mean, tuned_mean, diff, p, "mcnemar_exact", _verdict(diff, p, lower, alpha), improved, regressed,
            unchanged=n - improved - regressed, min_detectable=min_detectable_proportion(n, improved + regressed, alpha),
            alpha=alpha,
        )
    diff, low, high, p = paired_bootstrap(base, tuned, resamples, seed, alpha)
    return MetricComparison(
        metric, n, base_mean, tuned_mean, diff, p, "paired_bootstrap", _verdict(diff, p, lower, alpha), ci_low=low, ci_high=high,
        min_detectable=min_detectable_mean([t - b for b, t in zip(base, tuned)], alpha), alpha=alpha,
    )


CORRECTIONS = ("none", "holm")


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Comparing an adjusted value with alpha controls the chance of any false "better" among the
    family at alpha, without assuming the tests are independent (they are not: metrics of one run
    share items). The adjusted value of the k-th smallest p (0-based) is the running maximum of
    (m - k) * p, capped at 1, so adjusted values keep the order of the raw ones.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return adjusted


def with_roles(
    comparisons: Sequence[MetricComparison], primary: str, correction: str = "none"
) -> list[MetricComparison]:
    """The task's primary metric marked as the verdict, every other as secondary. Under
    `correction: holm` the secondary metrics' p-values are Holm-adjusted as one family (the
    primary one, chosen before looking, is tested alone) and their verdicts read the adjusted value."""
    if correction not in CORRECTIONS:
        raise LorabenchError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")
    secondary = [c for c in comparisons if c.metric != primary]
    adjusted = dict(zip((c.metric for c in secondary), holm_adjust([c.p_value for c in secondary]))) if correction == "holm" else {}
    marked = []
    for c in comparisons:
        if c.metric == primary:
            marked.append(replace(c, role="primary"))
        elif c.metric in adjusted:
            p = adjusted[c.metric]
            lower = c.metric in LOWER_IS_BETTER
            marked.append(replace(c, role="secondary", p_adjusted=p, verdict=_verdict(c.difference, p, lower, c.alpha)))
        else:
            marked.append(replace(c, role="secondary"))
    return marked


def false_better_chance(k: int, alpha: float) -> float:
    """The chance that at least one of k two-sided tests at alpha calls "better" when nothing
    changed, were the tests independent (each does with probability alpha / 2). Metrics of one run
    share items, so their tests are positively correlated and the true chance is lower: an upper
    figure, to read the secondary verdicts by."""
    return 1 - (1 - alpha / 2) ** k


def run_verdict(comparisons: Sequence[MetricComparison], alpha: float, correction: str = "none") -> dict[str, Any]:
    """What a run concludes: its primary metric's verdict, and how many metrics were tested beside it."""
    primary = next((c for c in comparisons if c.role == "primary"), None)
    return {
        "primary_metric": primary.metric if primary else None,
        "verdict": primary.verdict if primary else None,
        "metrics_tested": len(comparisons),
        "alpha": alpha,
        "correction": correction,
        "false_better_chance": false_better_chance(len(comparisons), alpha),
    }


@dataclass(frozen=True)
class Headline:
    """Which metric's verdict is the run's, and every comparison with its role."""

    primary: str
    requested: str | None  # metrics.primary as configured (None: the task's own)
    note: str | None  # why the requested metric is not the headline
    comparisons: list[MetricComparison]  # the task's metrics
    judged: list[MetricComparison]  # the judge's ([] without a judge)

    def verdict(self, alpha: float, correction: str) -> dict[str, Any]:
        verdict = run_verdict([*self.judged, *self.comparisons], alpha, correction)
        if self.requested is not None:
            verdict["requested_primary"] = self.requested
        if self.note is not None:
            verdict["note"] = self.note
        return verdict


def choose_headline(
    task: Task, metrics: MetricSettings, comparisons: Sequence[MetricComparison], judged: JudgeResult | None
) -> Headline:
    """The headline of a run of `task` (the run's Task, resolved once) under its `metrics` settings."""
    own = task.primary_metric
    requested = metrics.primary
    primary, note = requested or own, None
    if primary == JUDGE_PRIMARY and (judged is None or not judged.trustworthy):
        gold = next((g.message for g in judged.guards if g.name == "judge_gold"), "") if judged else "no judgment"
        note = (f"metrics.primary is {JUDGE_PRIMARY}, but the judge is not trustworthy on this data ({gold}): "
                f"the verdict is {own}'s")
        primary = own
    judged_comparisons = [comparison_from_dict(c.model_dump()) for c in judged.comparisons] if judged is not None else []
    marked = with_roles([*judged_comparisons, *comparisons], primary, metrics.correction)
    return Headline(primary, requested, note, marked[len(judged_comparisons):], marked[:len(judged_comparisons)])


def compare_rows(
    task: Task,
    base_rows: Sequence[PredictionRow],
    tuned_rows: Sequence[PredictionRow],
    alpha: float = 0.05,
    resamples: int = 10_000,
    seed: int = 0,
    correction: str = "none",
) -> list[MetricComparison]:
    """Compare every metric of `task` (the rows' kind's Task) over prediction rows matched by id; the
    task's primary metric is marked as the verdict, the others as secondary (see `with_roles`)."""
    base_by_id = {r["id"]: r for r in base_rows}
    tuned_by_id = {r["id"]: r for r in tuned_rows}
    if set(base_by_id) != set(tuned_by_id):
        only_base = sorted(set(base_by_id) - set(tuned_by_id))[:3]
        only_tuned = sorted(set(tuned_by_id) - set(base_by_id))[:3]
        raise LorabenchError(
            f"the two runs scored different items (only in base: {only_base}, only in tuned: {only_tuned}); "
            "a paired comparison needs the same items"
        )
    ids = [r["id"] for r in base_rows]
    comparisons = [
        compare_metric(
            metric,
            [base_by_id[i]["scores"][metric] for i in ids],
            [tuned_by_id[i]["scores"][metric] for i in ids],
            alpha,
            resamples,
            seed,
        )
        for metric in task.metrics
    ]
    return with_roles(comparisons, task.primary_metric, correction)


def comparison_from_dict(payload: dict[str, Any]) -> MetricComparison:
    """Rebuild a stored comparison; fields added in later versions take their defaults."""
    known = {f.name for f in fields(MetricComparison)}
    return MetricComparison(**{k: v for k, v in payload.items() if k in known})


@dataclass(frozen=True)
class ShortSubset:
    """base vs tuned, paired, on the items whose gold answer has at most `thresh` tokens."""

    thresh: int
    n: int
    comparisons: list[MetricComparison]  # empty when no item is short
    alpha: float = 0.05
    resamples: int = 10_000

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresh": self.thresh, "n": self.n, "alpha": self.alpha, "resamples": self.resamples,
            "comparison": [c.to_dict() for c in self.comparisons],
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "ShortSubset":
        comparisons = [comparison_from_dict(c) for c in payload["comparison"]]
        return cls(payload["thresh"], payload["n"], comparisons, payload["alpha"], payload["resamples"])


def short_subset(
    task: Task,
    base_rows: Sequence[PredictionRow],
    tuned_rows: Sequence[PredictionRow],
    thresh: int,
    alpha: float = 0.05,
    resamples: int = 10_000,
    correction: str = "none",
) -> ShortSubset | None:
    """The paired comparison restricted to the short-answer subset (the same items and tests as
    `metrics.json`'s `short` block); None for tasks without one (choice, math)."""
    if not task.short_subset:
        return None
    ids = {r["id"] for r in base_rows if in_short_subset(task, [str(g) for g in r["gold"]], thresh)}
    base = [r for r in base_rows if r["id"] in ids]
    tuned = [r for r in tuned_rows if r["id"] in ids]
    comparisons = compare_rows(task, base, tuned, alpha, resamples, correction=correction) if ids else []
    return ShortSubset(thresh, len(ids), comparisons, alpha, resamples)
