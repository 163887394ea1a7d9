"""`lorabench run`: the command prints the tables, the guards and the run folder; a bad config is one line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


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
