"""A task kind from a package of its own: installed for real (pip, into a folder), found through its
`lorabench.tasks` entry point, and run by lorabench's commands with nothing in lorabench edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent / "kind_package"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    # Built from a copy, so the source folder stays free of build output.
    subprocess.run(["cp", "-r", f"{PACKAGE}/.", str(build)], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(build)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def _lorabench(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lorabench", *args], env=env, capture_output=True, text=True, timeout=300)


def test_an_installed_kind_is_scored_by_the_score_command(installed: Path, tmp_path: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    rows = [{"gold": "yes", "prediction": "Yes."}, {"gold": "no", "prediction": "yes"}, {"gold": "no", "prediction": "maybe"}]
    predictions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    done = _lorabench(installed, "score", str(predictions), "--task", "yesno", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["task"] == "yesno" and metrics["n"] == 3
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert metrics["no_answer"] == pytest.approx(1 / 3)


def test_an_installed_kind_is_evaluated_by_a_tiny_model(installed: Path, tiny_causal_path: Path, tmp_path: Path) -> None:
    data = tmp_path / "yesno.jsonl"
    rows = [{"id": f"q{i}", "question": f"Is {i} greater than 3?", "label": "yes" if i > 3 else "no"} for i in range(6)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "eval"
    done = _lorabench(installed, "eval", "-m", str(tiny_causal_path), "-d", str(data), "-t", "yesno", "--out", str(out),
                      "--max-new-tokens", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in predictions] == [f"q{i}" for i in range(6)]
    assert all("Answer yes or no." in p["prompt"] and "Is " in p["prompt"] for p in predictions)
    assert all(set(p["scores"]) == {"accuracy", "no_answer"} for p in predictions)


def test_without_the_package_the_kind_is_unknown_and_the_error_lists_the_kinds(tmp_path: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"gold": "yes", "prediction": "yes"}) + "\n", encoding="utf-8")
    done = _lorabench(tmp_path, "score", str(predictions), "--task", "yesno")
    assert done.returncode == 2
    assert "yesno" in done.stderr and all(kind in done.stderr for kind in ("extractive", "choice", "math"))
