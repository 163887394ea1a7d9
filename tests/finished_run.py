"""One real finished run of the tiny model, made once per test module that asks for it; each test
gets its own copy (`run_folder`). Shared by the tracking tests and `lorabench track`'s CLI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.run import run_pipeline
from tests.run_configs import tiny_run


@pytest.fixture(scope="module")
def finished_run(tiny_causal_path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tracked")
    data = save_records(synthesize("extractive", 24, seed=3), root / "qa.jsonl")
    config = tiny_run(tiny_causal_path, data, root / "demo-run", test=6, validation=2, training={"val_metric_items": 0})
    run_pipeline(RunConfig.model_validate(config), say=lambda _: None)
    return root / "demo-run"


@pytest.fixture
def run_folder(finished_run, tmp_path) -> Path:
    """A copy of the finished run, named like it, for one test to send."""
    return Path(shutil.copytree(finished_run, tmp_path / finished_run.name))
