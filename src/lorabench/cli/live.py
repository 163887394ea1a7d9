"""What long jobs show while they run: progress bars, one line per training log, the tables at the end.

Part of the command layer (the `run`, `demo`, `eval`, `train` and `study` commands use it): the bars
and lines are the callbacks it hands `lorabench.api`, the tables render the typed results.
"""

from __future__ import annotations

from pathlib import Path

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from lorabench.cli.common import say_on
from lorabench.results import RetentionVerdicts, RunResult, RunSummary

if TYPE_CHECKING:
    from lorabench.api import ConfigLike


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


def run_live(config: ConfigLike, console: Console, bar_console: Console, *, force: bool = False,
             allow_prompt_change: bool = False) -> RunResult | None:
    """`api.run` with progress bars and training lines, then what it found: the comparison table,
    the same on the short-answer subset below it, the guard lines that apply, and the verdicts.
    None on the processes other than rank 0 of a multi-process launch, which show nothing."""
    import lorabench.api as api

    bars, factory = progress_bars(bar_console)
    bars.disable = not api.current_shard().main
    with bars:
        result = api.run(
            config, force=force, say=say_on(console), progress=factory,
            on_train_log=train_log_printer(console), allow_prompt_change=allow_prompt_change,
        )
    if result is not None:
        show_run(result, console)
    return result


def show_run(result: RunResult, console: Console) -> None:
    """A run's findings as `lorabench run` prints them, from its RunResult."""
    from lorabench.cli.tables import comparison_table, findings_lines

    summary = result.summary
    console.print(comparison_table(summary.comparison, summary.base, summary.tuned))
    _print_short_subset(summary, console)
    for line in findings_lines(result.applicable_guards):
        console.print(line, highlight=False)
    for sentence in result.sentences:
        console.print(sentence, highlight=False)
    print_run_judge(result.out, console)
    console.print(result.multiplicity, highlight=False)
    _print_retention(result.retention, console)
    console.print(f"report: {result.report.resolve()}")


def print_run_judge(out: Path, console: Console) -> None:
    """The judge's table, trust, preference and guards of a run with a judge: section, and why
    metrics.primary is not the headline when the judge failed its gold check (nothing without one)."""
    from rich.markup import escape

    from lorabench.cli.judged import print_judged, run_judgment

    judged, note = run_judgment(out)
    if judged is not None:
        print_judged(judged, console)
    if note:
        console.print(f"[bold red]{escape(note)}[/]", highlight=False, soft_wrap=True)


def _print_retention(retention: RetentionVerdicts | None, console: Console) -> None:
    """The retention section: one verdict line per lm-eval task and metric, its notes, and the
    trade-off when a gain on the target task came with a loss elsewhere (nothing without retention)."""
    from rich.markup import escape

    if retention is None:
        return
    items = ", ".join(f"{task} {n}" for task, n in retention.items.items())
    console.print(f"[bold]{retention.title}[/] (lm-eval, base vs tuned, paired by doc_id; documents: {escape(items)})")
    for sentence in retention.sentences:
        console.print(escape(sentence), highlight=False)
    for note in retention.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if retention.tradeoff:
        console.print(f"[bold red]trade-off:[/] {escape(retention.tradeoff)}", highlight=False)


def _print_short_subset(summary: RunSummary, console: Console) -> None:
    """The paired table on the items with short gold answers, as report.html shows it (nothing
    for tasks without such a subset)."""
    from lorabench.cli.tables import comparison_table

    short = summary.short_comparison
    if short is None:
        return
    subset = f"short answers (gold <= {short.thresh} tokens)"
    before, after = summary.base.short, summary.tuned.short
    if short.n == summary.base.n:
        console.print(f"{subset}: all {short.n} test items, so the table above is theirs", highlight=False)
    elif short.comparison and before is not None and after is not None:
        console.print(comparison_table(short.comparison, before, after, subset=subset))
    else:
        console.print(f"{subset}: none of the {summary.base.n} test items", highlight=False)
