"""The Trainer's own `report_to`, into the tracker run this run sends its results to.

With `training.report_to: [mlflow]` and `tracking.backends: [mlflow]`, transformers' MLflow callback
would otherwise start a second MLflow run for the same lorabench run. It reads MLFLOW_RUN_ID (and
MLFLOW_TRACKING_URI), so while the adapter trains they name the run `begin_tracking` opened: the
Trainer's live curves and arguments, and the results sent at the end, sit in one tracker run. The
variables are restored when training ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from lorabench.config.tracking import TrackingSettings
from lorabench.tracking.send import read_state


def trainer_environment(folder: Path, settings: TrackingSettings, report_to: list[str]) -> dict[str, str]:
    """The variables that send the Trainer's reports into this run's tracker runs."""
    env: dict[str, str] = {}
    mlflow_run = (read_state(folder).get("mlflow") or {}).get("run_id")
    if "mlflow" in report_to and "mlflow" in settings.backends and mlflow_run:
        env["MLFLOW_RUN_ID"] = mlflow_run
        if settings.mlflow.tracking_uri:
            env["MLFLOW_TRACKING_URI"] = settings.mlflow.tracking_uri
    return env


@contextlib.contextmanager
def trainer_reports_here(folder: Path, settings: TrackingSettings, report_to: list[str]) -> Iterator[None]:
    env = trainer_environment(folder, settings, report_to)
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
