"""`lorabench track FOLDER`: a finished folder sent afterwards, once; user errors as one line, exit 2."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

import lorabench
from lorabench.cli import app
from tests.finished_run import finished_run, run_folder  # noqa: F401  (fixtures)

runner = CliRunner()


def test_a_finished_run_is_sent_afterwards_and_never_twice(run_folder: Path) -> None:
    result = runner.invoke(app, ["track", str(run_folder), "--backend", "tensorboard", "--project", "p"])
    assert result.exit_code == 0, result.output
    assert "tracking: tensorboard: demo-run sent (log dir " in result.output
    assert list((run_folder / "tensorboard" / "p" / "demo-run").glob("events.*"))
    again = runner.invoke(app, ["track", str(run_folder), "-b", "tensorboard"])
    assert again.exit_code == 0 and "was sent before" in again.output and "not sent again" in again.output


def test_an_eval_folder_is_sent_with_its_metrics_and_items(run_folder: Path, tmp_path: Path) -> None:
    [outcome] = lorabench.track(run_folder / "base", backends=["tensorboard"], settings={"tensorboard": {"log_dir": str(tmp_path / "tb")}},
                                say=lambda _: None)
    assert outcome.state == "sent" and outcome.run_id == str(tmp_path / "tb" / "lorabench" / "base")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(outcome.run_id, size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    metrics = json.loads((run_folder / "base" / "metrics.json").read_text())
    assert events.Scalars("exact_match")[0].value == metrics["exact_match"]
    assert "items/text_summary" in events.Tags()["tensors"]


def test_a_folder_without_a_backend_or_with_a_wrong_one_is_refused_in_one_line(run_folder: Path) -> None:
    for args, message in (([], "backend: name a tracker"), (["-b", "neptune"], "'neptune'")):
        result = runner.invoke(app, ["track", str(run_folder), *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (run_folder / "tracking.json").exists()


def test_a_tracker_that_is_down_is_one_warning_and_exit_2(run_folder: Path, monkeypatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    result = runner.invoke(app, ["track", str(run_folder), "-b", "mlflow"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # the console wraps long lines
    assert f"tracking: mlflow failed (MLflow tracking server http://127.0.0.1:{port} does not answer" in output
    assert "1 of 1 sends failed" in output
