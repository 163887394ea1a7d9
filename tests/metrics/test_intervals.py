import math

import numpy as np
import pytest

from lorabench.metrics.intervals import bootstrap_mean_interval, wilson_interval


def test_wilson_known_values():
    # Wilson 95% interval for 7/10, computed by hand: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    low, high = wilson_interval(7, 10)
    assert low == pytest.approx(0.3968, abs=1e-4)
    assert high == pytest.approx(0.8922, abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0, abs=1e-12)


def test_wilson_empty_is_nan():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_bootstrap_is_seeded_and_covers_mean():
    values = np.random.default_rng(1).uniform(size=200)
    a = bootstrap_mean_interval(values, seed=3)
    assert a == bootstrap_mean_interval(values, seed=3)
    assert a[0] < values.mean() < a[1]
    assert bootstrap_mean_interval([0.5] * 5) == (0.5, 0.5)


def test_bootstrap_coverage_near_nominal():
    rng = np.random.default_rng(0)
    covered = 0
    trials = 200
    for i in range(trials):
        sample = rng.beta(2, 5, size=60)  # true mean 2/7
        low, high = bootstrap_mean_interval(sample, resamples=500, seed=i)
        covered += low <= 2 / 7 <= high
    assert 0.88 <= covered / trials <= 0.99
