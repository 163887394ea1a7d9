"""The study page's choice section: the validation-chosen cell as the headline, every cell's spread
across seeds, and every test comparison with its Holm-adjusted p-value (studies over sweep.params)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.metrics.scoring import TASK_METRICS
from lorabench.report.view import VERDICT_CSS, percent
from lorabench.studies.grid import Study
from lorabench.studies.selection import Cell, SeedRun, StudyComparison, across_seeds, choose_cell, holm_family, spread
from lorabench.studies.tables import CrossComparison, FinishedRun

CELL_HEADER = ["cell", "settings", "seeds", "validation", "test tuned mean [min, max]", "gain mean [min, max]",
               "p (per seed)", "Holm p (per seed)", "verdict across seeds", "role"]
COMPARISON_HEADER = ["comparison", "kind", "change", "p", "Holm p", "verdict (Holm)", "role"]


@dataclass
class ChoiceView:
    headline: str = ""
    headline_css: str = "ns"
    reason: str = ""
    cell_rows: list[dict[str, Any]] = field(default_factory=list)
    comparison_rows: list[dict[str, Any]] = field(default_factory=list)
    cells_csv: list[dict[str, Any]] = field(default_factory=list)
    comparisons_csv: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _spread_text(values: list[float], fmt: Any) -> str:
    mean, low, high = spread(values)
    return fmt(mean) if len(values) == 1 else f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def _cells(study: Study, runs: list[FinishedRun], metric: str) -> list[Cell]:
    by_cell: dict[str, list[FinishedRun]] = {}
    for run in runs:
        if run.validation is not None:
            by_cell.setdefault(run.point.cell, []).append(run)
    swept = [d for d in study.swept if d != "seed"]
    cells = []
    for name, members in by_cell.items():
        settings = {d: members[0].point.values[d] for d in swept}
        seed_runs = tuple(
            SeedRun(r.point.name, int(r.point.values["seed"]), {m: float(r.validation[m]) for m in TASK_METRICS[r.task]
                                                                 if isinstance(r.validation.get(m), (int, float))},
                    next(c for c in r.comparisons if c.metric == metric))
            for r in members
        )
        cells.append(Cell(name, settings, seed_runs))
    return cells


def choice_view(study: Study, runs: list[FinishedRun], found: list[CrossComparison], alpha: float) -> ChoiceView:
    """The headline (chosen cell vs base on test), the cells table and the Holm-adjusted family."""
    metric = PRIMARY_METRIC[study.base.task]
    cells = _cells(study, runs, metric)
    view = ChoiceView()
    if not cells:
        view.headline = "No cell has its validation evaluation yet: nothing is chosen."
        return view
    ties = [m for m in TASK_METRICS[study.base.task] if m != metric and all(m in r.validation for c in cells for r in c.runs)]
    choice = choose_cell(cells, metric, ties)
    chosen = choice.cell

    family = [StudyComparison(f"{r.name} vs base", "vs base", r.test, headline=cell is chosen)
              for cell in cells for r in cell.runs]
    family += [StudyComparison(f"{x.a.point.name} -> {x.b.point.name}", x.dimension, x.primary) for x in found]
    holm = holm_family(family)
    holm_of = {c.label: p for c, p in zip(family, holm)}

    pending = len(study.points) - sum(len(c.runs) for c in cells)
    for cell in cells:
        tests = [r.test for r in cell.runs]
        adjusted = [holm_of[f"{r.name} vs base"] for r in cell.runs]
        is_chosen = cell is chosen
        verdict = across_seeds(tests, [t.p_value for t in tests] if is_chosen else adjusted, alpha)
        role = "chosen (headline)" if is_chosen else "exploratory"
        settings = ", ".join(f"{k}={v}" for k, v in cell.settings.items())
        view.cell_rows.append({
            "cells": [cell.name, settings, str(len(cell.runs)), percent(cell.validation_mean(metric)),
                      _spread_text(cell.tuned, percent), _spread_text(cell.gains, _points),
                      ", ".join(f"{t.p_value:.2g}" for t in tests), ", ".join(f"{p:.2g}" for p in adjusted),
                      verdict.text, role],
            "css": VERDICT_CSS.get(verdict.verdict, "ns"), "chosen": is_chosen,
        })
        tuned_mean, tuned_min, tuned_max = spread(cell.tuned)
        gain_mean, gain_min, gain_max = spread(cell.gains)
        view.cells_csv.append({
            "cell": cell.name, **cell.settings, "seeds": len(cell.runs), "runs": " ".join(r.name for r in cell.runs),
            f"validation_{metric}": round(cell.validation_mean(metric), 6),
            f"test_base_{metric}": round(cell.runs[0].test.base, 6),
            f"test_tuned_{metric}_mean": round(tuned_mean, 6), f"test_tuned_{metric}_min": round(tuned_min, 6),
            f"test_tuned_{metric}_max": round(tuned_max, 6), "gain_mean": round(gain_mean, 6), "gain_min": round(gain_min, 6),
            "gain_max": round(gain_max, 6), "p_values": " ".join(f"{t.p_value:.6g}" for t in tests),
            "p_holm": " ".join(f"{p:.6g}" for p in adjusted), "verdict": verdict.verdict,
            "seeds_better": verdict.held if verdict.verdict != "worse" else 0, "chosen": is_chosen,
        })
        if is_chosen:
            headline_verdict = verdict
    for item, p_holm in zip(family, holm):
        c = item.comparison
        exploratory_verdict = "no significant difference" if p_holm >= alpha or c.difference == 0 else c.verdict
        role = "headline" if item.headline else "exploratory"
        view.comparison_rows.append({
            "cells": [item.label, item.kind, _points(c.difference), f"{c.p_value:.2g}", f"{p_holm:.2g}",
                      exploratory_verdict, role],
            "css": VERDICT_CSS.get(exploratory_verdict, "ns"),
        })
        view.comparisons_csv.append({
            "comparison": item.label, "kind": item.kind, "metric": c.metric, "a_value": round(c.base, 6),
            "b_value": round(c.tuned, 6), "change": round(c.difference, 6), "p_value": c.p_value, "p_holm": p_holm,
            "verdict_holm": exploratory_verdict, "role": role,
        })

    n_test = chosen.runs[0].test.n
    n_val = next((r.validation.get("n") for r in runs if r.point.cell == chosen.name and r.validation), "?")
    base = chosen.runs[0].test.base
    seeds = len(chosen.runs)
    view.reason = f"{chosen.name} was chosen on the validation split ({n_val} items), {choice.reason}."
    tuned_text = _spread_text(chosen.tuned, percent)
    view.headline = (
        f"Chosen cell {chosen.name}: test {metric} {percent(base)} (base) -> {tuned_text} (tuned"
        f"{', mean [min, max] over ' + str(seeds) + ' seeds' if seeds > 1 else ''}) on the same {n_test} items: "
        f"{headline_verdict.text}"
        f" (paired test per seed: p = {', '.join(f'{r.test.p_value:.2g}' for r in chosen.runs)}; the choice was made "
        f"on validation, so this one comparison needs no correction for the {len(cells)} cells tried)."
    )
    view.headline_css = VERDICT_CSS.get(headline_verdict.verdict, "ns")
    view.note = (
        f"All {len(family)} test comparisons of the study are one family: Holm-adjusted p-values control the chance of "
        f"any false difference among them at {alpha:g}. Only the chosen cell's comparison with base is confirmatory; the "
        "others are exploratory: they describe the sweep, and a choice made from them would be a choice made on test."
        + (f" Provisional: {pending} of {len(study.points)} runs have no results yet." if pending else "")
    )
    return view
