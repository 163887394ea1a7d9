"""Rich tables of metrics for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.table import Table

from lorabench.comparison.paired import MetricComparison
from lorabench.metrics.scoring import TaskMetrics


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}"


def _interval(low: float, high: float) -> str:
    return "-" if math.isnan(low) else f"[{100 * low:.1f}, {100 * high:.1f}]"


def metrics_table(metrics: TaskMetrics, title: str | None = None) -> Table:
    """One row per metric: value and 95% interval in percent, overall and on the short-answer subset."""
    table = Table(title=title or f"{metrics.task.value} metrics (n={metrics.n}, %, 95% CI)")
    table.add_column("metric")
    table.add_column(f"all (n={metrics.n})", justify="right")
    table.add_column("95% CI", justify="right")
    short = metrics.short
    if short is not None:
        table.add_column(f"short (n={short.n})", justify="right")
        table.add_column("95% CI", justify="right")
    for name, agg in metrics.metrics.items():
        row = [name, _percent(agg.value), _interval(agg.low, agg.high)]
        if short is not None:
            s = short.metrics[name]
            row += [_percent(s.value), _interval(s.low, s.high)]
        table.add_row(*row)
    return table


def comparison_table(
    comparisons: Sequence[MetricComparison],
    before: TaskMetrics,
    after: TaskMetrics,
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
        b, t = before.metrics[c.metric], after.metrics[c.metric]
        verdict = {"better": "[green]better[/]", "worse": "[red]worse[/]"}.get(c.verdict, "n.s.")
        changed = f" (+{c.improved}/-{c.regressed})" if c.improved is not None else ""
        table.add_row(
            c.metric,
            f"{_percent(b.value)} {_compact(b.low, b.high)}",
            f"{_percent(t.value)} {_compact(t.low, t.high)}",
            f"{100 * c.difference:+.1f}{changed}",
            f"{c.p_value:.2g}",
            verdict,
        )
    return table


def _compact(low: float, high: float) -> str:
    return "" if math.isnan(low) else f"[{100 * low:.1f},{100 * high:.1f}]"


def findings_lines(findings: list) -> list[str]:
    return [("[green]ok[/] " if f.ok else "[bold red]WARNING[/] ") + f.message for f in findings]
