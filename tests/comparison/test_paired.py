import numpy as np
import pytest

from lorabench.comparison.paired import (
    choose_headline,
    compare_metric,
    compare_rows,
    holm_adjust,
    mcnemar_exact,
    min_detectable_mean,
    min_detectable_proportion,
    min_discordant_for_significance,
    paired_bootstrap,
)
from lorabench.config.run import RunConfig
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from tests.judging.scripted import scripted_result
from tests.run_configs import tiny_run


def test_mcnemar_exact_hand_computed():
    # 8 improved, 1 regressed: p = 2 * P(X <= 1 | n=9, 1/2) = 2 * (1 + 9) / 512
    assert mcnemar_exact(8, 1) == pytest.approx(20 / 512)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)


def test_binary_comparison_counts_changed_items():
    base = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    tuned = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    result = compare_metric("exact_match", base, tuned)
    assert (result.improved, result.regressed, result.unchanged) == (8, 1, 1)
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
        compare_rows(get_task("choice"), rows(["a", "b"]), rows(["a", "c"]))
    result = compare_rows(get_task("choice"), rows(["a", "b"]), rows(["b", "a"]))
    assert [c.metric for c in result] == ["accuracy", "no_choice"]
    assert result[0].verdict == "no significant difference"


def test_bootstrap_p_value_is_never_zero():
    base = [0.0] * 30
    tuned = [0.9, 1.0, 0.8] * 10
    _, low, high, p = paired_bootstrap(base, tuned, resamples=999, seed=0)
    assert p == 2 / 1000  # no resample at or below zero: the smallest p 999 resamples can show
    assert 0.8 <= low <= high <= 1.0


def test_fewest_changed_items_that_can_be_significant():
    # 2 * 0.5**5 = 0.0625 is not below 0.05, 2 * 0.5**6 = 0.031 is
    assert min_discordant_for_significance(0.05) == 6
    assert mcnemar_exact(6, 0) < 0.05 <= mcnemar_exact(5, 0)
    assert min_discordant_for_significance(0.01) == 8


def test_fifteen_items_cannot_show_a_five_point_gain():
    assert min_detectable_proportion(15, discordant=0) == pytest.approx(6 / 15)
    assert min_detectable_proportion(15, discordant=2) == pytest.approx(6 / 15)  # the exact floor wins
    # many items: the normal approximation, (1.96 + 0.84) * sqrt(d / n) / sqrt(n) with d = 100 of 1000
    assert min_detectable_proportion(1000, discordant=100) == pytest.approx(2.8016 * (0.1 / 1000) ** 0.5, rel=1e-3)


def test_min_detectable_proportion_has_about_the_promised_power():
    """Simulated paired binary data whose true difference is the detectable one: McNemar rejects ~80%."""
    rng = np.random.default_rng(3)
    n, discordant_share = 300, 0.2
    mde = min_detectable_proportion(n, int(n * discordant_share))
    # per item: improved with prob (d + mde) / 2, regressed with (d - mde) / 2
    p_up, p_down = (discordant_share + mde) / 2, (discordant_share - mde) / 2
    rejections = 0
    trials = 400
    for _ in range(trials):
        u = rng.random(n)
        improved, regressed = int(np.sum(u < p_up)), int(np.sum((u >= p_up) & (u < p_up + p_down)))
        rejections += mcnemar_exact(improved, regressed) < 0.05
    assert 0.70 <= rejections / trials <= 0.90


def test_min_detectable_mean_has_about_the_promised_power():
    rng = np.random.default_rng(4)
    n, sd = 60, 0.3
    mde = min_detectable_mean(rng.normal(0, sd, size=n))
    assert mde is not None and mde == pytest.approx(2.8016 * sd / n**0.5, rel=0.3)
    true_mde = 2.8016 * sd / n**0.5
    rejections = 0
    trials = 2000
    for _ in range(trials):
        diffs = rng.normal(true_mde, sd, size=n)
        z = diffs.mean() / (diffs.std(ddof=1) / n**0.5)
        rejections += abs(z) > 1.96
    assert 0.74 <= rejections / trials <= 0.86


def test_min_detectable_mean_is_unknown_without_variation():
    assert min_detectable_mean([0.0, 0.0, 0.0]) is None
    assert min_detectable_mean([0.5]) is None


def test_comparisons_carry_the_detectable_difference():
    small = compare_metric("exact_match", [0.0] * 15, [0.0] * 14 + [1.0])
    assert small.verdict == "no significant difference"
    assert small.min_detectable == pytest.approx(6 / 15)
    f1 = compare_metric("f1", [0.1, 0.5, 0.2, 0.9], [0.3, 0.5, 0.1, 1.0], resamples=200)
    assert f1.min_detectable is not None and f1.min_detectable > 0


def test_the_bootstrap_interval_is_at_the_runs_alpha():
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 60)
    tuned = base + rng.normal(0.1, 0.2, 60)
    _, low95, high95, p95 = paired_bootstrap(base, tuned, resamples=2000, seed=0)
    _, low99, high99, p99 = paired_bootstrap(base, tuned, resamples=2000, seed=0, alpha=0.01)
    _, low80, high80, _ = paired_bootstrap(base, tuned, resamples=2000, seed=0, alpha=0.2)
    assert low99 < low95 < low80 and high80 < high95 < high99  # wider at a smaller alpha
    assert p95 == p99  # the p-value does not depend on the interval's level
    diffs = tuned - base
    rng = np.random.default_rng(0)  # the same resamples paired_bootstrap drew
    means = diffs[rng.integers(0, 60, size=(2000, 60))].mean(axis=1)
    assert (low99, high99) == pytest.approx(tuple(np.percentile(means, [0.5, 99.5])))
    comparison = compare_metric("f1", list(base), list(tuned), alpha=0.01, resamples=2000)
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx((low99, high99))
    assert comparison.confidence == pytest.approx(0.99)
    from lorabench.report.verdicts import evidence

    assert "99% CI [" in evidence(comparison)


