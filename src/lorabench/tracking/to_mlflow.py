"""MLflow: params, metrics (curves by step), verdicts as tags, tables through `log_table`, files as
artifacts; a study's cells are child runs of the study's run (`mlflow.parentRunId`). The Trainer's
MLflow callback logs into the same run through MLFLOW_RUN_ID."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from lorabench.core.errors import LorabenchError
from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TrackedRun

# MLflow's REST client retries a refused connection for minutes by default; a tracker that is down
# must cost one warning, not a stalled run.
_QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
_BATCH = 100  # MLflow's log_batch takes at most 100 params and 1000 metrics a call
# A fresh SQLite store is made by alembic migrations that say each step at INFO: noise on the run's
# console, not news. Quietened during lorabench's own calls only.
_CHATTY = ("alembic", "mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store")


class Backend:
    name = "mlflow"

    def _client(self, place: Place):  # noqa: ANN202 - mlflow's type, imported lazily
        from mlflow import MlflowClient

        uri = place.settings.mlflow.tracking_uri
        _check_reachable(uri or os.environ.get("MLFLOW_TRACKING_URI"))
        return MlflowClient(tracking_uri=uri)

    def _experiment(self, client, place: Place) -> str:  # noqa: ANN001
        name = place.settings.mlflow.experiment or place.settings.project
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(name, artifact_location=_artifacts_beside(client.tracking_uri))

    def new_id(self, run: TrackedRun, place: Place) -> str:
        with _quick_http(), _quiet_store():
            client = self._client(place)
            tags = {**place.settings.tags, "lorabench.kind": run.kind}
            if place.parent_id:
                tags["mlflow.parentRunId"] = place.parent_id
            made = client.create_run(self._experiment(client, place), run_name=place.settings.run_name or run.name, tags=tags)
            return made.info.run_id

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        from mlflow.entities import Metric, Param, RunTag

        with _quick_http(), _quiet_store():
            client = self._client(place)
            now = int(time.time() * 1000)
            params = [Param(k, v) for k, v in run.params.items()]
            tags = [RunTag(k, v) for k, v in {**place.settings.tags, **run.labels}.items()]
            metrics = [Metric(k, v, now, 0) for k, v in run.metrics.items()]
            metrics += [Metric(k, v, now, step) for step, values in run.curves for k, v in values.items()]
            for start in range(0, max(len(params), len(metrics), len(tags)), _BATCH):
                client.log_batch(run_id, metrics=metrics[start:start + _BATCH], params=params[start:start + _BATCH],
                                 tags=tags[start:start + _BATCH])
            for name, table in run.tables.items():
                if table.columns:
                    client.log_table(run_id, {c: [row[i] for row in table.rows] for i, c in enumerate(table.columns)},
                                     artifact_file=f"tables/{name}.json")
            for path in run.artifacts:
                client.log_artifact(run_id, str(path))
            client.set_terminated(run_id)
            return f"run {run_id} of experiment {client.get_run(run_id).info.experiment_id}"

    def trainer_route(self, place: Place, run_id: str) -> TrainerRoute:
        # transformers' MLflowCallback resumes the run named by MLFLOW_RUN_ID instead of starting one.
        uri = place.settings.mlflow.tracking_uri
        return TrainerRoute(env={"MLFLOW_RUN_ID": run_id, **({"MLFLOW_TRACKING_URI": uri} if uri else {})})


def _artifacts_beside(uri: str) -> str | None:
    """A SQLite store keeps its experiments' files in mlartifacts/ beside the database file; MLflow's
    own default, ./mlruns, would scatter them over whatever folder each run was started in."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()


@contextlib.contextmanager
def _quick_http() -> Iterator[None]:
    """Short retries unless the user set MLflow's own variables."""
    added = {k: v for k, v in _QUICK.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextlib.contextmanager
def _quiet_store() -> Iterator[None]:
    """The store's INFO lines (alembic's migrations of a new database) held back; warnings still show."""
    loggers = [logging.getLogger(name) for name in _CHATTY]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _check_reachable(uri: str | None) -> None:
    """An http(s) tracking server that does not answer is reported in one line, at once."""
    if not uri or not uri.startswith(("http://", "https://")):
        return
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as error:
        shown = f"{parts.scheme}://{parts.hostname}:{port}"  # never the path or query: they may hold a token
        raise LorabenchError(f"MLflow tracking server {shown} does not answer ({error.strerror or error})") from None
