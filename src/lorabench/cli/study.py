"""`lorabench study`: a grid of runs on the same test items, then the study page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import SetOption, console, say_on
from lorabench.errors import LorabenchError


def study(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config with a `sweep:` section of lists.")],
    overrides: SetOption = None,
    force: Annotated[bool, typer.Option(help="Redo every run instead of keeping finished ones.")] = False,
    keep_going: Annotated[bool, typer.Option(help="Record a failed run and go on with the next one.")] = False,
    plan: Annotated[bool, typer.Option(help="Only list the runs the sweep expands to, and which are finished.")] = False,
) -> None:
    """Run a grid of runs (models x training sizes x strategies x seeds) on the same test items, then the study page."""
    from lorabench.evaluate.sharding import refuse_weight_sharding
    from lorabench.study.grid import load_study

    refuse_weight_sharding("study")
    loaded = load_study(config_path, overrides or [])  # before torch is imported, as in `run`
    from lorabench.api import study as run_study
    from lorabench.cli.live import progress_bars, train_log_printer
    from lorabench.study.runner import is_finished

    if plan:
        for point in loaded.points:
            state = "finished" if is_finished(point, loaded.sweep.eval_each_epoch) else "to run"
            console.print(f"{point.name}: {state} -> {point.config.out}", highlight=False)
        return
    bars, factory = progress_bars(console)
    with bars:
        result = run_study(
            loaded, force=force, keep_going=keep_going, say=say_on(console), progress=factory,
            on_train_log=train_log_printer(console),
        )
    if result.failed:
        raise LorabenchError(f"{len(result.failed)} run(s) failed: " + "; ".join(f"{r.name}: {r.error}" for r in result.failed))
