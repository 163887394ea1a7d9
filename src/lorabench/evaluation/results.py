"""What an evaluation leaves: its outcome (`EvalOutcome`), and the files its run folder reports
(`write_results`): metrics.json, and `lm_eval_results.json`, the same in lm-evaluation-harness's
results layout.

Dashboards and scripts that read lm-eval's `results_<date>.json` (`results.<task>."<metric>,none"`,
its `_stderr`, `n-samples`, `higher_is_better`, `config`) read lorabench evaluations the same way.
The task is named `lorabench_<kind>`; lm-eval's filter is always `none` here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorabench.core.version import __version__
from lorabench.comparison.prompt_change import PromptDifference
from lorabench.metrics.scoring import LOWER_IS_BETTER, SCORING_VERSION, TaskMetrics
from lorabench.runs.predictions import PredictionRow, generated
from lorabench.runs.folder import RunFolder, library_versions, write_json

LM_EVAL_RESULTS = "lm_eval_results.json"


@dataclass
class EvalOutcome:
    run: RunFolder | None
    rows: list[PredictionRow]
    metrics: TaskMetrics
    resumed: int  # items found already done in the folder
    prompt_change: PromptDifference | None = None  # evaluated under prompts the adapter was not trained with
    engines: list[dict[str, Any]] = field(default_factory=list)  # this session's generation passes (inference.base.engines_used)


def write_results(outcome: EvalOutcome, model: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """The outcome's metrics.json and lm_eval_results.json, in its run folder, for the model
    `model` describes (`LoadedModel.describe`, as config.yaml holds it). metrics.json holds the
    metrics, `extra`, and how the answers were made: the precision the model computed in (config.yaml's
    model.dtype), the engine of each generation pass (and why it was not the continuous one) and the
    library versions."""
    assert outcome.run is not None
    made = {"precision": model["dtype"], "engines": outcome.engines, "versions": library_versions()}
    write_json(outcome.run.metrics_path, {**outcome.metrics.to_dict(), **(extra or {}), **made})
    write_lm_eval_results(outcome.run.path, outcome.metrics, outcome.rows, model)


def mean_stderr(values: Sequence[float]) -> float | str:
    """lm-eval's standard error of a mean: sample standard deviation (n - 1) over sqrt(n); "N/A" below 2 items."""
    n = len(values)
    if n < 2:
        return "N/A"
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def lm_eval_results(metrics: TaskMetrics, rows: Sequence[PredictionRow], model: dict[str, Any]) -> dict[str, Any]:
    """The results object for one evaluation; `model` is the loaded model's `describe()`."""
    task = f"lorabench_{metrics.task.value}"
    scores: dict[str, Any] = {"name": task, "alias": task, "sample_len": len(rows)}
    for name, aggregate in metrics.metrics.items():
        scores[f"{name},none"] = None if math.isnan(aggregate.value) else aggregate.value
        scores[f"{name}_stderr,none"] = mean_stderr([r["scores"][name] for r in rows])
    higher = {name: name not in LOWER_IS_BETTER for name in metrics.metrics}
    output_type = "generate_until" if generated(rows) else "multiple_choice"
    return {
        "results": {task: scores},
        "group_subtasks": {task: []},
        "configs": {task: {
            "task": task, "output_type": output_type, "num_fewshot": 0,
            "metric_list": [{"metric": name, "aggregation": "mean", "higher_is_better": up} for name, up in higher.items()],
            "metadata": {"lorabench": __version__, "scoring_version": SCORING_VERSION},
        }},
        "versions": {task: SCORING_VERSION},
        "n-shot": {task: 0},
        "higher_is_better": {task: higher},
        "n-samples": {task: {"original": len(rows), "effective": len(rows)}},
        "config": {
            "model": "lorabench",
            "model_args": {"pretrained": model.get("name"), **({"peft": model["adapter"]} if model.get("adapter") else {})},
            "model_dtype": model.get("dtype"),
            "device": model.get("device"),
        },
        "model_name": model.get("name"),
    }


def write_lm_eval_results(folder: Path, metrics: TaskMetrics, rows: Sequence[PredictionRow], model: dict[str, Any]) -> Path:
    return write_json(Path(folder) / LM_EVAL_RESULTS, lm_eval_results(metrics, rows, model))
