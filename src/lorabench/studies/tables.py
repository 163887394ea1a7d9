"""A study's tables, rebuilt from the run folders on disk: one row per run, one per epoch, one per
strategy and model state, and paired comparisons between runs that differ in one swept dimension."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.comparison.paired import MetricComparison, compare_rows
from lorabench.core.kinds import get_task
from lorabench.data.records import TaskKind
from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.metrics.scoring import TASK_METRICS
from lorabench.comparison.paired_runs import read_eval
from lorabench.runs.predictions import PredictionRow, generated
from lorabench.comparison.paired import ShortSubset, comparison_from_dict, short_subset
from lorabench.report.view import cost_columns
from lorabench.runs.folder import read_jsonl
from lorabench.evaluation.accounting import accounting_summary, row_cost
from lorabench.studies.grid import DIMENSIONS, GridPoint, Study
from lorabench.studies.cells import EPOCHS_DIR, VALIDATION_DIR

ACCOUNTING = ("EM", "F1", "Lenient", "Q/Ctx", "PromptTok", "GenTok", "PromptTok_API", "Latency", "ParseFail")
QUALITY = {"EM": "exact_match", "F1": "f1", "Lenient": "lenient_match"}  # accounting_summary's names


@dataclass
class FinishedRun:
    point: GridPoint
    summary: dict[str, Any]
    base_rows: list[PredictionRow]
    tuned_rows: list[PredictionRow]
    comparisons: list[MetricComparison]
    epochs: list[dict[str, Any]]  # test metrics per epoch (eval_each_epoch), else empty
    train_log: list[dict[str, Any]]
    validation: dict[str, Any] | None = None  # the tuned adapter's metrics.json on validation (studies over params)

    @property
    def task(self) -> TaskKind:
        return TaskKind(self.summary["task"])

    @property
    def generated(self) -> bool:
        """Answers were generated text (not log-prob or letter choice scoring)."""
        return generated(self.base_rows) or generated(self.tuned_rows)

    @property
    def train_size(self) -> int:
        """Training examples the run used: the one number every table and page shows (the grid
        value may be unset, meaning all, or larger than the train split)."""
        return int(self.summary["sizes"]["train"])

    def short(self) -> ShortSubset | None:
        """base vs tuned on the run's short-answer subset, as its report shows it (stored by the run)."""
        metrics = self.point.config.metrics
        stored = self.summary.get("short_comparison")
        if stored is not None and (stored["thresh"], stored["alpha"], stored["resamples"]) == (
            metrics.short_thresh, metrics.alpha, metrics.bootstrap_resamples
        ):
            return ShortSubset.from_dict(stored)
        return short_subset(get_task(self.task), self.base_rows, self.tuned_rows, metrics.short_thresh, metrics.alpha,
                            metrics.bootstrap_resamples)


def finished_runs(study: Study) -> list[FinishedRun]:
    """Every grid point with a summary on disk, in grid order; unfinished ones are left out."""
    runs = []
    for point in study.points:
        out = Path(point.config.out)
        if not (out / "summary.json").exists():
            continue
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        epochs_file = out / EPOCHS_DIR / "done.json"
        validation_file = out / VALIDATION_DIR / "metrics.json"
        runs.append(FinishedRun(
            point=point, summary=summary,
            base_rows=read_eval(out / "base").rows, tuned_rows=read_eval(out / "tuned").rows,
            comparisons=[comparison_from_dict(c) for c in summary["comparison"]],
            epochs=json.loads(epochs_file.read_text(encoding="utf-8")) if epochs_file.exists() else [],
            train_log=read_jsonl(out / "train" / "train_log.jsonl"),
            validation=json.loads(validation_file.read_text(encoding="utf-8")) if validation_file.exists() else None,
        ))
    return runs


def _identity(run: FinishedRun) -> dict[str, Any]:
    return {"run": run.point.name, **run.point.values, "train_size": run.train_size}


def work_seconds(run: FinishedRun) -> dict[str, float | None]:
    """Seconds each stage took when it ran (summaries from before `work_seconds` existed fall back
    to that session's wall times)."""
    if "work_seconds" in run.summary:
        return run.summary["work_seconds"]
    timings = run.summary.get("timings", {})
    return {k: timings.get(f"{k}_seconds") for k in ("base_eval", "train", "tuned_eval")}


def run_rows(runs: list[FinishedRun]) -> list[dict[str, Any]]:
    """runs.csv: settings, every metric base/tuned with intervals, the paired change and verdict, times."""
    rows = []
    for run in runs:
        row = _identity(run)
        row["train_items"] = run.train_size
        row["test_items"] = run.summary["sizes"]["test"]
        row.update(_metric_columns(run.comparisons, run.summary["base"], run.summary["tuned"]))
        short = run.short()
        if short is not None:
            row["short_items"] = short.n
            row.update(_metric_columns(short.comparisons, run.summary["base"].get("short") or {},
                                       run.summary["tuned"].get("short") or {}, infix="short_"))
        work = work_seconds(run)
        training = run.summary.get("training") or {}
        row.update({
            "train_seconds": work["train"], "base_eval_seconds": work["base_eval"], "tuned_eval_seconds": work["tuned_eval"],
            "train_tokens_per_second": training.get("tokens_per_second"),
        })
        if run.generated:  # scored choices generate nothing: no rate to show
            tokens = sum(row_cost(r).generated for r in run.tuned_rows)
            row["tuned_eval_generated_tokens_per_second"] = round(tokens / work["tuned_eval"], 1) if work["tuned_eval"] else None
        row["steps"] = training.get("steps")
        rows.append(row)
    return rows


