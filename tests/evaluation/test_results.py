"""What an evaluation writes: lm_eval_results.json, a lorabench evaluation in lm-eval's results layout, readable by
lm-eval's own tools (metrics.json: tests/evaluation/test_runner.py)."""

from __future__ import annotations

import pytest
from lm_eval.api.metrics import mean_stderr as lm_eval_mean_stderr
from lm_eval.utils import make_table

from lorabench.data.records import TaskKind
from lorabench.evaluation.results import lm_eval_results, mean_stderr
from lorabench.metrics.scoring import TaskMetrics, aggregate

SCORES = [{"accuracy": 1.0, "no_choice": 0.0}, {"accuracy": 0.0, "no_choice": 1.0}, {"accuracy": 1.0, "no_choice": 0.0}]


def _results(stop_reason: str) -> dict:
    rows = [{"id": str(i), "scores": s, "stop_reason": stop_reason} for i, s in enumerate(SCORES)]
    metrics = TaskMetrics(TaskKind.choice, len(rows), aggregate(TaskKind.choice, SCORES))
    return lm_eval_results(metrics, rows, {"name": "org/model", "adapter": "runs/x/train/adapter", "dtype": "float32"})  # type: ignore[arg-type]


def test_values_stderr_and_sample_counts_are_lm_evals():
    payload = _results("logprob")
    scores = payload["results"]["lorabench_choice"]
    assert scores["accuracy,none"] == pytest.approx(2 / 3)
    assert scores["accuracy_stderr,none"] == pytest.approx(lm_eval_mean_stderr([1.0, 0.0, 1.0]))
    assert payload["n-samples"] == {"lorabench_choice": {"original": 3, "effective": 3}}
    assert payload["higher_is_better"]["lorabench_choice"] == {"accuracy": True, "no_choice": False}
    assert payload["configs"]["lorabench_choice"]["output_type"] == "multiple_choice"
    assert payload["config"]["model_args"] == {"pretrained": "org/model", "peft": "runs/x/train/adapter"}
    assert _results("eos")["configs"]["lorabench_choice"]["output_type"] == "generate_until"
    assert mean_stderr([1.0]) == "N/A"


def test_lm_evals_own_table_reads_it():
    table = make_table(_results("logprob"))
    row = next(line for line in table.splitlines() if "accuracy" in line)
    assert "lorabench_choice" in row and "0.6667" in row and "0.3333" in row  # value and stderr


def test_every_eval_folder_gets_one_that_agrees_with_its_metrics(tiny_causal_path, tmp_path):
    import json

    from lorabench.data.records import save_records
    from lorabench.data.spec import DataSpec
    from lorabench.data.synth import synthesize
    from lorabench.evaluation.runner import EvalConfig, run_eval
    from lorabench.models.load import ModelSpec

    data = save_records(synthesize("choice", 6, seed=3), tmp_path / "mc.jsonl")
    config = EvalConfig(model=ModelSpec(name=str(tiny_causal_path)), data=DataSpec(path=str(data), task="choice"))
    run_eval(config, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    results = json.loads((tmp_path / "run" / "lm_eval_results.json").read_text())
    scores = results["results"]["lorabench_choice"]
    assert scores["accuracy,none"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    assert results["n-samples"]["lorabench_choice"]["effective"] == metrics["n"] == 6
    assert results["config"]["model_args"] == {"pretrained": str(tiny_causal_path)}
