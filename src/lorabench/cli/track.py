"""`lorabench track`: send a finished run, eval or study folder to experiment trackers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import console, say_on
from lorabench.core.errors import LorabenchError


def track(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="A finished run, eval or study folder.")],
    backend: Annotated[list[str] | None, typer.Option(
        "--backend", "-b", help="A tracker: mlflow, wandb, trackio, tensorboard (repeat for several); "
        "default: those the run's tracking: section named.")] = None,
    project: Annotated[str | None, typer.Option(help="The project / MLflow experiment (default: the run's, else lorabench).")] = None,
    run_name: Annotated[str | None, typer.Option(help="The tracker run's name (default: the folder's name).")] = None,
) -> None:
    """Send a finished folder to trackers: once, into the tracker runs it already has. Locations come
    from the run's tracking: section or each tool's environment (MLFLOW_TRACKING_URI, WANDB_MODE, ...)."""
    from lorabench.api import track as send

    outcomes = send(folder, backends=backend or None, project=project, run_name=run_name, say=say_on(console))
    failed = [o for o in outcomes if o.state == "failed"]
    if failed:
        raise LorabenchError(f"{len(failed)} of {len(outcomes)} sends failed (above); run the command again to retry them")
