"""A run's trackers, resolved once as it starts (`run_tracking`): who is tracked, under which name,
where; and nothing at all without backends or on the processes other than rank 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorabench.config.tracking import TrackingSettings
from lorabench.tracking.send import TRACKING_FILE, begin_tracking, finish_tracking, run_tracking


def test_a_run_without_backends_or_off_rank_0_tracks_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    quiet = run_tracking(folder, TrackingSettings())
    # Off rank 0, no backend is even looked up: its client library is rank 0's to check.
    other_rank = run_tracking(folder, TrackingSettings(backends=["mlflow", "wandb"]), main=False)
    for tracking in (quiet, other_rank):
        assert not tracking.active and tracking.backends == {}
        begin_tracking(tracking, say=lambda _: None)
        assert finish_tracking(tracking, say=lambda _: None) == []
    assert not folder.exists() and not (folder / TRACKING_FILE).exists()


def test_a_study_cell_is_named_after_its_folder_and_placed_under_the_study_s_runs(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    study = tmp_path / "sweep"
    study.mkdir()
    (study / TRACKING_FILE).write_text(json.dumps({"tensorboard": {"run_id": "parent-1", "sent": False}}))
    settings = TrackingSettings(backends=["tensorboard"], run_name="the-study")

    cell = run_tracking(study / "runs" / "lr-0.02", settings, study=study)
    assert cell.active and list(cell.backends) == ["tensorboard"]
    assert (cell.name, cell.group, cell.parents) == ("lr-0.02", "sweep", {"tensorboard": "parent-1"})
    assert cell.named.run_name == "lr-0.02" and settings.run_name == "the-study"  # the settings are left alone

    alone = run_tracking(tmp_path / "alone", settings)
    assert (alone.name, alone.group, alone.parents) == ("the-study", None, {})


def test_a_run_s_tracker_run_ids_are_read_once_as_it_starts_and_kept_as_begin_tracking_opens_them(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / TRACKING_FILE).write_text(json.dumps({"mlflow": {"run_id": "m-1", "sent": True}}))
    tracking = run_tracking(folder, TrackingSettings(backends=["tensorboard"]))
    assert tracking.run_ids == {"mlflow": "m-1"}  # a resumed run's, as the folder holds them

    begin_tracking(tracking, say=lambda _: None)
    saved = json.loads((folder / TRACKING_FILE).read_text())
    assert tracking.run_ids == {"mlflow": "m-1", "tensorboard": saved["tensorboard"]["run_id"]}
    assert saved["tensorboard"]["run_id"] == str(folder / "tensorboard" / "lorabench" / "run")
