"""`lorabench run`: the whole pipeline from one config, with live progress and the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import SetOption, console, err_console, say_on


def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML); see examples/.")],
    overrides: SetOption = None,
    force: Annotated[bool, typer.Option(help="Redo every stage instead of reusing finished ones.")] = False,
    allow_prompt_change: Annotated[bool, typer.Option(help="Keep the adapter this folder trained under other prompt settings and evaluate it under the new ones (flagged in red) instead of refusing.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check config, data, splits, leakage, prompts and LoRA targets (no weights loaded), print the plan, write nothing.")] = False,
) -> None:
    """Leakage check, base eval, LoRA training, tuned eval, paired comparison: one command."""
    from lorabench.config.run import load_config
    from lorabench.evaluation.sharding import refuse_weight_sharding

    refuse_weight_sharding("run")
    # The config is checked before torch is imported: a mistake is reported in a fraction of a second.
    config = load_config(config_path, overrides or [])
    if dry_run:
        from lorabench.pipeline.dry_run import plan_lines, plan_run

        plan = plan_run(config, say_on(console))
        for line in plan_lines(plan):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    from lorabench.cli.live import run_pipeline_live
    from lorabench.evaluation.sharding import current_shard

    result = run_pipeline_live(config, console, err_console, force=force, allow_prompt_change=allow_prompt_change)
    if current_shard().main:
        console.print(f"run folder: {result.out}")
