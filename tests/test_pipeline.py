"""`lorabench run` end to end on a tiny model: stages, files, guards, skipping on rerun."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.errors import LeakageError
from lorabench.pipeline import run_pipeline


def _config(model_path, data_path, out, **data) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": str(model_path),
            "task": "extractive",
            "data": {"source": str(data_path), "split": {"test": 8, "validation": 4, "seed": 0}, **data},
            "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
            "training": {"epochs": 1, "batch_size": 4, "lr": 5e-3, "val_metric_items": 2, "logging_steps": 1},
            "decoding": {"max_new_tokens": 4, "batch_size": 4},
            "metrics": {"bootstrap_resamples": 200},
            "out": str(out),
        }
    )


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


def test_pipeline_writes_every_stage_and_skips_them_on_rerun(tiny_causal_path, qa_file, tmp_path):
    messages: list[str] = []
    config = _config(tiny_causal_path, qa_file, tmp_path / "run")
    result = run_pipeline(config, say=messages.append)
    out = tmp_path / "run"
    for name in ("config.yaml", "data/train.jsonl", "data/test.jsonl", "data/leakage.json", "base/predictions.jsonl",
                 "base/metrics.json", "train/adapter/adapter_model.safetensors", "train/adapter/lorabench.json",
                 "train/train_log.jsonl", "tuned/predictions.jsonl", "tuned/metrics.json", "summary.json", "summary.csv"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sizes"]["test"] == result.base.metrics.n
    assert {g["name"] for g in summary["guards"]} == {"format_mismatch", "adapter_applied", "answers_cut", "eos_learned"}
    assert next(g for g in summary["guards"] if g["name"] == "format_mismatch")["ok"] is True
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["metric"] for r in rows][:2] == ["exact_match", "f1"]
    assert rows[0]["test"] == "mcnemar_exact" and rows[1]["test"] == "paired_bootstrap"
    # the same items, the same prompts, for base and tuned
    base_ids = [json.loads(line)["id"] for line in (out / "base" / "predictions.jsonl").read_text().splitlines()]
    tuned_rows = [json.loads(line) for line in (out / "tuned" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(base_ids) == sorted(r["id"] for r in tuned_rows)

    messages.clear()
    again = run_pipeline(config, say=messages.append)
    assert any("skipping" in m for m in messages)
    assert again.train is None  # nothing retrained
    assert again.base.resumed == again.base.metrics.n and again.tuned.resumed == again.tuned.metrics.n
    assert [c.to_dict() for c in again.comparisons] == [c.to_dict() for c in result.comparisons]
    # the work each stage took survives the rerun that skipped it (this session's timings do not)
    assert again.summary["work_seconds"] == result.summary["work_seconds"]
    assert result.summary["work_seconds"]["train"] > 0 and result.summary["work_seconds"]["base_eval"] > 0


def test_leakage_stops_the_run_unless_allowed(tiny_causal_path, qa_file, tmp_path):
    config = RunConfig.model_validate(
        {
            "model": str(tiny_causal_path),
            "task": "extractive",
            "data": {"train": str(qa_file), "test": str(qa_file), "split": {"validation": 0}},
            "out": str(tmp_path / "leaky"),
        }
    )
    with pytest.raises(LeakageError, match="allow_leakage"):
        run_pipeline(config, say=lambda m: None)
    assert not (tmp_path / "leaky" / "base").exists()  # stopped before any model work


def test_cli_run_prints_table_guards_and_folder(tiny_causal_path, qa_file, tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text(
        f"""model: {tiny_causal_path}
task: extractive
data:
  source: {qa_file}
  split: {{test: 8, validation: 4}}
lora: {{r: 2, target_modules: [q_proj, v_proj]}}
training: {{epochs: 1, batch_size: 4, val_metric_items: 0}}
decoding: {{max_new_tokens: 4}}
metrics: {{bootstrap_resamples: 200}}
out: {tmp_path / "cli-run"}
"""
    )
    result = CliRunner().invoke(app, ["run", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "base vs tuned" in result.output and "exact_match" in result.output
    assert "evaluation prompts equal training prompts" in result.output.replace("\n", " ")  # guard lines
    assert f"run folder: {tmp_path / 'cli-run'}" in result.output.replace("\n", "")


def test_cli_run_bad_config_is_one_line(tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("model: x\ntask: extractive\ndata: {source: a.jsonl}\ntraining: {lr: fast}\n")
    result = CliRunner().invoke(app, ["run", str(config_file)])
    assert result.exit_code == 2
    assert "run.yaml:4: training.lr:" in result.output.replace("\n", "")
