"""`lorabench report RUN_DIR`: report.html, report.md, plots/ and tables/ in the run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lorabench.comparison.items import CATEGORIES
from lorabench.report import plots
from lorabench.report.collect import ReportData, collect
from lorabench.report.html import data_uri, render_html
from lorabench.report.markdown import render_markdown
from lorabench.report.view import ReportView, build_view, error_categories
from lorabench.runs.folder import csv_text, write_atomic


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    tables: list[Path]
    plots: list[Path]
    data: ReportData


def _plots(data: ReportData) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """(file name, caption, png) for every plot there is data for, and a note for each that is not."""
    made: list[tuple[str, str, bytes]] = []
    missing: list[str] = []
    metrics = data.metric_names
    series = []
    for which in ("base", "tuned"):
        values = [data.interval(which, m) for m in metrics]
        series.append(plots.Series(which, [v[0] for v in values], [v[1] for v in values], [v[2] for v in values]))
    made.append(("metrics.png", "Metrics, base vs tuned, with 95% intervals",
                 plots.metric_bars(metrics, series, f"{data.task.value}: base vs tuned ({len(data.pairs)} items)")))
    loss = plots.loss_curves(data.train_log)
    if loss is None:
        missing.append("No training log: the loss plot is left out.")
    else:
        made.append(("loss.png", "Training and validation loss by step", loss))
    validation = plots.validation_metrics(data.train_log)
    if validation is None:
        missing.append("No validation metric was measured during training (training.val_metric_items = 0 or no validation split).")
    else:
        made.append(("validation.png", "Validation metric by epoch", validation))
    made.append(("errors.png", "Wrong answers by error category, before and after",
                 plots.category_bars(error_categories(data), data.categories)))
    return made, missing


def write_report(run_dir: str | Path) -> ReportFiles:
    """Rebuild the whole report from the run folder's files; each file is replaced atomically."""
    data = collect(run_dir)
    root = data.run_dir
    view: ReportView = build_view(data)
    made, view.missing_plots = _plots(data)
    plot_paths = []
    for name, caption, png in made:
        plot_paths.append(write_atomic(root / "plots" / name, png))
        view.plots.append({"file": f"plots/{name}", "caption": caption, "uri": data_uri(png)})

    metrics = data.metric_names
    item_rows = [p.to_row(metrics) for p in data.pairs]
    category_rows = [{"category": name, "meaning": CATEGORIES[name], "base": data.categories["base"][name],
                      "tuned": data.categories["tuned"][name]} for name in error_categories(data)]
    tables = [
        write_atomic(root / "tables" / "items.csv", csv_text(item_rows, None if item_rows else ["id"])),
        write_atomic(root / "tables" / "error_categories.csv", csv_text(category_rows)),
    ]
    markdown = write_atomic(root / "report.md", render_markdown(view))
    html_path = write_atomic(root / "report.html", render_html(view))
    return ReportFiles(html_path, markdown, tables, plot_paths, data)
