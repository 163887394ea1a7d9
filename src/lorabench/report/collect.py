"""Everything a report shows, read back from a finished `lorabench run` folder.

The report is rebuilt from files only (never from memory), so `lorabench report RUN_DIR` on an old
run gives the same report as the run itself did.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lorabench.compare import MetricComparison, compare_rows
from lorabench.data.records import TaskKind
from lorabench.errors import LorabenchError
from lorabench.guards import generated
from lorabench.items import ItemPair, category_counts, pair_items, sibling_golds
from lorabench.metrics.scoring import HAS_SHORT_SUBSET, in_short_subset
from lorabench.paired_runs import read_eval
from lorabench.predictions import PredictionRow
from lorabench.runs import read_jsonl
from lorabench.strategies.accounting import accounting_summary


@dataclass(frozen=True)
class ShortSubset:
    """base vs tuned, paired, on the items whose gold answer has at most `thresh` tokens."""

    thresh: int
    n: int
    comparisons: list[MetricComparison]  # empty when no item is short


def short_subset(
    task: TaskKind,
    base_rows: Sequence[PredictionRow],
    tuned_rows: Sequence[PredictionRow],
    thresh: int,
    alpha: float = 0.05,
    resamples: int = 10_000,
) -> ShortSubset | None:
    """The paired comparison restricted to the short-answer subset (the same items and tests as
    `metrics.json`'s `short` block); None for tasks without one (choice, math)."""
    if TaskKind(task) not in HAS_SHORT_SUBSET:
        return None
    ids = {r["id"] for r in base_rows if in_short_subset(task, [str(g) for g in r["gold"]], thresh)}
    base = [r for r in base_rows if r["id"] in ids]
    tuned = [r for r in tuned_rows if r["id"] in ids]
    return ShortSubset(thresh, len(ids), compare_rows(task, base, tuned, alpha, resamples) if ids else [])


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


def comparison_from_dict(payload: dict[str, Any]) -> MetricComparison:
    """Rebuild a stored comparison; fields added in later versions take their defaults."""
    known = {f.name for f in dataclasses.fields(MetricComparison)}
    return MetricComparison(**{k: v for k, v in payload.items() if k in known})


def _questions(test: list[dict[str, Any]]) -> dict[str, str]:
    """Question (or instruction) text by id, from the saved test split."""
    return {str(row["id"]): str(row.get("question") or row.get("instruction") or "") for row in test}


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
    questions = _questions(test)
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
        short=short_subset(task, base_rows, tuned.rows, int(metrics.get("short_thresh", 3)),
                           float(metrics.get("alpha", 0.05)), int(metrics.get("bootstrap_resamples", 10_000))),
    )
