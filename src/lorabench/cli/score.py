"""`lorabench score`: predictions made elsewhere, scored with every metric of the task."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import JsonOption, TaskOption, console, err_console, input_file
from lorabench.metrics.settings import ScoringSettings

# Help and defaults of the scoring options come from their one declaration.
_SCORING = ScoringSettings.model_fields
# The settings these options give, for naming them in an error.
FIELDS = {"scoring.short_thresh": "--short-thresh", "scoring.rouge_threshold": "--rouge-threshold"}


def score(
    predictions: Annotated[Path, typer.Argument(help="JSON Lines with `gold` and `prediction` per line.")],
    task: TaskOption,
    out: Annotated[Optional[Path], typer.Option(help="Folder for metrics.json (default: beside the input).")] = None,
    as_json: JsonOption = False,
    short_thresh: Annotated[int, typer.Option(help=_SCORING["short_thresh"].description)] = _SCORING["short_thresh"].default,
    rouge_threshold: Annotated[
        float, typer.Option(help=_SCORING["rouge_threshold"].description)
    ] = _SCORING["rouge_threshold"].default,
    skip_invalid: Annotated[bool, typer.Option(help="Skip bad rows (reported) instead of stopping.")] = False,
) -> None:
    """Score predictions made elsewhere: every metric of the task, with 95% intervals."""
    import lorabench.api as api
    from lorabench.cli.tables import metrics_table

    input_file(predictions, "PREDICTIONS")
    # metrics.json goes where --out says, beside the input by default; the function writes it only
    # when given `out`, so the command always gives one.
    result = api.score(
        predictions, task, scoring={"short_thresh": short_thresh, "rouge_threshold": rouge_threshold},
        skip_invalid=skip_invalid, out=out or predictions.parent,
    )
    if as_json:
        sys.stdout.write(json.dumps(result.metrics.model_dump()) + "\n")
        return
    console.print(metrics_table(result.metrics))
    for error in result.skipped:
        err_console.print(f"[yellow]skipped[/] {error}", highlight=False)
    if result.skipped:
        err_console.print(f"[yellow]{len(result.skipped)} invalid row(s) skipped[/]")
    console.print(f"wrote {result.metrics_path}")
