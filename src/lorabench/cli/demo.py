"""`lorabench demo` / `make demo`: SmolLM2 fine-tuned on synthetic QA and compared with its base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import console


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's run.")] = Path("demo_runs"),
    force: Annotated[bool, typer.Option(help="Redo every stage instead of reusing finished ones.")] = False,
) -> None:
    """SmolLM2 fine-tuned with LoRA on synthetic QA, compared with its base: the whole product, offline."""
    import lorabench.api as api
    from lorabench.cli.live import run_live

    config = api.demo_config(out)
    console.print(f"demo: {config.model.name}, LoRA on synthetic extractive QA (fictional world), CPU")
    result = run_live(config, console, console, force=force)
    if result is None:
        return  # a process other than rank 0 of a multi-process launch: rank 0 speaks
    em = result.verdict("exact_match")
    console.print(
        f"exact match: base {100 * em.base:.1f}% -> tuned {100 * em.tuned:.1f}% "
        f"({em.improved} items improved, {em.regressed} regressed; McNemar exact p = {em.p_value:.2g}): {em.verdict}",
        highlight=False,
    )
    console.print(f"run folder: {result.out.resolve()}")
