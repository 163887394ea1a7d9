"""Rich tables of metrics for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.table import Table

from lorabench.cli.common import FLAGS, as_flags
from lorabench.results import MetricScores, MetricVerdict


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}"


def _interval(low: float, high: float) -> str:
    return "-" if math.isnan(low) else f"[{100 * low:.1f}, {100 * high:.1f}]"


def _scored(scores: MetricScores, name: str) -> list[str]:
    """A metric's value and interval as metrics.json holds them (None: not defined, e.g. no items)."""
    low, high = (scores.ci95.get(name) or [None, None])[:2]
    return [_percent(_number(scores.values.get(name))), _interval(_number(low), _number(high))]


def metrics_table(metrics: MetricScores, title: str | None = None) -> Table:
    """One row per metric: value and 95% interval in percent, overall and on the short-answer subset."""
    table = Table(title=title or f"{metrics.task} metrics (n={metrics.n}, %, 95% CI)")
    table.add_column("metric")
    table.add_column(f"all (n={metrics.n})", justify="right")
    table.add_column("95% CI", justify="right")
    short = metrics.short
    if short is not None:
        table.add_column(f"short (n={short.n})", justify="right")
        table.add_column("95% CI", justify="right")
    for name in metrics.values:
        row = [name, *_scored(metrics, name)]
        if short is not None:
            row += _scored(short, name)
        table.add_row(*row)
    return table


def comparison_table(
    comparisons: Sequence[MetricVerdict],
    before: MetricScores,
    after: MetricScores,
    names: tuple[str, str] = ("base", "tuned"),
    subset: str | None = None,
) -> Table:
    """Before/after table: both with 95% intervals, the paired difference and its verdict.
    `subset` names the items compared when they are not all of them (a second table, below the
    first, in the same units)."""
    title = f"{names[0]} vs {names[1]} on {before.n} items"
    table = Table(
        title=f"{subset}: {title}" if subset else f"{title} (%, 95% CI; paired tests)",
        caption=None if subset else
        "verdict at the run's alpha (default 0.05); n.s. = no significant difference; (+a/-b) = items improved/regressed",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
    )
    table.add_column("metric", no_wrap=True)
    for name in (*names, "change", "p"):
        table.add_column(name, justify="right")
    table.add_column("verdict")
    for c in comparisons:
        verdict = {"better": "[green]better[/]", "worse": "[red]worse[/]"}.get(c.verdict, "n.s.")
        changed = f" (+{c.improved}/-{c.regressed})" if c.improved is not None else ""
        table.add_row(
            c.metric,
            _with_interval(before, c.metric),
            _with_interval(after, c.metric),
            f"{100 * _number(c.difference):+.1f}{changed}",
            f"{_number(c.p_value):.2g}",
            verdict,
        )
    return table


def _number(value: float | None) -> float:
    """A figure as metrics.json and summary.json hold it (None where it is not defined) as a float."""
    return float("nan") if value is None else value


def _with_interval(scores: MetricScores, metric: str) -> str:
    low, high = (scores.ci95.get(metric) or [None, None])[:2]
    return f"{_percent(_number(scores.values.get(metric)))} {_compact(_number(low), _number(high))}"


def _compact(low: float, high: float) -> str:
    return "" if math.isnan(low) else f"[{100 * low:.1f},{100 * high:.1f}]"


def findings_lines(findings: list) -> list[str]:
    return [("[green]ok[/] " if f.ok else "[bold red]WARNING[/] ") + as_flags(f.message, FLAGS) for f in findings]
