"""What a tracker run gets, read from a real finished run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorabench.core.errors import LorabenchError
from lorabench.tracking.record import MAX_PARAM_CHARS, flatten, read_run


def test_flatten_names_nested_keys_and_cuts_long_values() -> None:
    flat = flatten({"training": {"lr": 0.0002, "report_to": []}, "prompt": {"system": "x" * 2000}, "task": "extractive"})
    assert flat["training.lr"] == "0.0002" and flat["training.report_to"] == "[]" and flat["task"] == "extractive"
    assert len(flat["prompt.system"]) == MAX_PARAM_CHARS and flat["prompt.system"].endswith("…")


def test_a_finished_run_gives_config_versions_curves_results_guards_items_and_files(finished_run: Path) -> None:
    run = read_run(finished_run)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert run.name == "demo-run" and run.kind == "run"
    assert run.params["lora.r"] == "2" and run.params["task"] == "extractive"
    for library in ("lorabench", "torch", "transformers", "peft"):
        assert run.params[f"versions.{library}"] not in ("", "null")
    log = [json.loads(line) for line in (finished_run / "train" / "train_log.jsonl").read_text().splitlines()]
    logged = [row["step"] for row in log if "loss" in row]
    assert [step for step, values in run.curves if "train/loss" in values] == logged
    for stage in ("base", "tuned"):
        assert run.metrics[f"{stage}.exact_match"] == summary[stage]["exact_match"]
        assert [run.metrics[f"{stage}.f1.ci_low"], run.metrics[f"{stage}.f1.ci_high"]] == summary[stage]["ci95"]["f1"]
    for comparison in summary["comparison"]:
        metric = comparison["metric"]
        assert run.metrics[f"compare.{metric}.p_value"] == comparison["p_value"]
        assert run.metrics[f"compare.{metric}.difference"] == comparison["difference"]
        assert run.labels[f"verdict.{metric}"] == comparison["verdict"]
        assert run.labels[f"role.{metric}"] == comparison["role"]
    assert run.labels["role.exact_match"] == "primary" and run.labels["role.f1"] == "secondary"
    assert run.labels["verdict"] == f"{summary['verdict']['verdict']} (exact_match)"
    for guard in summary["guards"]:
        assert run.metrics[f"guard.{guard['name']}.ok"] == float(guard["ok"])
    items = run.tables["items"]
    assert items.columns[:5] == ["id", "question", "gold", "base_answer", "tuned_answer"]
    assert "base_f1" in items.columns and "tuned_exact_match" in items.columns
    test = [json.loads(line) for line in (finished_run / "data" / "test.jsonl").read_text().splitlines()]
    assert len(items.rows) == summary["sizes"]["test"] == len(test)
    first = items.records()[0]
    assert first["question"] == next(t["question"] for t in test if t["id"] == first["id"])
    assert [row[0] for row in run.tables["comparisons"].rows] == [c["metric"] for c in summary["comparison"]]
    assert {path.name for path in run.artifacts} >= {"report.html", "summary.json", "config.yaml"}


def test_an_unfinished_folder_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text("task: extractive\n")
    with pytest.raises(LorabenchError, match="half: no summary.json"):
        read_run(tmp_path / "half")
