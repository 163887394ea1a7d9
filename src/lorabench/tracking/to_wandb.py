"""Weights & Biases: the config, the curves by step, results and verdicts in the run summary, tables
as `wandb.Table`, files as one artifact; a study's cells share the study's `group`.

With `training.report_to: [wandb]`, lorabench starts the run's W&B session before training, and
transformers' WandbCallback, which starts a run only when none is active, logs into it; the session
stays open after training and the results go into it too: one session, one offline folder. (The
callback's own `wandb.init` cannot be steered by WANDB_* variables: W&B reads them once a process,
so a second run in the same process, a study's next cell, would get the first one's.)"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path
from typing import Any

from lorabench.config.tracking import TrackingSettings
from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TrackedRun

# No console capture, no system stats, no git or code: the session carries lorabench's run only.
_SETTINGS = {"silent": True, "console": "off", "x_disable_stats": True, "disable_git": True, "save_code": False}


class Backend:
    name = "wandb"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        return uuid.uuid4().hex[:12]  # chosen here, so the run is made (or resumed) by `wandb.init(id=...)`

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        import wandb

        tracker = open_session(run_id)  # the session started for the Trainer, left open after training
        if tracker is not None:
            tracker.config.update(run.params, allow_val_change=True)
        else:
            tracker = _init(place, run_id, place.settings.run_name or run.name, run.kind, run.params, reinit="create_new")
        try:
            for step, values in run.curves:
                tracker.log(values, step=step)
            tracker.log({name: wandb.Table(columns=t.columns, data=t.rows, allow_mixed_types=True) for name, t in run.tables.items() if t.columns})
            tracker.summary.update({**run.metrics, **run.labels})
            if run.artifacts:
                files = wandb.Artifact(_artifact_name(f"{run.name}-{run.kind}"), type=f"lorabench-{run.kind}")
                for path in run.artifacts:
                    files.add_file(str(path))
                tracker.log_artifact(files)
            offline = getattr(tracker, "offline", False)  # reading .url offline makes W&B print a warning
            where = f"offline run {tracker.id} in {Path(tracker.dir).parent}" if offline else tracker.url
        finally:
            tracker.finish()
        return where

    def trainer_route(self, place: Place, run_id: str) -> TrainerRoute:
        return TrainerRoute(start=lambda: _start_for_trainer(place, run_id))

    def end_trainer_session(self, run_id: str, failed: bool) -> None:
        """Finish the Trainer's session of `run_id` if it is still open: the run ended without sending
        its results into it (it failed, or they were sent before)."""
        tracker = open_session(run_id)
        if tracker is not None:
            tracker.finish(exit_code=1 if failed else 0)


def _start_for_trainer(place: Place, run_id: str) -> None:
    """The run's session as W&B's active run (`wandb.run`), which the Trainer's callback logs into.
    A run the user started and left active stays theirs: the callback logs there, as it always did."""
    import wandb

    if wandb.run is None:
        _init(place, run_id, place.settings.run_name or run_id, "run", {}, reinit="default")


def _init(place: Place, run_id: str, name: str, kind: str, config: dict[str, Any], reinit: str):  # noqa: ANN202 - wandb's Run
    import wandb

    options = place.settings.wandb
    return wandb.init(
        project=place.settings.project, entity=options.entity, name=name, group=place.group, job_type=kind, id=run_id,
        resume="allow", mode=options.mode, dir=str(options.dir) if options.dir else None, config=config,
        tags=_tags(place.settings), settings=wandb.Settings(**_SETTINGS), reinit=reinit,
    )


def open_session(run_id: str):  # noqa: ANN201 - wandb's Run, imported lazily
    """The active global W&B run when it is `run_id` (made by the Trainer's callback), else None."""
    wandb = sys.modules.get("wandb")  # never imported here: without it, no session can be open
    live = getattr(wandb, "run", None) if wandb is not None else None
    return live if live is not None and live.id == run_id else None


def _tags(settings: TrackingSettings) -> list[str] | None:
    return [f"{k}:{v}" if v else k for k, v in settings.tags.items()] or None


def _artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:120]
