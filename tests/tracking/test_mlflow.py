"""MLflow, for real: a SQLite tracking store in a temp folder, read back with MlflowClient."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

from lorabench.config.tracking import TrackingSettings  # noqa: E402
from lorabench.tracking.send import TRACKING_FILE, open_runs, read_state, run_tracking, send_run  # noqa: E402


def _settings(store: Path, **extra) -> TrackingSettings:
    return TrackingSettings(backends=["mlflow"], project="lorabench-tests", tags={"team": "qa"},
                            mlflow={"tracking_uri": f"sqlite:///{store}"}, **extra)


def _runs(client: MlflowClient, experiment: str = "lorabench-tests") -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_a_run_arrives_with_params_metrics_curves_verdicts_tables_and_files(run_folder: Path, tmp_path: Path, monkeypatch) -> None:
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")  # load_table searches the default store
    said: list[str] = []
    [outcome] = send_run(run_folder, _settings(store), say=said.append)
    assert outcome.state == "sent", said
    assert said == [f"tracking: mlflow: demo-run sent ({outcome.where})"]

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    [run] = _runs(client)
    assert run.info.run_id == outcome.run_id == read_state(run_folder)["mlflow"]["run_id"]
    assert run.info.run_name == "demo-run" and run.info.status == "FINISHED"
    summary = json.loads((run_folder / "summary.json").read_text())
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["lora.r"] == "2" and params["versions.transformers"] and params["task"] == "extractive"
    assert metrics["base.exact_match"] == summary["base"]["exact_match"]
    assert metrics["tuned.f1.ci_high"] == summary["tuned"]["ci95"]["f1"][1]
    primary = summary["comparison"][0]
    assert metrics["compare.exact_match.p_value"] == primary["p_value"]
    assert tags["verdict.exact_match"] == primary["verdict"] and tags["role.exact_match"] == "primary"
    assert tags["team"] == "qa" and tags["guards"].startswith(("all passed", "failed: "))
    losses = client.get_metric_history(run.info.run_id, "train/loss")
    logged = [json.loads(line) for line in (run_folder / "train" / "train_log.jsonl").read_text().splitlines()]
    assert [m.step for m in losses] == [row["step"] for row in logged if "loss" in row]

    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "summary.json", "config.yaml", "tables"} <= files
    items = client.load_table(run.info.experiment_id, "tables/items.json", run_ids=[run.info.run_id])
    assert len(items) == summary["sizes"]["test"]
    assert {"id", "question", "gold", "base_answer", "tuned_answer", "base_f1", "tuned_f1"} <= set(items.columns)


def test_sent_again_it_is_not_duplicated(run_folder: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "mlflow.db")
    first = send_run(run_folder, settings, say=lambda _: None)
    said: list[str] = []
    again = send_run(run_folder, settings, say=said.append)
    assert again[0].state == "already sent" and again[0].run_id == first[0].run_id
    assert "not sent again" in said[0]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [run] = _runs(client)
    assert len(client.get_metric_history(run.info.run_id, "base.f1")) == 1


def test_a_resumed_run_lands_in_the_tracker_run_it_opened(run_folder: Path, tmp_path: Path) -> None:
    """The run opens its tracker run when it starts; interrupted and resumed, it finds the id in its
    folder, and its results go there: one tracker run, not two."""
    settings = _settings(tmp_path / "mlflow.db")
    opened = open_runs(run_tracking(run_folder, settings))
    assert open_runs(run_tracking(run_folder, settings)) == opened  # the resumed session: the same run
    [outcome] = send_run(run_folder, settings, say=lambda _: None)
    assert outcome.run_id == opened["mlflow"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [run] = _runs(client)
    assert run.info.run_id == opened["mlflow"] and "base.f1" in run.data.metrics


def test_a_tracker_that_is_down_costs_one_warning_and_nothing_else(run_folder: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = {p.name: p.read_bytes() for p in run_folder.iterdir() if p.is_file()}
    said: list[str] = []
    settings = TrackingSettings(backends=["mlflow"], mlflow={"tracking_uri": f"http://127.0.0.1:{port}"})
    [outcome] = send_run(run_folder, settings, say=said.append)
    assert outcome.state == "failed" and len(said) == 1
    assert said[0].startswith("tracking: mlflow failed (MLflow tracking server http://127.0.0.1:") and "does not answer" in said[0]
    assert f"lorabench track {run_folder} --backend mlflow" in said[0]
    assert {p.name: p.read_bytes() for p in run_folder.iterdir() if p.is_file() and p.name != TRACKING_FILE} == before


def test_a_uri_with_a_password_is_refused() -> None:
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_PASSWORD"):
        TrackingSettings(mlflow={"tracking_uri": "https://user:secret@mlflow.example.com"})
