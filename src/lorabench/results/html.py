"""The notebook view of the results (their `_repr_html_`): verdict, metrics and guard tables as HTML.

Every string that comes from data, models or paths is escaped.
"""

from __future__ import annotations

import math
from html import escape

from lorabench.results.scores import GuardResult, MetricScores, MetricVerdict


def _percent(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _with_interval(scores: MetricScores | None, metric: str) -> str:
    if scores is None:
        return ""
    value = scores.values.get(metric)
    low, high = (scores.ci95.get(metric) or [None, None])[:2]
    interval = f" [{_percent(low)}, {_percent(high)}]" if low is not None and high is not None else ""
    return escape(_percent(value) + interval)


_VERDICT_COLOUR = {"better": "#080", "worse": "#b00"}


def verdict_table_html(
    comparisons: list[MetricVerdict], before: MetricScores | None, after: MetricScores | None,
    names: tuple[str, str] = ("base", "tuned"),
) -> str:
    """The paired table as HTML: each metric before and after (%, 95% CI), the difference (with its
    95% interval for bootstrapped metrics), p and verdict."""
    head = "".join(f"<th>{escape(h)}</th>" for h in ("metric", f"{names[0]} %", f"{names[1]} %", "diff (pts)", "p", "verdict", "improved / regressed"))
    rows = []
    for c in comparisons:
        colour = _VERDICT_COLOUR.get(c.verdict)
        verdict = f"<span style='color:{colour}'>{escape(c.verdict)}</span>" if colour else escape(c.verdict)
        changed = f"{c.improved} / {c.regressed}" if c.improved is not None else ""
        p = "" if c.p_value is None else f"{c.p_value:.2g}"
        diff = "" if c.difference is None else f"{100 * c.difference:+.1f}"
        if diff and c.ci_low is not None and c.ci_high is not None:  # the bootstrap's interval of the difference
            diff += f" [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
        cells = [escape(c.metric), _with_interval(before, c.metric), _with_interval(after, c.metric), diff, p, verdict, changed]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def guards_html(guards: list[GuardResult]) -> str:
    if not guards:
        return ""
    items = "".join(
        f"<li><span style='color:{'#080' if g.ok else '#b00'}'>{'ok' if g.ok else 'WARNING'}</span> "
        f"{escape(g.name)}: {escape(g.message)}</li>"
        for g in guards
    )
    return f"<p>guards</p><ul>{items}</ul>"


def metrics_table_html(scores: MetricScores, title: str = "") -> str:
    head = "<tr><th>metric</th><th>%</th><th>95% CI</th></tr>"
    rows = []
    for metric, value in scores.values.items():
        low, high = (scores.ci95.get(metric) or [None, None])[:2]
        rows.append(f"<tr><td>{escape(metric)}</td><td>{_percent(value)}</td><td>{_percent(low)} - {_percent(high)}</td></tr>")
    caption = f"<caption>{escape(title)} (n = {scores.n})</caption>"
    return f"<table>{caption}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
