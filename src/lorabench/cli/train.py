"""`lorabench train`: a LoRA adapter only, no evaluations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import SetOption, console, say_on


def train(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML): model, data, prompt, lora, training.")],
    overrides: SetOption = None,
    out: Annotated[Optional[Path], typer.Option(help="Training folder (default: <config out>/train).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in the folder.")] = False,
    merge: Annotated[bool, typer.Option(help="Also write the base model with the adapter merged in.")] = False,
) -> None:
    """Train a LoRA adapter only (no base/tuned evaluation); `run` does the whole pipeline."""
    import lorabench.api as api
    from lorabench.cli.live import train_log_printer

    config = api.run_config(config_path, overrides)  # checked before torch is imported, as in `run`
    result = api.train(
        config, out=out, resume=resume, merge=merge, say=say_on(console), on_log=train_log_printer(console)
    )
    console.print(
        f"trained {result.steps} steps ({result.epochs:.2f} epochs) in {result.train_seconds:.0f} s, "
        f"{result.tokens_per_second:.0f} tokens/s"
    )
    console.print(f"adapter: {result.adapter_dir}", highlight=False, soft_wrap=True)
    if result.merged_dir:
        console.print(f"merged model: {result.merged_dir}", highlight=False, soft_wrap=True)
