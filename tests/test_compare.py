import numpy as np
import pytest

from lorabench.compare import compare_metric, compare_rows, mcnemar_exact, paired_bootstrap
from lorabench.errors import LorabenchError


def test_mcnemar_exact_hand_computed():
    # 8 improved, 1 regressed: p = 2 * P(X <= 1 | n=9, 1/2) = 2 * (1 + 9) / 512
    assert mcnemar_exact(8, 1) == pytest.approx(20 / 512)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)


def test_binary_comparison_counts_changed_items():
    base = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    tuned = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    result = compare_metric("exact_match", base, tuned)
    assert (result.improved, result.regressed) == (8, 1)
    assert result.p_value == pytest.approx(20 / 512)
    assert result.verdict == "better"
    assert compare_metric("no_number", base, tuned).verdict == "worse"  # more items without a number


def test_paired_bootstrap_interval_covers_true_difference_at_about_95_percent():
    rng = np.random.default_rng(0)
    covered, trials = 0, 120
    for i in range(trials):
        base = rng.uniform(size=80)
        tuned = base + 0.05 + rng.normal(0, 0.1, size=80)  # true mean difference: 0.05
        _, low, high, _ = paired_bootstrap(base, tuned, resamples=1000, seed=i)
        covered += low <= 0.05 <= high
    assert 0.88 <= covered / trials <= 0.99


def test_paired_bootstrap_no_difference():
    diff, low, high, p = paired_bootstrap([0.5, 0.2], [0.5, 0.2])
    assert (diff, low, high, p) == (0.0, 0.0, 0.0, 1.0)


def test_compare_rows_refuses_different_items():
    rows = lambda ids: [{"id": i, "scores": {"accuracy": 1.0, "no_choice": 0.0}} for i in ids]  # noqa: E731
    with pytest.raises(LorabenchError, match="different items"):
        compare_rows("choice", rows(["a", "b"]), rows(["a", "c"]))
    result = compare_rows("choice", rows(["a", "b"]), rows(["b", "a"]))
    assert [c.metric for c in result] == ["accuracy", "no_choice"]
    assert result[0].verdict == "no significant difference"


def test_bootstrap_p_value_is_never_zero():
    base = [0.0] * 30
    tuned = [0.9, 1.0, 0.8] * 10
    _, low, high, p = paired_bootstrap(base, tuned, resamples=999, seed=0)
    assert p == 2 / 1000  # no resample at or below zero: the smallest p 999 resamples can show
    assert 0.8 <= low <= high <= 1.0
