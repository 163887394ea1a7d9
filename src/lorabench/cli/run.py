"""`lorabench run`: the whole pipeline from one config, with live progress and the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import FLAGS, SetOption, TrackOption, as_flags, console, err_console, say_on, with_tracking


def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML); see examples/.")],
    overrides: SetOption = None,
    track: TrackOption = None,
    force: Annotated[bool, typer.Option(help="Redo every stage instead of reusing finished ones.")] = False,
    allow_prompt_change: Annotated[bool, typer.Option(help="Keep the adapter this folder trained under other prompt settings and evaluate it under the new ones (flagged in red) instead of refusing.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check config, data, splits, leakage, prompts and LoRA targets (no weights loaded), print the plan, write nothing.")] = False,
) -> None:
    """Leakage check, base eval, LoRA training, tuned eval, paired comparison: one command."""
    import lorabench.api as api

    api.refuse_weight_sharding("run")
    # The config is checked before torch is imported: a mistake is reported in a fraction of a second.
    config = api.run_config(config_path, with_tracking(overrides, track))
    if dry_run:
        for line in api.dry_run(config, say=say_on(console)):
            console.print(as_flags(line, FLAGS), markup=False, highlight=False, soft_wrap=True)
        return
    from lorabench.cli.live import run_live

    result = run_live(config, console, err_console, force=force, allow_prompt_change=allow_prompt_change)
    if result is not None:
        console.print(f"run folder: {result.out}")
