"""The Trainer's own `report_to`, into the tracker runs this run sends its results to.

With `training.report_to` and `tracking.backends` naming the same tracker, transformers' callback
would otherwise start a second tracker run for the same lorabench run. While the adapter trains,
each callback is pointed at the tracker run `begin_tracking` opened, through what it reads (each
backend's `trainer_route`): MLflow's MLFLOW_RUN_ID; Trackio's TrainingArguments project and
run_name, handed to the Trainer as `report_args`; TensorBoard's TENSORBOARD_LOGGING_DIR; and W&B's
active run, a session lorabench starts before training. The variables are restored when training
ends. W&B's session stays open after training, so the results are sent into it (one session: one
offline folder); `trainer_sessions_closed` closes it if the run ends without sending them.

The callbacks log the curves under their own names, so a tracker run that got them is marked in
tracking.json, and lorabench does not send it its copy from the training log.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lorabench.core.notices import Say, log, warn
from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TRAIN_LOG
from lorabench.runs.folder import write_json
from lorabench.tracking.send import TRACKING_FILE, TRAINER_CURVES, RunTracking, failure_reason


def trainer_routes(tracking: RunTracking, report_to: list[str]) -> dict[str, TrainerRoute]:
    """By backend, how the Trainer reports into this run's tracker runs: the backends both in
    `report_to` and in the tracking settings' backends whose tracker run is open (its id in the folder)."""
    place = Place(tracking.named, None, tracking.group)
    routes = {}
    for name, tracker in tracking.backends.items():
        run_id = tracking.run_ids.get(name)
        if run_id and (name in report_to or "all" in report_to):  # "all": every integration installed
            routes[name] = tracker.trainer_route(place, run_id)
    return routes


@contextlib.contextmanager
def trainer_reports_here(tracking: RunTracking, report_to: list[str], say: Say = log) -> Iterator[dict[str, Any]]:
    """While training: the environment the Trainer's callbacks read, and the sessions they log into;
    yields the TrainingArguments fields to set (`report_args`); nothing for an inactive `tracking`.
    A session that cannot start is one warning: that callback then makes its own tracker run, as
    without tracking."""
    routes = trainer_routes(tracking, report_to) if tracking.active else {}
    for name, route in list(routes.items()):
        try:
            if route.start is not None:
                route.start()
        except Exception as error:  # noqa: BLE001 - a tracker's failure must never cost the run
            say(warn(f"tracking: {name} could not take the Trainer's report_to ({failure_reason(error)}); "
                     "its curves go to a run of their own"))
            del routes[name]
    env = {key: value for route in routes.values() for key, value in route.env.items()}
    train_log = tracking.folder / TRAIN_LOG
    logged_before = _stamp(train_log)
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield {key: value for route in routes.values() for key, value in route.args.items()}
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if routes and _stamp(train_log) != logged_before:  # the Trainer ran, and logged: into these runs
            mark_trainer_curves(tracking, list(routes))


def mark_trainer_curves(tracking: RunTracking, backends: list[str]) -> None:
    """Note in the folder's tracking state that the Trainer logged its curves into these backends'
    tracker runs: the results sent at the end then leave lorabench's copy of them out."""
    state = tracking.state
    for name in backends:
        if name in state:
            state[name] = {**state[name], TRAINER_CURVES: True}
    write_json(tracking.folder / TRACKING_FILE, state)


@contextlib.contextmanager
def trainer_sessions_closed(tracking: RunTracking) -> Iterator[None]:
    """Around a whole run: a tracker session the Trainer left open for the results (W&B's) is closed
    when the run ends, as failed when it stopped with an error; a no-op once the results closed it."""
    failed = True
    try:
        yield
        failed = False
    finally:
        if tracking.active:
            _end_sessions(tracking, failed)


def _end_sessions(tracking: RunTracking, failed: bool) -> None:
    with contextlib.suppress(Exception):  # said as a run ends: a tracker never hides why it stopped
        for name, tracker in tracking.backends.items():
            run_id = tracking.run_ids.get(name)
            end = getattr(tracker, "end_trainer_session", None) if run_id else None  # only W&B has one
            if end is not None:
                end(run_id, failed)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_size, found.st_mtime_ns
