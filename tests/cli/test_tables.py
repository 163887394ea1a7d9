"""The terminal tables, drawn from the typed results (metrics.json's and summary.json's shapes)."""

from __future__ import annotations

from rich.console import Console

from lorabench.cli.tables import comparison_table, metrics_table
from lorabench.results import MetricScores, MetricVerdict


def _text(table) -> str:  # noqa: ANN001
    console = Console(record=True, width=160)
    console.print(table)
    return console.export_text()


def test_metrics_table_shows_percentages_and_a_dash_where_a_figure_is_undefined():
    scores = MetricScores.model_validate({
        "task": "extractive", "n": 4, "exact_match": 0.25, "f1": None,
        "ci95": {"exact_match": [0.05, 0.7], "f1": [None, None]},
        "short": {"n": 2, "exact_match": 0.5, "f1": None, "ci95": {"exact_match": [0.1, 0.9], "f1": [None, None]}},
    })
    lines = _text(metrics_table(scores)).splitlines()
    assert "extractive metrics (n=4, %, 95% CI)" in lines[0]
    em = next(line for line in lines if "exact_match" in line)
    assert "25.0" in em and "[5.0, 70.0]" in em and "50.0" in em and "[10.0, 90.0]" in em
    f1 = next(line for line in lines if " f1 " in line)
    assert f1.count("-") >= 4  # value and interval, overall and short


def test_comparison_table_reads_verdicts_as_summary_json_holds_them():
    before = MetricScores.model_validate({"n": 10, "exact_match": 0.1, "ci95": {"exact_match": [0.0, 0.4]}})
    after = MetricScores.model_validate({"n": 10, "exact_match": 0.6, "ci95": {"exact_match": [0.3, 0.85]}})
    verdict = MetricVerdict(metric="exact_match", n=10, base=0.1, tuned=0.6, difference=0.5, p_value=0.03125,
                            test="mcnemar_exact", verdict="better", improved=5, regressed=0)
    text = _text(comparison_table([verdict], before, after, names=("A", "B")))
    row = next(line for line in text.splitlines() if "exact_match" in line)
    assert "10.0 [0.0,40.0]" in row and "60.0 [30.0,85.0]" in row and "+50.0 (+5/-0)" in row
    assert "0.031" in row and "better" in row
    assert "A vs B on 10 items" in text
