"""What long jobs show while they run: progress bars, one line per training log, the tables at the end.

Part of the command layer (the `run`, `demo`, `eval`, `train` and `study` commands use it); it runs
the pipeline, so the report package, which only reads run folders, must not import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from lorabench.cli.common import say_on
from lorabench.results import MetricScores, MetricVerdict

if TYPE_CHECKING:  # imported when a run starts: torch must not load for `--help`
    from lorabench.comparison.paired import MetricComparison
    from lorabench.metrics.scoring import TaskMetrics
    from lorabench.pipeline.run import PipelineResult


class StageTimeColumn(TimeElapsedColumn):
    """Elapsed time, except for a stage found finished on disk: "reused", with the seconds it took
    when it ran where the caller knows them, never the time this session spent reading it."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("reused"):
            return super().render(task)
        seconds = task.fields.get("recorded_seconds")
        took = "" if seconds is None else " (<1 s)" if seconds < 1 else f" ({seconds:.0f} s)"
        return Text(f"reused{took}", style="progress.elapsed")


class StageRemainingColumn(TimeRemainingColumn):
    """Time remaining; nothing for a reused stage."""

    def render(self, task: Task) -> Text:
        return Text("") if task.fields.get("reused") else super().render(task)


def progress_bars(console: Console) -> tuple[Progress, Callable[..., Callable[[int], None]]]:
    """A rich Progress and a factory: `factory(name, total, already_done, recorded_seconds=None)`
    returns an `advance(k)`. A stage whose items were all done before shows as reused (with
    `recorded_seconds`, the work it took then); a partly done one counts how many it reused."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), StageTimeColumn(), StageRemainingColumn())
    bars = Progress(*columns, console=console)

    def factory(name: str, total: int, done: int, recorded_seconds: float | None = None) -> Callable[[int], None]:
        reused = total > 0 and done >= total
        description = f"{name} ({done} reused)" if 0 < done < total else name
        bar_id = bars.add_task(description, total=total, completed=done, reused=reused, recorded_seconds=recorded_seconds)
        if reused:
            bars.stop_task(bar_id)
        return lambda k: bars.advance(bar_id, k)

    return bars, factory


def train_log_printer(console: Console) -> Callable[[dict], None]:
    """One compact line per training log event: step, losses, learning rate, speed, validation metrics."""

    def show(row: dict) -> None:
        parts = [f"{key} {row[key]:.4g}" for key in ("loss", "train_loss", "eval_loss", "learning_rate", "tokens_per_second")
                 if isinstance(row.get(key), (int, float))]
        parts += [f"{k} {v:.3f}" for k, v in row.items() if k.startswith("val_") and isinstance(v, (int, float))]
        if parts:
            console.print(f"  train step {row.get('step')}: " + ", ".join(parts), highlight=False)

    return show


def run_pipeline_live(config, console: Console, bar_console: Console, force: bool = False, allow_prompt_change: bool = False):  # noqa: ANN001, ANN201
    """`run_pipeline` with progress bars and training lines, then the comparison table, the same
    on the short-answer subset below it, the guard lines that apply, and the verdicts."""
    from lorabench.evaluation.sharding import current_shard
    from lorabench.comparison.guards import applicable, generated
    from lorabench.pipeline.run import run_pipeline
    from lorabench.cli.tables import comparison_table, findings_lines
    from lorabench.report.verdicts import multiplicity_sentence, verdict_sentence

    main = current_shard().main  # under a multi-process launch only rank 0 shows anything
    bars, factory = progress_bars(bar_console)
    bars.disable = not main
    with bars:
        result = run_pipeline(
            config, force=force, say=say_on(console), progress=factory,
            on_train_log=train_log_printer(console), allow_prompt_change=allow_prompt_change,
        )
    if not main:
        return result
    console.print(comparison_table(_verdicts(result.comparisons), _scores(result.base.metrics), _scores(result.tuned.metrics)))
    _print_short_subset(result, console)
    generated_text = generated(result.base.rows) or generated(result.tuned.rows)
    for line in findings_lines(applicable(result.findings, generated_text)):
        console.print(line, highlight=False)
    for comparison in result.comparisons:
        console.print(verdict_sentence(comparison), highlight=False)
    console.print(multiplicity_sentence(result.comparisons, config.metrics.alpha, config.metrics.correction), highlight=False)
    _print_retention(result, console)
    console.print(f"report: {result.report.resolve()}")
    return result


def _print_retention(result: PipelineResult, console: Console) -> None:
    """The retention section: one verdict line per lm-eval task and metric, its notes, and the
    trade-off when a gain on the target task came with a loss elsewhere (nothing without retention)."""
    from rich.markup import escape

    from lorabench.report.verdicts import RETENTION_TITLE, tradeoff_sentence, verdict_sentence

    if result.retention is None:
        return
    retention = result.retention.comparison
    items = ", ".join(f"{task} {n}" for task, n in retention.items.items())
    console.print(f"[bold]{RETENTION_TITLE}[/] (lm-eval, base vs tuned, paired by doc_id; documents: {escape(items)})")
    for comparison in retention.comparisons:
        console.print(escape(verdict_sentence(comparison)), highlight=False)
    for note in retention.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    tradeoff = tradeoff_sentence(result.comparisons, retention.comparisons)
    if tradeoff:
        console.print(f"[bold red]trade-off:[/] {escape(tradeoff)}", highlight=False)


def _print_short_subset(result: PipelineResult, console: Console) -> None:
    """The paired table on the items with short gold answers, as report.html shows it (nothing
    for tasks without such a subset)."""
    from lorabench.cli.tables import comparison_table

    short = result.short
    if short is None:
        return
    subset = f"short answers (gold <= {short.thresh} tokens)"
    before, after = result.base.metrics.short, result.tuned.metrics.short
    if short.n == result.base.metrics.n:
        console.print(f"{subset}: all {short.n} test items, so the table above is theirs", highlight=False)
    elif short.comparisons and before is not None and after is not None:
        console.print(comparison_table(_verdicts(short.comparisons), _scores(before), _scores(after), subset=subset))
    else:
        console.print(f"{subset}: none of the {result.base.metrics.n} test items", highlight=False)


def _scores(metrics: TaskMetrics) -> MetricScores:
    return MetricScores.model_validate(metrics.to_dict())


def _verdicts(comparisons: list[MetricComparison]) -> list[MetricVerdict]:
    return [MetricVerdict.model_validate(c.to_dict()) for c in comparisons]
