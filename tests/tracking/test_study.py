"""A real study (two cells over sweep.params, on the tiny model) sent as a parent tracker run with
the selection table and one child run per cell: MLflow parent/child, the W&B group, a Trackio project
of the study's own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("wandb")
from mlflow import MlflowClient  # noqa: E402

from lorabench.api import study as run_study  # noqa: E402
from lorabench.config.tracking import TrackingSettings  # noqa: E402
from lorabench.data.records import save_records  # noqa: E402
from lorabench.data.synth import synthesize  # noqa: E402
from lorabench.tracking.send import send_study  # noqa: E402
from tests.run_configs import tiny_sweep  # noqa: E402
from tests.tracking.wandb_files import offline_runs, read_offline_run  # noqa: E402


@pytest.fixture(scope="module")
def finished_study(tiny_causal_path, tmp_path_factory) -> Path:
    """A study run with `tracking: {backends: [mlflow]}` into a SQLite store beside it."""
    root = tmp_path_factory.mktemp("tracked_study")
    data = save_records(synthesize("extractive", 40, seed=11), root / "qa.jsonl")
    config = tiny_sweep(root, tiny_causal_path, data, "lr-sweep", extra=f"""\
tracking:
  backends: [mlflow]
  mlflow: {{tracking_uri: "sqlite:///{root / 'mlflow.db'}"}}
""")
    run_study(config, say=lambda _: None)
    return root / "lr-sweep"


@pytest.fixture
def study_folder(finished_study: Path, tmp_path: Path) -> Path:
    """A copy of the finished study for one test to send (its cells' folders inside it)."""
    return Path(shutil.copytree(finished_study, tmp_path / finished_study.name))


def test_a_study_run_with_tracking_is_a_parent_run_with_the_selection_table_and_a_child_per_cell(
    finished_study: Path, monkeypatch
) -> None:
    store = f"sqlite:///{finished_study.parent / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # load_table searches the default store
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("lorabench")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    cells = sorted(p.name for p in (finished_study / "runs").iterdir())
    assert sorted(runs) == sorted(["lr-sweep", *cells])
    parent = runs["lr-sweep"]
    for cell in cells:
        assert runs[cell].data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert "compare.exact_match.p_value" in runs[cell].data.metrics and runs[cell].info.status == "FINISHED"
    assert parent.data.params["sweep.params.training.lr"] == "[0.005, 0.02]"
    files = {f.path for f in client.list_artifacts(parent.info.run_id, "tables")}
    assert "tables/cells.json" in files and "tables/test_comparisons.json" in files
    selection = client.load_table(experiment.experiment_id, "tables/cells.json", run_ids=[parent.info.run_id])
    written = (finished_study / "tables" / "cells.csv").read_text().splitlines()
    assert len(selection) == len(written) - 1 and list(selection.columns) == written[0].split(",")
    said: list[str] = []
    again = send_study(finished_study, TrackingSettings(backends=["mlflow"], mlflow={"tracking_uri": store}), say=said.append)
    assert {o.state for o in again} == {"already sent"} and len(client.search_runs([experiment.experiment_id])) == len(runs)


def test_a_study_s_cells_share_its_wandb_group(study_folder: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "w").mkdir()
    outcomes = send_study(study_folder, TrackingSettings(backends=["wandb"], wandb={"dir": tmp_path / "w"}),
                          say=lambda _: None)
    assert [o.state for o in outcomes] == ["sent"] * len(outcomes), [o.error for o in outcomes]
    found = [read_offline_run(f) for f in offline_runs(tmp_path / "w")]
    assert sorted(run.name for run in found) == sorted(["lr-sweep", *(p.name for p in (study_folder / "runs").iterdir())])
    assert {run.group for run in found} == {"lr-sweep"}
    state = json.loads((study_folder / "tracking.json").read_text())
    assert state["wandb"]["sent"] is True


def test_a_study_is_a_trackio_project_of_its_own_with_its_run_and_a_run_per_cell(study_folder: Path, tmp_path) -> None:
    pytest.importorskip("trackio")
    from tests.tracking.trackio_store import python_in, read_project

    store = tmp_path / "trackio"
    out = python_in(store, f"""
        import json
        from pathlib import Path
        from lorabench.config.tracking import TrackingSettings
        from lorabench.tracking.send import send_study
        outcomes = send_study(Path({str(study_folder)!r}), TrackingSettings(backends=["trackio"], project="qa"), say=lambda _: None)
        print(json.dumps([[o.state, o.error] for o in outcomes]))
    """)
    states = json.loads(out.strip().splitlines()[-1])
    assert [state for state, _ in states] == ["sent"] * len(states), states
    found = read_project(store, "qa-lr-sweep")
    cells = sorted(p.name for p in (study_folder / "runs").iterdir())
    assert found["projects"] == ["qa-lr-sweep"]  # the study's project; nothing in "qa" itself
    assert sorted(found["runs"]) == sorted(["lr-sweep", *cells])
    [selection] = [row["cells"]["_value"] for row in found["logs"]["lr-sweep"] if "cells" in row]
    assert len(selection) == len((study_folder / "tables" / "cells.csv").read_text().splitlines()) - 1
    for cell in cells:
        assert any("compare.exact_match.p_value" in row for row in found["logs"][cell])
