"""`lorabench study`: a grid of runs on the same test items, then the study page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import SetOption, TrackOption, console, say_on, with_tracking
from lorabench.core.errors import LorabenchError


def study(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config with a `sweep:` section of lists.")],
    overrides: SetOption = None,
    track: TrackOption = None,
    force: Annotated[bool, typer.Option(help="Redo every run instead of keeping finished ones.")] = False,
    keep_going: Annotated[bool, typer.Option(help="Record a failed run and go on with the next one.")] = False,
    plan: Annotated[bool, typer.Option(help="Only list the runs the sweep expands to, what they share, and which are finished.")] = False,
    executor: Annotated[Optional[str], typer.Option(
        help="local: runs one after another in this process; ray: runs as parallel Ray tasks (pip install "
        "'lorabench[ray]'). Default: sweep.executor, else local.")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        help="Ray cluster to run on (`auto`: the one running here); default: sweep.ray_address, else a local Ray "
        "started for the study.")] = None,
) -> None:
    """Run a grid of runs (models x training sizes x strategies x any sweep.params key x seeds) on the same test items, then the study page."""
    import lorabench.api as api
    from lorabench.cli.live import progress_bars, train_log_printer

    overrides = with_tracking(overrides, track)
    if plan:
        for line in api.study_plan(config_path, overrides=overrides, executor=executor):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    bars, factory = progress_bars(console)
    with bars:
        # The config is checked before torch is imported: a mistake is reported in a fraction of a second.
        result = api.study(
            config_path, overrides=overrides, force=force, keep_going=keep_going, say=say_on(console),
            progress=factory, on_train_log=train_log_printer(console), executor=executor, ray_address=ray_address,
        )
    if result.failed:
        raise LorabenchError(f"{len(result.failed)} run(s) failed: " + "; ".join(f"{r.name}: {r.error}" for r in result.failed))
