"""TensorBoard, for real: the event files read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from lorabench.config.tracking import TrackingSettings  # noqa: E402
from lorabench.tracking.send import send_run  # noqa: E402


def _events(log_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


def test_curves_results_verdicts_and_tables_arrive_in_event_files(run_folder: Path) -> None:
    [outcome] = send_run(run_folder, TrackingSettings(backends=["tensorboard"]), say=lambda _: None)
    assert outcome.state == "sent", outcome.error
    log_dir = run_folder / "tensorboard" / "lorabench" / "demo-run"
    assert outcome.run_id == str(log_dir)
    events = _events(log_dir)
    scalars = events.Tags()["scalars"]
    log = [json.loads(line) for line in (run_folder / "train" / "train_log.jsonl").read_text().splitlines()]
    assert [e.step for e in events.Scalars("train/loss")] == [row["step"] for row in log if "loss" in row]
    summary = json.loads((run_folder / "summary.json").read_text())
    assert events.Scalars("base/exact_match")[0].value == pytest.approx(summary["base"]["exact_match"])
    assert events.Scalars("compare/f1.p_value")[0].value == pytest.approx(summary["comparison"][1]["p_value"])
    assert "tuned/f1.ci_low" in scalars and any(tag.startswith("guard/") for tag in scalars)
    texts = {tag.split("/")[0]: events.Tensors(tag)[0].tensor_proto.string_val[0].decode() for tag in events.Tags()["tensors"]
             if tag.endswith("text_summary")}
    assert {"verdicts", "items", "comparisons", "guards"} <= set(texts)
    assert f"| verdict.exact_match | {summary['comparison'][0]['verdict']} |" in texts["verdicts"]
    assert texts["items"].count("\n") == summary["sizes"]["test"] + 1  # header, rule, one line per item
    assert any(tag.startswith("_hparams_") for tag in events.Tags()["tensors"]) or events.PluginTagToContent("hparams")


def test_a_log_dir_from_the_config_is_used(run_folder: Path, tmp_path: Path) -> None:
    settings = TrackingSettings(backends=["tensorboard"], project="p", run_name="r1", tensorboard={"log_dir": tmp_path / "tb"})
    [outcome] = send_run(run_folder, settings, say=lambda _: None)
    assert outcome.run_id == str(tmp_path / "tb" / "p" / "r1") and list((tmp_path / "tb" / "p" / "r1").glob("events.*"))
