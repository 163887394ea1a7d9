"""`lorabench leakage`: overlap between two data files; exit code 1 when there is leakage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lorabench.cli.common import TaskOption, console


def leakage(
    train: Annotated[Path, typer.Argument(help="The set a model learns from.")],
    test: Annotated[Path, typer.Argument(help="The set it is evaluated on.")],
    task: TaskOption,
    ngram: Annotated[int, typer.Option(min=1, help="Word n-gram size for near-duplicate questions.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check two data files for overlap: same questions, contexts, near-duplicate questions (ids
    shared by different records are reported apart: they are not leakage).

    Exits with code 1 when leakage is found.
    """
    import lorabench.api as api

    report = api.leakage(train, test, task, ngram=ngram)
    console.print_json(json.dumps(report.to_dict())) if as_json else console.print(report.summary, highlight=False)
    if report.has_leakage:
        raise typer.Exit(1)
