"""The study page (study.html, study.md), its CSV tables and plots, rebuilt from the run folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.report import plots
from lorabench.report.html import data_uri, render_template
from lorabench.report.markdown import cell, table
from lorabench.report.verdicts import verdict_detail
from lorabench.report.view import VERDICT_CSS, change_text, cost_note, percent, with_interval
from lorabench.runs.folder import csv_text, write_atomic
from lorabench.studies import tables
from lorabench.studies.choice_view import CELL_HEADER, COMPARISON_HEADER, choice_view
from lorabench.studies.grid import Study
from lorabench.studies.tables import QUALITY, CrossComparison, FinishedRun, strategy_columns

# The study page's runs table; study.md leaves out the last column (the link to each run's report).
RUN_HEADER = ["run", "model", "train size", "strategy", "seed", "base", "tuned", "gain", "p", "train s", "eval s", "verdict", "report"]
PERCENT_COLUMNS = (*QUALITY, "ParseFail")


@dataclass
class StudyFiles:
    html: Path
    markdown: Path
    tables: list[Path]
    plots: list[Path]
    finished: int
    total: int


def scaling_plot(runs: list[FinishedRun], metric: str) -> bytes | None:
    """Tuned metric by number of training examples, one line per (model, strategy, seed), with
    95% whiskers; the base model's value as a dashed line of the same colour."""
    lines: dict[str, list[FinishedRun]] = {}
    for run in runs:
        v = run.point.values
        lines.setdefault(f"{Path(str(v['model'])).name} / {v['strategy']} / seed {v['seed']}", []).append(run)
    if not any(len({r.train_size for r in members}) > 1 for members in lines.values()):
        return None
    figure = Figure(figsize=(6.4, 3.6))
    axes = figure.subplots()
    for index, (label, members) in enumerate(lines.items()):
        members = sorted(members, key=lambda r: r.train_size)
        xs = [r.train_size for r in members]
        ys = [100 * r.summary["tuned"][metric] for r in members]
        lows = [y - 100 * r.summary["tuned"]["ci95"][metric][0] for y, r in zip(ys, members)]
        highs = [100 * r.summary["tuned"]["ci95"][metric][1] - y for y, r in zip(ys, members)]
        color = plots.COLORS[(index + 1) % len(plots.COLORS)]
        axes.errorbar(xs, ys, yerr=[lows, highs], fmt="o-", capsize=3, color=color, label=f"{label} (tuned)")
        axes.axhline(100 * members[0].summary["base"][metric], linestyle="--", color=color, alpha=0.6, linewidth=1)
    plots.finish_axes(axes, "training examples", f"{metric} (%)", f"Data scaling: {metric} by training size (dashed: base)",
                      percent=True, legend_size=8)
    return plots.figure_png(figure)


def epoch_plot(epoch_rows: list[dict[str, Any]], metric: str) -> bytes | None:
    """Test metric by epoch per run when the study evaluated every epoch, else the validation metric."""
    key = f"test_{metric}" if any(f"test_{metric}" in r for r in epoch_rows) else f"val_{metric}"
    series: dict[str, list[tuple[float, float]]] = {}
    for row in epoch_rows:
        if isinstance(row.get(key), (int, float)):
            series.setdefault(row["run"], []).append((row["epoch"], 100 * row[key]))
    if not series:
        return None
    figure = Figure(figsize=(6.4, 3.6))
    axes = figure.subplots()
    for index, (run, points) in enumerate(series.items()):
        xs, ys = zip(*sorted(points))
        axes.plot(xs, ys, "o-", label=run, color=plots.COLORS[(index + 1) % len(plots.COLORS)])
    plots.finish_axes(axes, "epoch", f"{metric} (%)", f"{'Test' if key.startswith('test') else 'Validation'} {metric} by epoch",
                      percent=True, legend_size=8)
    return plots.figure_png(figure)


def _run_table(runs: list[FinishedRun], metric: str) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        v, s = run.point.values, run.summary
        c = next(c for c in run.comparisons if c.metric == metric)
        work = tables.work_seconds(run)
        cells = [
            run.point.name, Path(str(v["model"])).name, run.train_size, v["strategy"], v["seed"],
            with_interval(s["base"][metric], *s["base"]["ci95"][metric]),
            with_interval(s["tuned"][metric], *s["tuned"]["ci95"][metric]),
            change_text(c),
            f"{c.p_value:.2g}", f"{work['train'] or 0:.0f}",
            f"{(work['base_eval'] or 0) + (work['tuned_eval'] or 0):.0f}",
        ]
        out.append({"cells": cells, "verdict": c.verdict, "css": VERDICT_CSS.get(c.verdict, "ns"),
                    "link": f"runs/{run.point.name}/report.html"})
    return out


def _cross(found: list[CrossComparison]) -> list[dict[str, str]]:
    return [
        {"label": f"{x.dimension}: {x.a.point.name} -> {x.b.point.name}: {x.primary.verdict}",
         "css": VERDICT_CSS.get(x.primary.verdict, "ns"), "text": verdict_detail(x.primary, before="A", after="B")}
        for x in found
    ]


def _strategy_table(rows: list[dict[str, Any]], columns: list[str]) -> list[list[str]]:
    """Quality columns (EM, F1, Lenient or the primary metric) and ParseFail in percent, costs to 3 digits."""
    def fmt(name: str, value: Any) -> str:
        if value is None or value != value:  # None, or NaN
            return "-"
        return percent(value) if name in PERCENT_COLUMNS or name in PRIMARY_METRIC.values() else f"{value:.3g}"
    return [[r["run"], r["model_state"], r["strategy"], *[fmt(n, r.get(n)) for n in columns]] for r in rows]


