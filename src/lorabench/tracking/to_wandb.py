"""Weights & Biases: the config, the curves by step, results and verdicts in the run summary, tables
as `wandb.Table`, files as one artifact; a study's cells share the study's `group`. The Trainer's
W&B callback makes (or resumes) the same run from WANDB_* variables, and its session is kept open
after training so the results go into it: one session, one offline folder."""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

from lorabench.config.tracking import TrackingSettings
from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TrackedRun

# wandb.init's settings for lorabench's session, and the WANDB_* variables that say the same to the
# Trainer's (unless the user set them): no console capture, no system stats, no git or code.
_SETTINGS = {"silent": True, "console": "off", "x_disable_stats": True, "disable_git": True, "save_code": False}
_QUIET_ENV = {"WANDB_SILENT": "true", "WANDB_CONSOLE": "off", "WANDB_X_DISABLE_STATS": "true",
              "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true"}


class Backend:
    name = "wandb"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        return uuid.uuid4().hex[:12]  # chosen here, so the run is made (or resumed) by `wandb.init(id=...)`

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        import wandb

        tracker = open_session(run_id)  # the Trainer's session of this run, left open after training
        if tracker is not None:
            tracker.config.update(run.params, allow_val_change=True)
        else:
            options = place.settings.wandb
            tracker = wandb.init(
                project=place.settings.project, entity=options.entity, name=place.settings.run_name or run.name,
                group=place.group, job_type=run.kind, id=run_id, resume="allow", mode=options.mode,
                dir=str(options.dir) if options.dir else None, config=run.params, tags=_tags(place.settings),
                settings=wandb.Settings(**_SETTINGS), reinit="create_new",
            )
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
        # transformers' WandbCallback calls wandb.init(project=WANDB_PROJECT) when no run is active;
        # wandb.init reads the rest from WANDB_* variables.
        settings, options = place.settings, place.settings.wandb
        env = {key: value for key, value in _QUIET_ENV.items() if key not in os.environ}
        env.update({"WANDB_RUN_ID": run_id, "WANDB_RESUME": "allow", "WANDB_PROJECT": settings.project, "WANDB_JOB_TYPE": "run"})
        for key, value in (("WANDB_NAME", settings.run_name), ("WANDB_RUN_GROUP", place.group), ("WANDB_ENTITY", options.entity),
                           ("WANDB_MODE", options.mode), ("WANDB_DIR", str(options.dir) if options.dir else None),
                           ("WANDB_TAGS", ",".join(_tags(settings) or []))):
            if value:
                env[key] = value
        return TrainerRoute(env=env)

    def end_trainer_session(self, run_id: str, failed: bool) -> None:
        """Finish the Trainer's session of `run_id` if it is still open: the run ended without sending
        its results into it (it failed, or they were sent before)."""
        tracker = open_session(run_id)
        if tracker is not None:
            tracker.finish(exit_code=1 if failed else 0)


def open_session(run_id: str):  # noqa: ANN201 - wandb's Run, imported lazily
    """The active global W&B run when it is `run_id` (made by the Trainer's callback), else None."""
    wandb = sys.modules.get("wandb")  # never imported here: without it, no session can be open
    live = getattr(wandb, "run", None) if wandb is not None else None
    return live if live is not None and live.id == run_id else None


def _tags(settings: TrackingSettings) -> list[str] | None:
    return [f"{k}:{v}" if v else k for k, v in settings.tags.items()] or None


def _artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:120]
