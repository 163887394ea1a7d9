"""`lorabench run --track`: the tracker run opens when the run starts, survives a kill -9 and resume,
and gets the results at the end; a tracker that is down costs one warning and nothing else."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

from lorabench.config.run import RunConfig  # noqa: E402
from lorabench.data.records import save_records  # noqa: E402
from lorabench.data.synth import synthesize  # noqa: E402
from lorabench.pipeline.run import run_pipeline  # noqa: E402
from lorabench.tracking.send import read_state  # noqa: E402
from tests.run_configs import tiny_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _config(tiny_causal_path: Path, tmp_path: Path, **training) -> dict:
    data = save_records(synthesize("extractive", 24, seed=3), tmp_path / "qa.jsonl")
    return tiny_run(tiny_causal_path, data, tmp_path / "run", test=6, validation=2,
                    training={"val_metric_items": 0, **training})


def test_a_run_killed_and_resumed_lands_in_one_tracker_run_with_everything(tiny_causal_path, tmp_path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_config(tiny_causal_path, tmp_path, epochs=3)))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MLFLOW_TRACKING_URI": store, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "lorabench", "run", str(config), "--track", "mlflow"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    out = tmp_path / "run"
    while not (out / "train" / "pending.json").exists():
        assert first.poll() is None, first.communicate()[0]
    first.send_signal(signal.SIGKILL)
    printed = first.communicate()[0]
    # The store was new: MLflow made its tables (alembic migrations) without a line on the run's console.
    assert "model: " in printed  # what the run said before it opened its tracker run reached us
    assert "alembic" not in printed and "database tables" not in printed, printed
    opened = read_state(out)["mlflow"]
    assert opened["sent"] is False  # the tracker run exists since the run started; nothing sent yet

    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"tracking: mlflow: run sent (run {opened['run_id']} of experiment" in " ".join(again.stdout.split())
    client = MlflowClient(tracking_uri=store)
    [run] = client.search_runs([client.get_experiment_by_name("lorabench").experiment_id])
    assert run.info.run_id == opened["run_id"] and run.info.status == "FINISHED"
    summary = json.loads((out / "summary.json").read_text())
    assert run.data.metrics["tuned.exact_match"] == summary["tuned"]["exact_match"]
    assert run.data.tags["verdict.exact_match"] == summary["comparison"][0]["verdict"]
    assert client.get_metric_history(run.info.run_id, "train/loss")
    assert "tables" in {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "tracking" not in yaml.safe_load((out / "config.yaml").read_text())  # not a setting of the results
    assert read_state(out)["settings"]["backends"] == ["mlflow"]


def test_a_tracker_on_a_closed_port_costs_one_warning_and_the_run_finishes(tiny_causal_path, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    raw = _config(tiny_causal_path, tmp_path)
    raw["tracking"] = {"backends": ["mlflow"], "mlflow": {"tracking_uri": f"http://127.0.0.1:{port}"}}
    said: list[str] = []
    result = run_pipeline(RunConfig.model_validate(raw), say=said.append)
    assert result.summary is not None and (tmp_path / "run" / "summary.json").is_file()
    about_tracking = [line for line in said if "tracking" in line or "mlflow" in line.lower()]
    assert len(about_tracking) == 1 and about_tracking[0].startswith("tracking: mlflow failed (MLflow tracking server")
    assert f"lorabench track {tmp_path / 'run'} --backend mlflow" in about_tracking[0]


def test_the_trainers_own_mlflow_reports_go_into_the_same_tracker_run(tiny_causal_path, tmp_path) -> None:
    raw = _config(tiny_causal_path, tmp_path, report_to=["mlflow"])
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    raw["tracking"] = {"backends": ["mlflow"], "mlflow": {"tracking_uri": store}}
    naming = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")
    before = {key: os.environ.get(key) for key in naming}
    run_pipeline(RunConfig.model_validate(raw), say=lambda _: None)
    assert {key: os.environ.get(key) for key in naming} == before  # set while training only
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    [run] = runs  # one tracker run, not one from the Trainer and one from lorabench
    assert run.info.run_id == read_state(tmp_path / "run")["mlflow"]["run_id"]
    assert "learning_rate" in run.data.params  # the Trainer's arguments, logged by its callback
    assert client.get_metric_history(run.info.run_id, "loss")  # the Trainer's curve, by its own name
    assert "compare.exact_match.p_value" in run.data.metrics and run.info.status == "FINISHED"
    assert "train/loss" not in run.data.metrics  # the curves once: lorabench sent no copy of the Trainer's
    assert read_state(tmp_path / "run")["mlflow"]["trainer_curves"] is True
