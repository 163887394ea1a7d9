"""`lorabench compare`: two evaluations of the same items, paired; lorabench folders or lm-eval output."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lorabench.cli.common import console


def compare(
    run_a: Annotated[Path, typer.Argument(
        metavar="RUN_A", help="Finished eval folder (e.g. runs/x/base), or lm-eval output: its --output_path folder, "
        "a results_*.json or a samples_<task>_*.jsonl file (--log_samples).",
    )],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The same kind of run, compared against RUN_A (B - A).")],
    anyway: Annotated[bool, typer.Option(help="Compare the common items even when items, prompts or decoding differ.")] = False,
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts, between 0 and 1.")] = 0.05,
    resamples: Annotated[int, typer.Option(min=100, help="Paired bootstrap resamples for continuous metrics.")] = 10_000,
    correction: Annotated[str, typer.Option(help="none | holm: Holm-adjust the secondary metrics' p-values (the task's primary metric is the verdict).")] = "none",
    allow_precision_change: Annotated[bool, typer.Option(help="Compare runs made at different precisions (model.dtype), with a warning.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only one JSON object, for scripts.")] = False,
) -> None:
    """Paired comparison of two evaluations of the same items: verdict per metric, changed items."""
    import lorabench.api as api
    from lorabench.cli.tables import comparison_table

    if api.is_lm_eval_output(run_a) or api.is_lm_eval_output(run_b):
        _compare_lm_eval(run_a, run_b, anyway, alpha, resamples, as_json)
        return
    result = api.compare(
        run_a, run_b, anyway=anyway, alpha=alpha, resamples=resamples, correction=correction,
        allow_precision_change=allow_precision_change,
    )
    if as_json:
        payload = {
            "a": result.a, "b": result.b, "n": result.n, "forced_despite": result.forced_despite,
            "warnings": result.warnings,
            "comparison": [c.model_dump(exclude_unset=True) for c in result.comparisons], "items": result.items,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    for difference in result.forced_despite:
        console.print(f"[bold yellow]compared anyway despite[/] {difference}", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    console.print(comparison_table(result.comparisons, result.metrics_a, result.metrics_b, names=("A", "B")))
    console.print(f"A = {result.name_a} ({run_a}); B = {result.name_b} ({run_b})", highlight=False)
    for sentence in result.sentences:
        console.print(sentence, highlight=False)
    console.print(result.multiplicity, highlight=False)
    console.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items.items()), highlight=False)


def _compare_lm_eval(run_a: Path, run_b: Path, anyway: bool, alpha: float, resamples: int, as_json: bool) -> None:
    """`compare` on two lm-eval runs: one verdict line per task and metric, as for lorabench runs."""
    import lorabench.api as api

    result = api.compare_lm_eval(run_a, run_b, anyway=anyway, alpha=alpha, resamples=resamples)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    # One line per fact, never wrapped: scripts and readers grep for "TASK/METRIC: ".
    say = functools.partial(console.print, highlight=False, soft_wrap=True)
    for difference in result.forced_despite:
        say(f"[bold yellow]compared anyway despite[/] {escape(difference)}")
    for label, model, results, path in (("A", result.model_a, result.results_a, result.a),
                                        ("B", result.model_b, result.results_b, result.b)):
        say(f"{label} = {escape(model)} ({escape(results or path)})")
    say("paired by doc_id: " + ", ".join(f"{task} {n} documents" for task, n in result.items.items()))
    for sentence in result.sentences:
        say(escape(sentence))
    for note in result.notes:
        say(f"[yellow]note:[/] {escape(note)}")
