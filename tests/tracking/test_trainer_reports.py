"""The Trainer's own `report_to`, into the tracker run lorabench opened for the run: one tracker run
holds the Trainer's curves (under its callback's names, once) and lorabench's results, for W&B
(offline files), Trackio (its local store) and TensorBoard (event files), each read back with the
tool's own reader. MLflow's case is in test_run_tracking.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from lorabench.config.run import RunConfig
from lorabench.config.tracking import TrackingSettings
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.run import run_pipeline
from lorabench.tracking.send import read_state
from tests.run_configs import tiny_run


def _config(tiny_causal_path: Path, tmp_path: Path, backend: str, **tracking: Any) -> dict[str, Any]:
    data = save_records(synthesize("extractive", 24, seed=3), tmp_path / "qa.jsonl")
    raw = tiny_run(tiny_causal_path, data, tmp_path / "run", test=6, validation=2,
                   training={"val_metric_items": 0, "report_to": [backend]})
    raw["tracking"] = {"backends": [backend], **tracking}
    return raw


def _loss_steps(folder: Path) -> list[int]:
    """The steps the Trainer logged a training loss at, from the run's own training log."""
    rows = [json.loads(line) for line in (folder / "train" / "train_log.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if "loss" in row]


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def test_wandb_one_offline_session_holds_the_trainers_curves_and_the_results(tiny_causal_path, tmp_path, monkeypatch) -> None:
    wandb = pytest.importorskip("wandb")
    from tests.tracking.wandb_files import offline_runs, read_offline_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    files = tmp_path / "w"
    files.mkdir()
    naming = ("WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT", "WANDB_NAME", "WANDB_DIR", "WANDB_CONSOLE")
    before = {key: os.environ.get(key) for key in naming}
    raw = _config(tiny_causal_path, tmp_path, "wandb", project="lorabench-tests", wandb={"dir": str(files)})
    run_pipeline(RunConfig.model_validate(raw), say=lambda _: None)
    assert wandb.run is None and {key: os.environ.get(key) for key in naming} == before  # closed, restored

    out = tmp_path / "run"
    state = read_state(out)["wandb"]
    assert state["sent"] is True and state["trainer_curves"] is True
    [file] = offline_runs(files)  # one session: the Trainer's, with the results sent into it
    run = read_offline_run(file)
    assert run.run_id == state["run_id"] and (run.name, run.project) == ("run", "lorabench-tests")
    curve = [row for row in run.history if "train/loss" in row]
    assert [row["train/global_step"] for row in curve] == _loss_steps(out)  # the Trainer's curve, and only once
    assert "learning_rate" in run.config and run.config["lora.r"] == "2"  # the Trainer's arguments and lorabench's config
    summary = _summary(out)
    assert run.summary["base.exact_match"] == summary["base"]["exact_match"]
    assert run.summary["verdict.exact_match"] == summary["comparison"][0]["verdict"]
    tables = {key.split("/")[0] for row in run.history for key in row if key.endswith("/_type") and row[key] == "table-file"}
    assert tables == {"items", "comparisons", "guards"}


def test_trackio_one_run_holds_the_trainers_curves_and_the_results(tiny_causal_path, tmp_path) -> None:
    pytest.importorskip("trackio")
    from tests.tracking.trackio_store import python_in, read_project

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_config(tiny_causal_path, tmp_path, "trackio", project="lorabench-tests")))
    store = tmp_path / "trackio"
    python_in(store, f"""
        import torch
        import yaml
        from lorabench.config.run import RunConfig
        from lorabench.pipeline.run import run_pipeline
        torch.set_num_threads(1)
        run_pipeline(RunConfig.model_validate(yaml.safe_load(open({str(config)!r}))), say=lambda _: None)
    """, timeout=600)

    out = tmp_path / "run"
    found = read_project(store, "lorabench-tests")
    assert found["projects"] == ["lorabench-tests"] and found["runs"] == ["run"]  # no second run, no "huggingface" project
    logs = found["logs"]["run"]
    curve = [row for row in logs if "train/loss" in row]
    assert [row["train/global_step"] for row in curve] == _loss_steps(out)  # the Trainer's curve, and only once
    summary = _summary(out)
    [results] = [row for row in logs if "base.exact_match" in row]
    assert results["base.exact_match"] == summary["base"]["exact_match"] and results["step"] > curve[-1]["step"]
    assert len(results["items"]["_value"]) == summary["sizes"]["test"]
    assert found["config"]["lora.r"] == "2" and read_state(out)["trackio"]["trainer_curves"] is True


