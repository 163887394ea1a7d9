"""Choosing a study's best cell honestly: on the validation split, never on test.

A study over sweep.params tries several settings; picking the one with the best test score and
reporting its test gain would overstate it (the winner of many noisy tries is lucky on test). So the
cell (one combination of settings, run once per seed) is chosen on the validation split, and the
chosen cell's test comparison against the base model is the study's headline: one comparison
fixed before test was looked at. Every other test comparison in the study is exploratory and
carries a Holm-adjusted p-value over all of them. With several seeds, a verdict holds only if it
holds on every seed (each seed's own paired test at alpha): a gain one lucky seed shows is not one.

Pure functions over numbers read from the run folders, so they are tested without a model.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorabench.comparison.paired import MetricComparison, holm_adjust
from lorabench.metrics.scoring import LOWER_IS_BETTER


@dataclass(frozen=True)
class SeedRun:
    """One run of a cell: its validation metrics (tuned adapter) and its test comparison with base."""

    name: str
    seed: int
    validation: dict[str, float]  # metric -> value on the validation split
    test: MetricComparison  # primary metric, tuned vs base, on the test split


@dataclass(frozen=True)
class Cell:
    name: str
    settings: dict[str, Any]  # the swept values (seed left out)
    runs: tuple[SeedRun, ...]

    def validation_mean(self, metric: str) -> float:
        return statistics.fmean(r.validation[metric] for r in self.runs)

    @property
    def tuned(self) -> list[float]:
        return [r.test.tuned for r in self.runs]

    @property
    def gains(self) -> list[float]:
        return [r.test.difference for r in self.runs]


@dataclass(frozen=True)
class Choice:
    cell: Cell
    reason: str


def _sign(metric: str) -> float:
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


def choose_cell(cells: Sequence[Cell], metric: str, tie_metrics: Sequence[str] = ()) -> Choice:
    """The cell with the best mean validation `metric` over its seeds. Ties (likely on a small
    validation split) go to the better mean of `tie_metrics` on validation, in order, then to the
    cell listed first. Test numbers are never read here."""
    if not cells:
        raise ValueError("no finished cell to choose from")

    def key(cell: Cell) -> tuple[float, ...]:
        return tuple(_sign(m) * cell.validation_mean(m) for m in (metric, *tie_metrics))

    ranked = sorted(cells, key=key, reverse=True)  # stable: among equals, grid order
    best = ranked[0]
    seeds = f"{len(best.runs)} seed{'s' if len(best.runs) > 1 else ''}"
    reason = f"highest mean validation {metric}: {best.validation_mean(metric):.3f} over {seeds}"
    if len(ranked) > 1:
        runner_up = ranked[1]
        reason += f" (next: {runner_up.name}, {runner_up.validation_mean(metric):.3f})"
        if runner_up.validation_mean(metric) == best.validation_mean(metric):
            decided = next((m for m in tie_metrics if runner_up.validation_mean(m) != best.validation_mean(m)), None)
            reason += (f"; tied on {metric}, decided by validation {decided}" if decided
                       else "; tied on every validation metric, so the cell listed first")
    return Choice(best, reason)


@dataclass(frozen=True)
class SeedVerdict:
    verdict: str  # "better", "worse" or "no significant difference"
    held: int  # seeds whose own test agrees with the verdict ("better"/"worse"), or that are better
    seeds: int

    @property
    def text(self) -> str:
        if self.verdict == "no significant difference":
            return f"no significant difference (better on {self.held} of {self.seeds} seeds)" if self.seeds > 1 else self.verdict
        return f"{self.verdict} on every seed ({self.seeds} of {self.seeds})" if self.seeds > 1 else self.verdict


def across_seeds(comparisons: Sequence[MetricComparison], p_values: Sequence[float], alpha: float) -> SeedVerdict:
    """A cell's verdict from its seeds' paired tests, each at its given p-value (raw for the
    headline, Holm-adjusted for exploratory cells): better (or worse) only when every seed is
    significantly better (worse). Requiring all k tests to agree keeps the error rate at alpha."""
    signs = []
    for c, p in zip(comparisons, p_values):
        if p < alpha and c.difference != 0:
            signs.append(_sign(c.metric) * c.difference > 0)
        else:
            signs.append(None)
    better = sum(1 for s in signs if s is True)
    if signs and all(s is True for s in signs):
        return SeedVerdict("better", better, len(signs))
    if signs and all(s is False for s in signs):
        return SeedVerdict("worse", len(signs), len(signs))
    return SeedVerdict("no significant difference", better, len(signs))


@dataclass(frozen=True)
class StudyComparison:
    """One test-set comparison of the study (a run vs its base, or two tuned runs)."""

    label: str
    kind: str  # "vs base" or the swept dimension of a tuned-vs-tuned comparison
    comparison: MetricComparison
    headline: bool = False


def holm_family(comparisons: Sequence[StudyComparison]) -> list[float]:
    """Holm-adjusted p-values over every test comparison of the study (headline included, so the
    family is the whole study), in the input order."""
    return holm_adjust([c.comparison.p_value for c in comparisons])


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, min and max across seeds."""
    return statistics.fmean(values), min(values), max(values)
