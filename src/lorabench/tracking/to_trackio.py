"""Trackio: the config (with the verdicts), curves and results by step, tables as `trackio.Table`,
files as artifacts; a study's cells share the study's group. Local store (TRACKIO_DIR) unless a
Space is given."""

from __future__ import annotations

import contextlib
import io

from lorabench.tracking.base import Place
from lorabench.tracking.record import TrackedRun


class Backend:
    name = "trackio"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        return place.settings.run_name or run.name  # Trackio resumes a run by its name in the project

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        import trackio

        with contextlib.redirect_stdout(io.StringIO()):  # Trackio prints where its dashboard is, each call
            return self._send(trackio, run, place, run_id)

    def _send(self, trackio, run: TrackedRun, place: Place, run_id: str) -> str:  # noqa: ANN001
        tracker = trackio.init(
            project=place.settings.project, name=run_id, group=place.group, space_id=place.settings.trackio.space_id,
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
            trackio.log(results, step=last + 1)  # after the last training step: the run's results
            for path in run.artifacts:
                trackio.log_artifact(path, name=path.name.replace(".", "-"), type=f"lorabench-{run.kind}", overwrite=True)
        finally:
            trackio.finish()
        return f"run {tracker.name} of project {place.settings.project}"
