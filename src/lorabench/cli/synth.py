"""`lorabench synth`: a deterministic data set about a fictional world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import TaskOption, console


def synth(
    task: TaskOption,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of records.")] = 200,
    seed: Annotated[int, typer.Option(help="Same seed, same data, on every machine.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Output .jsonl (default: synth_<task>_<n>_<seed>.jsonl).")] = None,
    short_passages: Annotated[bool, typer.Option(help="Extractive: passages of about 80 words (fast on a CPU).")] = False,
) -> None:
    """Write a deterministic dataset about a fictional world, so no model already knows the answers."""
    import lorabench.api as api

    path = api.synth(task, n, seed, out, short_passages=short_passages)
    console.print(f"wrote {n} {task.value} records to {path}")
