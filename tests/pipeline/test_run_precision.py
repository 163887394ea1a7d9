"""`lorabench run` at model.dtype bfloat16 on the CPU: every pass runs in it, and the run folder says so."""

from __future__ import annotations

import json
import warnings

import pytest
import yaml

from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.run import run_pipeline
from tests.run_configs import tiny_run


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft/transformers deprecation chatter
        yield


def test_a_bfloat16_run_records_the_precision_of_every_pass(tiny_causal_path, tmp_path):
    data = save_records(synthesize("extractive", 30, seed=7), tmp_path / "qa.jsonl")
    raw = tiny_run(tiny_causal_path, data, tmp_path / "run", training={"lr": 5e-3, "val_metric_items": 0})
    raw["model"] = {"name": raw["model"], "dtype": "bfloat16"}
    result = run_pipeline(RunConfig.model_validate(raw), say=lambda _: None)
    out = tmp_path / "run"
    assert result.summary["precision"] == {
        "base_eval": "bfloat16",
        "training": {"weights": "bfloat16", "autocast": "bfloat16", "adapter": "float32"},
        "tuned_eval": "bfloat16",
    }
    for stage in ("base", "tuned"):
        assert yaml.safe_load((out / stage / "config.yaml").read_text())["model"]["dtype"] == "bfloat16"
        assert json.loads((out / stage / "metrics.json").read_text())["precision"] == "bfloat16"
    assert json.loads((out / "train" / "adapter" / "lorabench.json").read_text())["precision"]["autocast"] == "bfloat16"
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["dtype"] == "bfloat16"