def _rows(scores_by_metric: dict[str, list[float]]) -> list[dict]:
    n = len(next(iter(scores_by_metric.values())))
    return [{"id": f"q{i}", "scores": {m: v[i] for m, v in scores_by_metric.items()}} for i in range(n)]


def test_the_primary_metric_is_the_verdict_and_holm_adjusts_only_the_secondary_ones():
    from lorabench.comparison.paired import false_better_chance, run_verdict, with_roles
    from lorabench.metrics.scoring import TASK_METRICS

    metrics = TASK_METRICS["extractive"]
    n = 40
    # exact_match clearly better; each other metric 6 items up, none down (McNemar p = 2 / 2**6 = 0.031).
    base = {m: [0.0] * n for m in metrics}
    tuned = {m: [1.0 if i < (12 if m == "exact_match" else 6) else 0.0 for i in range(n)] for m in metrics}
    raw = compare_rows(get_task("extractive"), _rows(base), _rows(tuned), resamples=500)
    assert [c.role for c in raw] == ["primary"] + ["secondary"] * (len(metrics) - 1)
    assert raw[0].metric == "exact_match" and all(c.p_adjusted is None for c in raw)
    holm = compare_rows(get_task("extractive"), _rows(base), _rows(tuned), resamples=500, correction="holm")
    assert holm[0].p_value == raw[0].p_value and holm[0].p_adjusted is None  # the primary is tested alone
    expected = holm_adjust([c.p_value for c in raw[1:]])
    assert [c.p_adjusted for c in holm[1:]] == pytest.approx(expected)
    # A secondary metric significant raw but not after adjustment loses its verdict.
    flipped = [h for r, h in zip(raw[1:], holm[1:]) if r.verdict != h.verdict]
    assert flipped and all(h.verdict == "no significant difference" and h.p_adjusted >= 0.05 > h.p_value for h in flipped)
    with pytest.raises(LorabenchError, match="unknown correction"):
        with_roles(raw, "exact_match", "bonferroni")

    assert false_better_chance(7, 0.05) == pytest.approx(1 - 0.975**7)  # about 16%
    verdict = run_verdict(raw, 0.05)
    assert verdict == {"primary_metric": "exact_match", "verdict": raw[0].verdict, "metrics_tested": 7, "alpha": 0.05,
                       "correction": "none", "false_better_chance": pytest.approx(0.1624, abs=1e-4)}
    from lorabench.report.verdicts import multiplicity_sentence

    sentence = multiplicity_sentence(verdict)
    assert sentence.startswith(f"verdict: {raw[0].verdict} on exact_match, the task's primary metric; the other 6 are "
                               "secondary, not adjusted for multiple testing")
    assert sentence.endswith('7 metrics tested at alpha 0.05: with no real change, the chance of at least one false '
                             '"better" among them is up to 16%')
    assert "Holm-adjusted (metrics.correction: holm)" in multiplicity_sentence(run_verdict(holm, 0.05, "holm"))


def test_holm_matches_the_textbook_example() -> None:
    # Four tests: sorted p 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone), 0.06.
    assert holm_adjust([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])


def test_holm_caps_at_one_and_keeps_a_single_test_unchanged() -> None:
    assert holm_adjust([0.5, 0.9]) == [1.0, 1.0]
    assert holm_adjust([0.03]) == [0.03]
    assert holm_adjust([]) == []


def test_holm_never_lowers_a_p_value() -> None:
    raw = [0.001, 0.2, 0.049, 0.5, 0.01]
    assert all(adj >= p for adj, p in zip(holm_adjust(raw), raw))


def test_a_trusted_judge_is_the_headline_when_asked(tmp_path, tiny_causal_path):
    config = RunConfig.model_validate(tiny_run(tiny_causal_path, tmp_path / "d.jsonl", tmp_path / "run", task="open",
                                               judge="m", metrics={"primary": "judge_correct"}))
    judged = scripted_result(tmp_path)
    assert judged.trustworthy
    task = get_task(config.task)
    headline = choose_headline(task, config.metrics, [], judged)
    assert headline.primary == "judge_correct" and headline.note is None
    assert [(c.metric, c.role) for c in headline.judged] == [("judge_correct", "primary"), ("judge_attempted", "secondary")]
    verdict = headline.verdict(0.05, "none")
    assert verdict["primary_metric"] == "judge_correct" and verdict["verdict"] == "better"
    # Without metrics.primary the task's own metric decides, judge or not.
    plain = choose_headline(task, config.metrics.model_copy(update={"primary": None}), [], judged)
    assert plain.primary == "rouge_l_acc" and all(c.role == "secondary" for c in plain.judged)
    failed_gold = judged.model_copy(update={"guards": [judged.guards[0].model_copy(update={"ok": False})]})
    untrusted = choose_headline(task, config.metrics, [], failed_gold)
    assert untrusted.primary == "rouge_l_acc" and "not trustworthy" in untrusted.note