def test_tensorboard_one_log_dir_holds_the_trainers_curves_and_the_results(tiny_causal_path, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def events(path: Path) -> EventAccumulator:
        found = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
        found.Reload()
        return found

    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    run_pipeline(RunConfig.model_validate(_config(tiny_causal_path, tmp_path, "tensorboard")), say=lambda _: None)
    assert os.environ.get("TENSORBOARD_LOGGING_DIR") == before

    out = tmp_path / "run"
    log_dir = out / "tensorboard" / "lorabench" / "run"
    state = read_state(out)["tensorboard"]
    assert state["run_id"] == str(log_dir) and state["trainer_curves"] is True
    whole = events(log_dir)
    assert [e.step for e in whole.Scalars("train/loss")] == _loss_steps(out)
    summary = _summary(out)
    assert whole.Scalars("base/exact_match")[0].value == pytest.approx(summary["base"]["exact_match"])
    assert {"args/text_summary", "verdicts/text_summary", "items/text_summary"} <= set(whole.Tags()["tensors"])
    # The curve is in one file, the Trainer's (with its arguments): lorabench sent no second copy.
    [trainers] = [path for path in log_dir.glob("events.*") if "train/loss" in events(path).Tags()["scalars"]]
    assert "args/text_summary" in events(trainers).Tags()["tensors"]


def test_a_study_cell_reports_into_its_study_s_trackio_project_and_wandb_group(tmp_path, monkeypatch) -> None:
    """The routes a study's cell gets, and the W&B session it starts before training (offline)."""
    wandb = pytest.importorskip("wandb")
    pytest.importorskip("trackio")
    from lorabench.tracking.send import run_tracking
    from lorabench.tracking.trainer import trainer_reports_here, trainer_routes
    from tests.tracking.wandb_files import offline_runs, read_offline_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    cell = tmp_path / "sweep" / "runs" / "lr-0.02"
    cell.mkdir(parents=True)
    (cell / "tracking.json").write_text(json.dumps({
        "wandb": {"run_id": "abc123", "sent": False}, "trackio": {"run_id": "lr-0.02", "sent": False},
        "tensorboard": {"run_id": str(tmp_path / "tb"), "sent": False},
    }))
    settings = TrackingSettings(backends=["wandb", "trackio", "tensorboard", "mlflow"], project="qa", tags={"team": "nlp"},
                                wandb={"dir": str(tmp_path)}, run_name="not-a-cells-name")
    tracking = run_tracking(cell, settings, study=tmp_path / "sweep")
    routes = trainer_routes(tracking, ["wandb", "trackio", "mlflow"])
    assert set(routes) == {"wandb", "trackio"}  # tensorboard is not in report_to; mlflow's run never opened
    assert routes["trackio"].args == {"project": "qa-sweep", "run_name": "lr-0.02"} and not routes["trackio"].env
    assert set(trainer_routes(tracking, ["all"])) == {"wandb", "trackio", "tensorboard"}

    with trainer_reports_here(tracking, ["wandb"], say=lambda _: None) as report_args:
        assert report_args == {} and wandb.run is not None and wandb.run.id == "abc123"  # what the callback logs into
    wandb.run.finish()
    [file] = offline_runs(tmp_path)
    started = read_offline_run(file)
    assert (started.run_id, started.name, started.group, started.project) == ("abc123", "lr-0.02", "sweep", "qa")
