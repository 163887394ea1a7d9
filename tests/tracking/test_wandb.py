"""Weights & Biases, for real, offline (WANDB_MODE=offline): the run read back from its offline files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("wandb")

from lorabench.config.tracking import TrackingSettings  # noqa: E402
from lorabench.tracking.send import read_state, send_run  # noqa: E402
from tests.tracking.wandb_files import offline_runs, read_offline_run  # noqa: E402


@pytest.fixture
def offline(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    return tmp_path / "wandb-files"


def test_a_run_arrives_offline_with_config_curves_results_verdicts_and_tables(run_folder: Path, offline: Path) -> None:
    offline.mkdir()
    settings = TrackingSettings(backends=["wandb"], project="lorabench-tests", wandb={"dir": offline})
    [outcome] = send_run(run_folder, settings, say=lambda _: None)
    assert outcome.state == "sent", outcome.error
    [file] = offline_runs(offline)
    run = read_offline_run(file)
    assert run.run_id == outcome.run_id == read_state(run_folder)["wandb"]["run_id"]
    assert (run.name, run.project) == ("demo-run", "lorabench-tests")
    assert run.config["lora.r"] == "2" and run.config["versions.peft"]
    log = [json.loads(line) for line in (run_folder / "train" / "train_log.jsonl").read_text().splitlines()]
    assert [h["_step"] for h in run.history if "train/loss" in h] == [row["step"] for row in log if "loss" in row]
    summary = json.loads((run_folder / "summary.json").read_text())
    assert run.summary["base.exact_match"] == summary["base"]["exact_match"]
    assert run.summary["compare.f1.p_value"] == summary["comparison"][1]["p_value"]
    assert run.summary["verdict.exact_match"] == summary["comparison"][0]["verdict"]
    assert run.summary["role.f1"] == "secondary"
    tables = {key.split("/")[0] for h in run.history for key in h if key.endswith("/_type") and h[key] == "table-file"}
    assert tables == {"items", "comparisons", "guards"}
    assert any(name.startswith("demo-run-run") for name in run.artifacts)
    table_file = next(file.parent.glob("files/media/table/items_*.table.json"))
    items = json.loads(table_file.read_text())
    assert len(items["data"]) == summary["sizes"]["test"] and items["columns"][:3] == ["id", "question", "gold"]


def test_a_resent_run_goes_to_the_same_offline_run(run_folder: Path, offline: Path) -> None:
    """An interrupted send (the id kept, not marked sent) is finished in the same W&B run."""
    offline.mkdir()
    settings = TrackingSettings(backends=["wandb"], project="lorabench-tests", wandb={"dir": offline})
    (run_folder / "tracking.json").write_text(json.dumps({"wandb": {"run_id": "keepme123", "sent": False}}))
    [outcome] = send_run(run_folder, settings, say=lambda _: None)
    assert outcome.run_id == "keepme123" and read_state(run_folder)["wandb"] == {"run_id": "keepme123", "sent": True}
    assert [read_offline_run(f).run_id for f in offline_runs(offline)] == ["keepme123"]
