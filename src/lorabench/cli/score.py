"""`lorabench score`: predictions made elsewhere, scored with every metric of the task."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lorabench.cli.common import JsonOption, TaskOption, console, err_console, input_file, options_named
from lorabench.data.records import TaskKind
from lorabench.metrics.settings import ScoringSettings

# Help and defaults of the scoring options come from their one declaration.
_SCORING = ScoringSettings.model_fields


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
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.cli.tables import metrics_table
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.evaluation.scorefile import score_file, write_metrics

    input_file(predictions, "PREDICTIONS")
    ensure_run_folder(out or predictions.parent, "--out")
    with options_named():
        settings = ScoreSettings.of(ScoringSettings(short_thresh=short_thresh, rouge_threshold=rouge_threshold))
    result = score_file(predictions, TaskKind(task), settings, skip_invalid)
    metrics_path = write_metrics(result, out or predictions.parent, predictions)
    if as_json:
        sys.stdout.write(json.dumps(result.metrics.to_dict()) + "\n")
        return
    console.print(metrics_table(result.metrics))
    for error in result.skipped:
        err_console.print(f"[yellow]skipped[/] {error}", highlight=False)
    if result.skipped:
        err_console.print(f"[yellow]{len(result.skipped)} invalid row(s) skipped[/]")
    console.print(f"wrote {metrics_path}")
