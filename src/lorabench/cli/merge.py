"""`lorabench merge`: an adapter merged into its base, checked answer for answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import console


def merge(
    adapter: Annotated[Path, typer.Argument(metavar="ADAPTER", help="Adapter folder saved by lorabench (train/adapter of a run).")],
    out: Annotated[Path, typer.Option(help="Folder for the merged model: safetensors, tokenizer, lorabench.json.")],
    check_items: Annotated[int, typer.Option(min=1, help="Items whose greedy answers must not change by merging.")] = 8,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Check on the first items of this data file (default: synthetic items of the adapter's task).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Base model, when not where the adapter's lorabench.json says.")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 | bfloat16 | float16 (default: the dtype it was trained in).")] = None,
    force: Annotated[bool, typer.Option(help="Replace --out when it exists and is not empty.")] = False,
) -> None:
    """Merge an adapter into its base model; the merged model must answer the check items exactly as base + adapter."""
    import lorabench.api as api

    result = api.merge(adapter, out, check_items=check_items, data=data, model=model, dtype=dtype, force=force)
    console.print(f"merged model: {result.out}", highlight=False, soft_wrap=True)  # a path to copy, unbroken
    console.print(f"{result.checked}/{result.checked} greedy answers identical ({result.items_from})", highlight=False)