def _metric_columns(
    comparisons: list[MetricComparison], base: dict[str, Any], tuned: dict[str, Any], infix: str = ""
) -> dict[str, Any]:
    """Per metric: base and tuned with their 95% intervals (as metrics.json stored them), the
    paired change, p-value and verdict; `infix` names a subset (base_short_exact_match, ...)."""
    out: dict[str, Any] = {}
    for c in comparisons:
        for which, block in (("base", base), ("tuned", tuned)):
            low, high = (block.get("ci95") or {}).get(c.metric, [None, None])
            name = f"{which}_{infix}{c.metric}"
            out.update({name: block.get(c.metric), f"{name}_low": low, f"{name}_high": high})
        out.update({f"change_{infix}{c.metric}": round(c.difference, 6), f"p_{infix}{c.metric}": c.p_value,
                    f"verdict_{infix}{c.metric}": c.verdict})
    return out


def epoch_rows(runs: list[FinishedRun]) -> list[dict[str, Any]]:
    """epochs.csv: per run and epoch, the validation numbers from the training log and, when the
    study evaluated every epoch, the test metrics with intervals."""
    rows = []
    for run in runs:
        by_epoch: dict[float, dict[str, Any]] = {}
        for entry in run.train_log:
            values = {k: v for k, v in entry.items() if k.startswith("val_")}
            if values:
                by_epoch.setdefault(round(float(entry["epoch"]), 2), {"step": entry.get("step")}).update(values)
        for entry in run.epochs:
            slot = by_epoch.setdefault(round(float(entry["epoch"]), 2), {"step": entry["step"]})
            metrics = entry["metrics"]
            for name in TASK_METRICS[run.task]:
                low, high = metrics["ci95"][name]
                slot.update({f"test_{name}": metrics[name], f"test_{name}_low": low, f"test_{name}_high": high})
        rows += [{**_identity(run), "epoch": epoch, **values} for epoch, values in sorted(by_epoch.items())]
    return rows


def strategy_columns(runs: list[FinishedRun]) -> list[str]:
    """The quality and cost columns that apply to the study's task and choice mode: EM / F1 /
    Lenient where the task has those metrics (else its primary metric), generated tokens and
    parse failures only where answers were generated."""
    tasks = {run.task for run in runs}
    quality = [name for name, metric in QUALITY.items() if any(metric in TASK_METRICS[task] for task in tasks)]
    if not quality:
        quality = list(dict.fromkeys(PRIMARY_METRIC[task] for task in tasks))
    costs = [name for name in ACCOUNTING if name not in QUALITY]
    return quality + cost_columns(costs, any(run.generated for run in runs))


def _primary_by_strategy(run: FinishedRun, predictions: list[dict[str, Any]]) -> dict[str, float]:
    metric = PRIMARY_METRIC[run.task]
    by_strategy: dict[str, list[float]] = {}
    for row in predictions:
        by_strategy.setdefault(row.get("strategy", "single"), []).append(float(row["scores"][metric]))
    return {strategy: sum(values) / len(values) for strategy, values in by_strategy.items()}


def strategy_rows(runs: list[FinishedRun]) -> list[dict[str, Any]]:
    """strategies.csv: the cost/quality table of each run's base and tuned evaluation, in the
    columns that apply (`strategy_columns`)."""
    columns = strategy_columns(runs)
    rows = []
    for run in runs:
        for which, predictions in (("base", run.base_rows), ("tuned", run.tuned_rows)):
            primary = _primary_by_strategy(run, predictions)
            for strategy, values in accounting_summary(predictions).items():
                values = {**values, PRIMARY_METRIC[run.task]: primary[strategy]}
                rows.append({**_identity(run), "model_state": which, "strategy": strategy,
                             **{name: values.get(name) for name in columns}})
    return rows


@dataclass(frozen=True)
class CrossComparison:
    dimension: str
    a: FinishedRun
    b: FinishedRun
    comparisons: list[MetricComparison]

    @property
    def primary(self) -> MetricComparison:
        metric = PRIMARY_METRIC[self.a.task]
        return next(c for c in self.comparisons if c.metric == metric)


def cross_comparisons(runs: list[FinishedRun], dimensions: list[str], alpha: float, resamples: int) -> list[CrossComparison]:
    """Tuned vs tuned, paired on the shared test items, for runs that differ in exactly one swept
    dimension: consecutive values of that dimension (e.g. 200 -> 1000 examples), others held fixed."""
    found = []
    every = [*DIMENSIONS, *(k for k in (runs[0].point.values if runs else {}) if k not in DIMENSIONS)]
    for dimension in dimensions:
        others = [d for d in every if d != dimension]
        groups: dict[str, list[FinishedRun]] = {}
        for run in runs:
            groups.setdefault(json.dumps([str(run.point.values[d]) for d in others]), []).append(run)
        for members in groups.values():
            for a, b in zip(members, members[1:]):
                found.append(CrossComparison(dimension, a, b, compare_rows(get_task(a.task), a.tuned_rows, b.tuned_rows, alpha, resamples)))
    return found


def cross_rows(found: list[CrossComparison]) -> list[dict[str, Any]]:
    return [
        {"dimension": x.dimension, "a": x.a.point.name, "b": x.b.point.name, "metric": c.metric, "a_value": round(c.base, 6),
         "b_value": round(c.tuned, 6), "change": round(c.difference, 6), "p_value": c.p_value, "test": c.test,
         "verdict": c.verdict, "improved": c.improved, "regressed": c.regressed, "min_detectable": c.min_detectable}
        for x in found for c in x.comparisons
    ]
