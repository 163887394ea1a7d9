"""TensorBoard: curves and results as scalars, the settings and results as hparams, verdicts, guards
and the tables as text. Files are not copied: TensorBoard has no artifacts, and they stay in the run
folder. Each run writes <log_dir>/<project>/[<study>/]<run name>, and the Trainer's TensorBoard callback
writes its curves there too (TENSORBOARD_LOGGING_DIR), so one `tensorboard --logdir` shows both."""

from __future__ import annotations

from pathlib import Path

from lorabench.report.markdown import table as markdown_table
from lorabench.tracking.base import Place, TrainerRoute
from lorabench.tracking.record import TrackedRun

TENSORBOARD_DIR = "tensorboard"


class Backend:
    name = "tensorboard"

    def new_id(self, run: TrackedRun, place: Place) -> str:
        root = place.settings.tensorboard.log_dir or _default_root(run, place)
        parts = [place.settings.project, *([place.group] if place.group else []), place.settings.run_name or run.name]
        return str(Path(root, *parts))

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=run_id)
        try:
            for step, values in run.curves:
                for key, value in values.items():
                    writer.add_scalar(key, value, step)
            for key, value in run.metrics.items():
                writer.add_scalar(key.replace(".", "/", 1), value, 0)
            if run.labels:
                writer.add_text("verdicts", "\n".join(markdown_table(["what", "value"], list(map(list, run.labels.items())))), 0)
            for name, table in run.tables.items():
                if table.columns:
                    rows = [["" if v is None else str(v) for v in row] for row in table.rows]
                    writer.add_text(name, "\n".join(markdown_table(table.columns, rows)), 0)
            if run.params:
                writer.add_hparams(run.params, {f"hparam/{k}": v for k, v in run.metrics.items()}, run_name=".")
        finally:
            writer.close()
        return f"log dir {run_id}"

    def trainer_route(self, place: Place, run_id: str) -> TrainerRoute:
        return TrainerRoute(env={"TENSORBOARD_LOGGING_DIR": run_id})  # the run's id is its log dir


def _default_root(run: TrackedRun, place: Place) -> Path:
    # A study's cells (<study>/runs/<cell>) write under the study folder, so one `tensorboard --logdir`
    # shows the study and all its cells.
    if place.group and run.kind == "run":
        return run.folder.parent.parent / TENSORBOARD_DIR
    return run.folder / TENSORBOARD_DIR
