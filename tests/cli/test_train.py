"""`lorabench train`: an adapter only, with one line per training log and the folders it wrote."""

from __future__ import annotations

import re

import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from tests.run_configs import tiny_run


def test_train_prints_its_steps_and_the_adapter_and_merged_folders(tiny_causal_path, tmp_path):
    data = save_records(synthesize("extractive", 20, seed=3), tmp_path / "qa.jsonl")
    config = tiny_run(tiny_causal_path, data, tmp_path / "run", training={"max_steps": 2, "logging_steps": 1, "val_metric_items": 0})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(tmp_path / "run.yaml"), "--merge"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert re.search(r"trained 2 steps \(\d+\.\d\d epochs\) in \d+ s, \d+ tokens/s\n", result.output)
    assert [int(step) for step in re.findall(r"  train step (\d+): loss ", result.output)] == [1, 2]
    adapter, merged = tmp_path / "run" / "train" / "adapter", tmp_path / "run" / "train" / "merged"
    flat = result.output.replace("\n", "")  # the console wraps at its own width
    assert f"adapter: {adapter}" in flat and f"merged model: {merged}" in flat
    assert (adapter / "adapter_model.safetensors").is_file() and (merged / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "base").exists() and not (tmp_path / "run" / "tuned").exists()  # no evaluations
