"""Trackio: the config (with the verdicts), curves and results by step, tables as `trackio.Table`,
files as artifacts. A study has a project of its own, `<project>-<study folder name>`, holding the
study's run and one run per cell. Local store (TRACKIO_DIR) unless a Space is given. The Trainer's
Trackio callback logs into the same run through TrainingArguments' project and run_name."""

from __future__ import annotations

import contextlib
import io

from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TrackedRun


def project_of(place: Place) -> str:
    """The Trackio project a run goes to: a study's own (its runs side by side, apart from other
    studies'), else the configured one."""
    return f"{place.settings.project}-{place.group}" if place.group else place.settings.project


class Backend:
    name = "trackio"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        return place.settings.run_name or run.name  # Trackio resumes a run by its name in the project

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        import trackio

        with contextlib.redirect_stdout(io.StringIO()):  # Trackio prints where its dashboard is, each call
            return self._send(trackio, run, place, run_id)

    def _send(self, trackio, run: TrackedRun, place: Place, run_id: str) -> str:  # noqa: ANN001
        project = project_of(place)
        tracker = trackio.init(
            project=project, name=run_id, space_id=place.settings.trackio.space_id,
            config={**run.params, **run.labels, **{f"tag.{k}": v for k, v in place.settings.tags.items()}},
            resume="allow", embed=False, auto_log_gpu=False, auto_log_cpu=False,
        )
        try:
            last = 0
            for step, values in run.curves:
                trackio.log(values, step=step)
                last = step
            results = {**run.metrics, **{name: trackio.Table(columns=t.columns, data=t.rows, allow_mixed_types=True)
                                         for name, t in run.tables.items() if t.columns}}
            # After the last training step: the run's results (with no curves sent, after whatever the
            # run holds already, the Trainer's own curves among them).
            trackio.log(results, step=last + 1 if run.curves else None)
            for path in run.artifacts:
                trackio.log_artifact(path, name=path.name.replace(".", "-"), type=f"lorabench-{run.kind}", overwrite=True)
        finally:
            trackio.finish()
        return f"run {tracker.name} of project {project}"

    def trainer_route(self, place: Place, run_id: str) -> TrainerRoute:
        # transformers' TrackioCallback reads no variable: trackio.init(project=args.project, name=args.run_name).
        space = place.settings.trackio.space_id
        return TrainerRoute(args={"project": project_of(place), "run_name": run_id, **({"trackio_space_id": space} if space else {})})
