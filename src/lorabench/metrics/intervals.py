"""Metrics aggregated over items, each a mean with its 95% interval: Wilson for proportions,
percentile bootstrap for other means (both via scipy)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Aggregate:
    name: str
    value: float
    low: float
    high: float
    n: int


def aggregates(
    names: Sequence[str], per_item: Sequence[dict[str, float]], proportions: Collection[str], resamples: int, seed: int
) -> dict[str, Aggregate]:
    """Each metric of `names` over the items' scores: its mean and 95% interval, a Wilson interval for
    the per-item 0/1 outcomes in `proportions`, a seeded bootstrap one (`resamples`, `seed`) otherwise."""
    n = len(per_item)
    result = {}
    for name in names:
        values = [scores[name] for scores in per_item]
        mean = sum(values) / n if n else math.nan
        if name in proportions:
            low, high = wilson_interval(int(round(sum(values))), n)
        else:
            low, high = bootstrap_mean_interval(values, resamples=resamples, seed=seed)
        result[name] = Aggregate(name, mean, low, high, n)
    return result


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval; unlike the normal approximation it stays inside [0, 1] for small n."""
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def bootstrap_mean_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, seeded so a report is reproducible."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if np.all(data == data[0]):
        # Every resample has the same mean; scipy would warn about a degenerate distribution.
        return (float(data[0]), float(data[0]))
    result = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))
