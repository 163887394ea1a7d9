"""Weights & Biases: the config, the curves by step, results and verdicts in the run summary, tables
as `wandb.Table`, files as one artifact; a study's cells share the study's `group`."""

from __future__ import annotations

import re
from pathlib import Path
import uuid

from lorabench.tracking.base import Place
from lorabench.tracking.record import TrackedRun


class Backend:
    name = "wandb"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        return uuid.uuid4().hex[:12]  # chosen here, so the run is made (or resumed) by `wandb.init(id=...)`

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        import wandb

        options = place.settings.wandb
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, disable_git=True, save_code=False)
        tracker = wandb.init(
            project=place.settings.project, entity=options.entity, name=place.settings.run_name or run.name,
            group=place.group, job_type=run.kind, id=run_id, resume="allow", mode=options.mode,
            dir=str(options.dir) if options.dir else None, config=run.params,
            tags=[f"{k}:{v}" if v else k for k, v in place.settings.tags.items()] or None, settings=settings,
            reinit="create_new",
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


def _artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:120]
