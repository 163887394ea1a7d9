"""The report's plots as PNG bytes (matplotlib's object API: no global pyplot state, no display)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

COLORS = ("#7f8c8d", "#2e86de", "#e67e22", "#27ae60", "#8e44ad", "#c0392b")


@dataclass(frozen=True)
class Series:
    """One group of bars: values with optional 95% interval bounds (same units as the values)."""

    label: str
    values: Sequence[float | None]
    lows: Sequence[float | None] | None = None
    highs: Sequence[float | None] | None = None


def figure_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def finish_axes(axes: Any, xlabel: str, ylabel: str, title: str, percent: bool = False, legend_size: float | None = None) -> None:
    """The styling every line plot of a report shares."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if percent:
        axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(frameon=False, fontsize=legend_size)


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def metric_bars(metrics: Sequence[str], series: Sequence[Series], title: str, percent: bool = True) -> bytes:
    """Grouped bars per metric, one bar per series, whiskers at the 95% interval."""
    scale = 100.0 if percent else 1.0
    figure = Figure(figsize=(max(6.0, 1.3 * len(metrics) * max(1, len(series)) / 2 + 2), 3.6))
    axes = figure.subplots()
    width = 0.8 / max(1, len(series))
    for index, s in enumerate(series):
        xs = [m + (index - (len(series) - 1) / 2) * width for m in range(len(metrics))]
        values = [scale * _num(v) for v in s.values]
        yerr = None
        if s.lows is not None and s.highs is not None:
            below = [max(0.0, v - scale * _num(lo)) for v, lo in zip(values, s.lows)]
            above = [max(0.0, scale * _num(hi) - v) for v, hi in zip(values, s.highs)]
            yerr = [below, above]
        axes.bar(xs, values, width, yerr=yerr, capsize=3, label=s.label, color=COLORS[index % len(COLORS)])
    axes.set_xticks(range(len(metrics)), metrics, rotation=20, ha="right")
    axes.set_ylabel("%" if percent else "value")
    if percent:
        axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(frameon=False)
    return figure_png(figure)


def loss_curves(train_log: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Training loss by step and validation loss where it was measured; None without any."""
    train = [(row["step"], row["loss"]) for row in train_log if isinstance(row.get("loss"), (int, float))]
    val = [(row["step"], row["val_loss"]) for row in train_log if isinstance(row.get("val_loss"), (int, float))]
    if not train and not val:
        return None
    figure = Figure(figsize=(6.4, 3.4))
    axes = figure.subplots()
    if train:
        axes.plot(*zip(*train), label="training loss", color=COLORS[1], linewidth=1.2)
    if val:
        axes.plot(*zip(*val), "o-", label="validation loss", color=COLORS[2])
    finish_axes(axes, "step", "loss (answer tokens)", "Loss by step")
    return figure_png(figure)


def validation_metrics(train_log: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Every validation metric (other than loss) by epoch; None when none was measured."""
    names = sorted({k for row in train_log for k in row if k.startswith("val_") and k != "val_loss"})
    points = {name: [(row["epoch"], row[name]) for row in train_log if isinstance(row.get(name), (int, float))] for name in names}
    points = {name: values for name, values in points.items() if values}
    if not points:
        return None
    figure = Figure(figsize=(6.4, 3.4))
    axes = figure.subplots()
    for index, (name, values) in enumerate(points.items()):
        xs, ys = zip(*values)
        axes.plot(xs, [100 * y for y in ys], "o-", label=name.removeprefix("val_"), color=COLORS[(index + 1) % len(COLORS)])
    finish_axes(axes, "epoch", "%", "Validation metric by epoch", percent=True)
    return figure_png(figure)


def category_bars(categories: Sequence[str], counts: Mapping[str, Mapping[str, int]]) -> bytes:
    """Wrong answers per error category, one bar per evaluation ("base", "tuned", ...)."""
    series = list(counts.items())
    figure = Figure(figsize=(7.0, 3.4))
    axes = figure.subplots()
    width = 0.8 / max(1, len(series))
    for index, (label, per_category) in enumerate(series):
        xs = [c + (index - (len(series) - 1) / 2) * width for c in range(len(categories))]
        axes.bar(xs, [per_category.get(c, 0) for c in categories], width, label=label, color=COLORS[index % len(COLORS)])
    axes.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories], rotation=20, ha="right")
    axes.set_ylabel("wrong answers")
    axes.set_title("Error categories")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(frameon=False)
    return figure_png(figure)
