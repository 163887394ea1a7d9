"""A study over sweep.params on a tiny model: run sequentially and as parallel Ray tasks on a real
local Ray (one session for the module), the same results either way, the validation-chosen cell on
the study page, a failed cell recorded under --keep-going, and resume."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.studies.grid import load_study
from lorabench.studies.report import write_study_report
from lorabench.studies.runner import run_study
from tests.run_configs import tiny_sweep as _study

ray = pytest.importorskip("ray")
# One Ray session for the module: under `make test` (-n 2 --dist loadgroup) its tests share a worker.
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 40, seed=11), tmp_path_factory.mktemp("sweep_data") / "qa.jsonl")


def _predictions(study):
    rows = {p.name: (study.out / "runs" / p.name / "tuned" / "predictions.jsonl").read_text().splitlines() for p in study.points}
    return {name: [(json.loads(r)["id"], json.loads(r)["prediction"]) for r in lines] for name, lines in rows.items()}


def test_ray_runs_cells_in_parallel_with_the_sequential_results(local_ray, tiny_causal_path, qa_file, tmp_path):
    sequential = load_study(_study(tmp_path, tiny_causal_path, qa_file, "seq"))
    parallel = load_study(_study(tmp_path, tiny_causal_path, qa_file, "par", extra="  executor: ray\n"))
    run_study(sequential, say=lambda _: None)
    messages: list[str] = []
    statuses = run_study(parallel, say=messages.append)
    assert [s.state for s in statuses] == ["ran", "ran"]
    assert any(m.startswith("ray: 2 of 2 runs to do, 1 CPU") for m in messages)
    assert _predictions(sequential) == _predictions(parallel)
    for point in sequential.points:
        seq = json.loads((sequential.out / "runs" / point.name / "summary.json").read_text())
        par = json.loads((parallel.out / "runs" / point.name / "summary.json").read_text())
        assert seq["tuned"] == par["tuned"] and seq["comparison"] == par["comparison"]
        for which in ("validation", "base"):
            assert (sequential.out / "runs" / point.name / which / "metrics.json").read_text() == \
                (parallel.out / "runs" / point.name / which / "metrics.json").read_text()
    # one base-only task ran first, and the second run copied its base evaluation
    runs = parallel.out / "runs"
    assert (runs / "lr0.005" / "base" / "predictions.jsonl").read_text() == (runs / "lr0.02" / "base" / "predictions.jsonl").read_text()

    # A rerun on Ray finds everything finished and keeps it.
    assert [s.state for s in run_study(parallel, say=lambda _: None)] == ["done", "done"]
    files = write_study_report(parallel)
    markdown = files.markdown.read_text()
    assert "## Chosen on validation (the headline)" in markdown and "lr0.005 was chosen on the validation split (9 items), highest mean validation exact_match" in markdown
    cells = list(csv.DictReader((parallel.out / "tables" / "cells.csv").open()))
    assert [c["cell"] for c in cells] == ["lr0.005", "lr0.02"] and sum(c["chosen"] == "True" for c in cells) == 1
    chosen = next(c for c in cells if c["chosen"] == "True")
    other = next(c for c in cells if c["chosen"] != "True")
    assert float(chosen["validation_exact_match"]) >= float(other["validation_exact_match"])
    family = list(csv.DictReader((parallel.out / "tables" / "test_comparisons.csv").open()))
    assert [f["role"] for f in family].count("headline") == 1 and len(family) == 3  # 2 vs base, 1 lr -> lr
    assert all(float(f["p_holm"]) >= float(f["p_value"]) for f in family)


def test_seeds_spread_keep_going_and_resume_on_ray(local_ray, tiny_causal_path, qa_file, tmp_path):
    # batch_size 64 cannot fit 10 training examples: that cell fails in training, after its base evaluation.
    path = _study(tmp_path, tiny_causal_path, qa_file, "kg", params="training.batch_size: [2, 64]",
                  extra="  seeds: [0, 1]\n")
    # Without --keep-going the first failure stops the study (tasks still queued or running are cancelled).
    stopped = CliRunner().invoke(app, ["study", str(path), "--executor", "ray"])
    assert stopped.exit_code == 2 and "error: batch_size64__seed" in stopped.output, stopped.output
    # Rerun: what finished is kept, the rest resumes; the bad cell is recorded and the good one finishes.
    result = CliRunner().invoke(app, ["study", str(path), "--executor", "ray", "--keep-going"])
    assert result.exit_code == 2, result.output
    assert "2 run(s) failed" in result.output and "batch_size64__seed0" in result.output
    study = load_study(path)
    done = [p.name for p in study.points if (study.out / "runs" / p.name / "summary.json").exists()]
    assert done == ["batch_size2__seed0", "batch_size2__seed1"]
    markdown = (study.out / "study.md").read_text()
    assert "mean [min, max] over 2 seeds" in markdown and "Provisional: 2 of 4 runs have no results yet" in markdown
    cells = list(csv.DictReader((study.out / "tables" / "cells.csv").open()))
    assert len(cells) == 1 and cells[0]["seeds"] == "2" and cells[0]["runs"] == "batch_size2__seed0 batch_size2__seed1"
    assert float(cells[0]["test_tuned_exact_match_min"]) <= float(cells[0]["test_tuned_exact_match_mean"]) \
        <= float(cells[0]["test_tuned_exact_match_max"])

    # Resume: the finished cell is kept, the failed one is tried again (and fails again) on Ray.
    plan = CliRunner().invoke(app, ["study", str(path), "--plan"])
    assert "batch_size2__seed0: finished" in plan.output and "batch_size64__seed1: to run" in plan.output
    assert "4 runs: 2 cell(s) x 2 seed(s)" in plan.output and "base evaluation shared with batch_size2__seed0" in plan.output
    messages: list[str] = []
    statuses = run_study(study, say=messages.append, executor="ray", keep_going=True)
    assert [s.state for s in statuses] == ["done", "done", "failed", "failed"]
    assert "batch" in statuses[2].error