def write_study_report(study: Study, alpha: float | None = None) -> StudyFiles:
    """Tables, plots and the study page from whatever runs are finished (a partial study is labelled)."""
    runs = tables.finished_runs(study)
    out = study.out
    metric = PRIMARY_METRIC[study.base.task]
    found = tables.cross_comparisons(runs, study.swept, alpha or study.base.metrics.alpha, study.base.metrics.bootstrap_resamples)
    epochs = tables.epoch_rows(runs)
    strategy_rows = tables.strategy_rows(runs)
    columns = strategy_columns(runs)
    table_paths = [
        write_atomic(out / "tables" / name, csv_text(rows, None if rows else ["run"]))
        for name, rows in (("runs.csv", tables.run_rows(runs)), ("epochs.csv", epochs),
                           ("strategies.csv", strategy_rows), ("comparisons.csv", tables.cross_rows(found)))
    ]
    choice = choice_view(study, runs, found, alpha or study.base.metrics.alpha) if study.chooses else None
    if choice is not None:
        table_paths += [
            write_atomic(out / "tables" / name, csv_text(rows, None if rows else ["cell"]))
            for name, rows in (("cells.csv", choice.cells_csv), ("test_comparisons.csv", choice.comparisons_csv))
        ]
    made: list[tuple[str, str, bytes]] = []
    if runs:
        names = [r.point.name for r in runs]
        series = [
            plots.Series(which, [r.summary[which][metric] for r in runs], [r.summary[which]["ci95"][metric][0] for r in runs],
                         [r.summary[which]["ci95"][metric][1] for r in runs])
            for which in ("base", "tuned")
        ]
        made.append(("runs.png", f"{metric} by run (model, size, strategy, seed), base vs tuned, 95% intervals",
                     plots.metric_bars(names, series, f"{metric} by run")))
        scaling = scaling_plot(runs, metric)
        if scaling is not None:
            made.append(("scaling.png", "Data scaling: tuned metric by training size, with 95% intervals", scaling))
        by_epoch = epoch_plot(epochs, metric)
        if by_epoch is not None:
            made.append(("epochs.png", f"{metric} by epoch", by_epoch))
    plot_paths = [write_atomic(out / "plots" / name, png) for name, _, png in made]

    pending = [p.name for p in study.points if p.name not in {r.point.name for r in runs}]
    n = runs[0].summary["sizes"]["test"] if runs else 0
    view = {
        "title": f"lorabench study: {len(study.points)} runs on {study.base.task.value}",
        "subtitle": f"study folder {out.resolve()} · swept: {', '.join(study.swept) or 'nothing'} · {n} test items shared by every run",
        "pending": pending, "total": len(study.points), "primary": metric, "n": n,
        "cross": _cross(found), "run_header": RUN_HEADER, "run_table": _run_table(runs, metric),
        "strategy_header": ["run", "model state", "strategy", *columns],
        "strategy_table": _strategy_table(strategy_rows, columns),
        "strategy_note": cost_note(columns),
        "plots": [{"caption": caption, "uri": data_uri(png), "file": f"plots/{name}"} for name, caption, png in made],
        "choice": choice, "cell_header": CELL_HEADER, "comparison_header": COMPARISON_HEADER,
    }
    html = write_atomic(out / "study.html", render_template("study.html.j2", view))
    markdown = write_atomic(out / "study.md", render_study_markdown(view))
    return StudyFiles(html, markdown, table_paths, plot_paths, len(runs), len(study.points))


def render_study_markdown(view: dict[str, Any]) -> str:
    lines = [f"# {cell(view['title'])}", "", cell(view["subtitle"]), ""]
    if view["pending"]:
        lines += [f"**Not finished**: {len(view['pending'])} of {view['total']} runs have no results yet.", ""]
    choice = view.get("choice")
    if choice is not None:
        lines += ["## Chosen on validation (the headline)", "", f"**{cell(choice.headline)}**", "", cell(choice.reason), ""]
        lines += [f"## Cells ({view['primary']} in %; spread across seeds)", ""]
        lines += table(view["cell_header"], [r["cells"] for r in choice.cell_rows])
        lines += ["", "## Every test comparison (Holm-adjusted across the study)", ""]
        lines += table(view["comparison_header"], [r["cells"] for r in choice.comparison_rows])
        lines += ["", cell(choice.note), ""]
    lines += [f"## Paired comparisons between runs ({view['primary']}, tuned models)", ""]
    lines += [f"- **{cell(v['label'])}**: {cell(v['text'])}" for v in view["cross"]] or ["- none"]
    lines += ["", f"## Runs ({view['primary']} in %, 95% intervals)", ""]
    lines += table(view["run_header"][:-1], [[*r["cells"], r["verdict"]] for r in view["run_table"]])
    if view["strategy_table"]:
        lines += ["", "## Strategies: quality and cost per question", ""]
        lines += table(view["strategy_header"], view["strategy_table"]) + ["", cell(view["strategy_note"])]
    if view["plots"]:
        lines += ["", "## Plots", ""] + [f"![{cell(p['caption'])}]({p['file']})" for p in view["plots"]]
    return "\n".join(lines) + "\n"
