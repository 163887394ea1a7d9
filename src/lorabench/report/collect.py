"""Everything a report shows, read back from a finished `lorabench run` folder.

The report is rebuilt from files only (never from memory), so `lorabench report RUN_DIR` on an old
run gives the same report as the run itself did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorabench.comparison.paired import MetricComparison, ShortSubset, comparison_from_dict, short_subset
from lorabench.data.records import TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from lorabench.comparison.items import ItemPair, category_counts, pair_items, sibling_golds
from lorabench.comparison.paired_runs import read_eval
from lorabench.runs.predictions import PredictionRow, generated
from lorabench.runs.folder import questions_by_id, read_jsonl
from lorabench.evaluation.accounting import accounting_summary
from lorabench.results.judged import JudgeResult


@dataclass
class RetentionData:
    """The retention check as summary.json stored it: lm-eval tasks, base vs tuned."""

    comparisons: list[MetricComparison]  # each named TASK/METRIC
    items: dict[str, int]  # task -> documents paired
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_summary(cls, payload: dict[str, Any] | None) -> "RetentionData | None":
        if not payload:
            return None
        return cls([comparison_from_dict(c) for c in payload["comparison"]], dict(payload.get("items") or {}),
                   list(payload.get("notes") or []))


@dataclass
class ReportData:
    run_dir: Path
    task: TaskKind
    config: dict[str, Any]
    summary: dict[str, Any]
    comparisons: list[MetricComparison]
    pairs: list[ItemPair]
    categories: dict[str, dict[str, int]]  # "base"/"tuned" -> category -> count
    costs: dict[str, dict[str, dict[str, float]]]  # "base"/"tuned" -> strategy -> accounting_summary values
    train_log: list[dict[str, Any]]
    generated: bool  # answers were generated text (not log-prob or letter choice scoring)
    short: ShortSubset | None
    retention: RetentionData | None = None  # only for runs whose config lists retention tasks
    judge: JudgeResult | None = None  # only for runs whose config has a judge: section (judge/ in the folder)

    @property
    def metric_names(self) -> list[str]:
        return [c.metric for c in self.comparisons]

    def interval(self, which: str, metric: str) -> tuple[float | None, float | None, float | None]:
        """(value, low, high) of a metric for "base" or "tuned", as the summary stored them."""
        block = self.summary[which]
        low, high = block.get("ci95", {}).get(metric, [None, None])
        return block.get(metric), low, high

    def short_interval(self, which: str, metric: str) -> tuple[float | None, float | None, float | None]:
        """The same on the short-answer subset (None where the summary has no `short` block)."""
        block = self.summary[which].get("short") or {}
        low, high = block.get("ci95", {}).get(metric, [None, None])
        return block.get(metric), low, high


def _short(
    summary: dict[str, Any], task: TaskKind, base_rows: list[PredictionRow], tuned_rows: list[PredictionRow],
    metrics: dict[str, Any],
) -> ShortSubset | None:
    """The run's short-subset comparison as its summary stored it; computed again only when the
    summary predates storing it or the config's thresholds changed since."""
    thresh = int(metrics.get("short_thresh", 3))
    alpha, resamples = float(metrics.get("alpha", 0.05)), int(metrics.get("bootstrap_resamples", 10_000))
    stored = summary.get("short_comparison")
    if stored is not None and (stored["thresh"], stored["alpha"], stored["resamples"]) == (thresh, alpha, resamples):
        return ShortSubset.from_dict(stored)
    return short_subset(get_task(task), base_rows, tuned_rows, thresh, alpha, resamples)


def collect(run_dir: str | Path) -> ReportData:
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise LorabenchError(
            f"{run_dir}: no summary.json; not a finished `lorabench run` folder (rerun the same config to finish it)"
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) if (run_dir / "config.yaml").exists() else {}
    task = TaskKind(summary["task"])
    base, tuned = read_eval(run_dir / "base"), read_eval(run_dir / "tuned")
    test = read_jsonl(run_dir / "data" / "test.jsonl")
    questions = questions_by_id(test)
    siblings = sibling_golds(test)
    # Predictions are stored in the order they were made (longest prompts first); show the test order.
    position = {item_id: index for index, item_id in enumerate(questions)}
    base_rows = sorted(base.rows, key=lambda row: position.get(row["id"], len(position)))
    metrics = (config or {}).get("metrics") or {}
    return ReportData(
        run_dir=run_dir,
        task=task,
        config=config or {},
        summary=summary,
        comparisons=[comparison_from_dict(c) for c in summary["comparison"]],
        pairs=pair_items(task, base_rows, tuned.rows, questions, siblings),
        categories={"base": category_counts(task, base.rows, siblings), "tuned": category_counts(task, tuned.rows, siblings)},
        costs={"base": accounting_summary(base.rows), "tuned": accounting_summary(tuned.rows)},
        train_log=read_jsonl(run_dir / "train" / "train_log.jsonl"),
        generated=generated(base.rows) or generated(tuned.rows),
        short=_short(summary, task, base_rows, tuned.rows, metrics),
        retention=RetentionData.from_summary(summary.get("retention")),
        judge=JudgeResult.read(run_dir / "judge"),
    )
