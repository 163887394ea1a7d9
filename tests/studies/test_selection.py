"""Choosing a study's cell on validation, verdicts across seeds, and the Holm family (no model)."""

from __future__ import annotations

import pytest

from lorabench.comparison.paired import MetricComparison, holm_adjust
from lorabench.studies.selection import Cell, SeedRun, StudyComparison, across_seeds, choose_cell, holm_family, spread


def _test(base: float, tuned: float, p: float, metric: str = "exact_match") -> MetricComparison:
    verdict = "no significant difference" if p >= 0.05 else ("better" if tuned > base else "worse")
    return MetricComparison(metric, 30, base, tuned, tuned - base, p, "mcnemar_exact", verdict)


def _cell(name: str, validation: list[float], tuned: list[float], p: float = 0.01, f1: list[float] | None = None) -> Cell:
    runs = tuple(
        SeedRun(f"{name}__seed{i}", i, {"exact_match": v, "f1": (f1 or validation)[i]}, _test(0.2, t, p))
        for i, (v, t) in enumerate(zip(validation, tuned))
    )
    return Cell(name, {"training.lr": name}, runs)


def test_the_cell_best_on_test_but_not_on_validation_is_not_chosen():
    lucky_on_test = _cell("lr0.001", validation=[0.40, 0.50], tuned=[0.70, 0.72])
    best_on_validation = _cell("lr0.0001", validation=[0.60, 0.55], tuned=[0.45, 0.50])
    choice = choose_cell([lucky_on_test, best_on_validation], "exact_match", ["f1"])
    assert choice.cell is best_on_validation
    assert "0.575 over 2 seeds" in choice.reason and "next: lr0.001, 0.450" in choice.reason


def test_ties_on_validation_go_to_the_next_validation_metric_then_grid_order():
    first = _cell("a", [0.5, 0.5], [0.9, 0.9], f1=[0.60, 0.60])
    second = _cell("b", [0.5, 0.5], [0.1, 0.1], f1=[0.70, 0.70])
    choice = choose_cell([first, second], "exact_match", ["f1"])
    assert choice.cell is second and "decided by validation f1" in choice.reason
    same = choose_cell([first, _cell("c", [0.5, 0.5], [0.1, 0.1], f1=[0.60, 0.60])], "exact_match", ["f1"])
    assert same.cell is first and "the cell listed first" in same.reason
    with pytest.raises(ValueError):
        choose_cell([], "exact_match")


def test_a_gain_must_hold_on_every_seed():
    both = across_seeds([_test(0.2, 0.5, 0.01), _test(0.2, 0.6, 0.001)], [0.01, 0.001], 0.05)
    assert (both.verdict, both.held, both.text) == ("better", 2, "better on every seed (2 of 2)")
    one = across_seeds([_test(0.2, 0.5, 0.01), _test(0.2, 0.3, 0.4)], [0.01, 0.4], 0.05)
    assert one.verdict == "no significant difference" and one.text.endswith("(better on 1 of 2 seeds)")
    # significant raw p-values that Holm's adjustment lifts above alpha are not a gain
    adjusted = across_seeds([_test(0.2, 0.5, 0.01), _test(0.2, 0.6, 0.02)], [0.06, 0.06], 0.05)
    assert adjusted.verdict == "no significant difference"
    worse = across_seeds([_test(0.5, 0.2, 0.01), _test(0.5, 0.1, 0.01)], [0.01, 0.01], 0.05)
    assert worse.verdict == "worse" and worse.text == "worse on every seed (2 of 2)"
    single = across_seeds([_test(0.2, 0.5, 0.01)], [0.01], 0.05)
    assert single.text == "better"


def test_holm_family_is_holm_adjust_over_every_comparison_in_order():
    family = [StudyComparison(f"c{i}", "vs base", _test(0.2, 0.3, p)) for i, p in enumerate([0.01, 0.04, 0.03])]
    assert holm_family(family) == holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_spread_is_mean_min_max():
    assert spread([0.5, 0.7, 0.6]) == pytest.approx((0.6, 0.5, 0.7))
