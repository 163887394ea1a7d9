"""What long jobs show while they run: progress bars and one line per training log."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bars(console: Console) -> tuple[Progress, Callable[[str, int, int], Callable[[int], None]]]:
    """A rich Progress and a factory: `factory(name, total, already_done)` returns an `advance(k)`."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    bars = Progress(*columns, console=console)

    def factory(name: str, total: int, done: int) -> Callable[[int], None]:
        bar_id = bars.add_task(name, total=total, completed=done)
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


def run_pipeline_live(config, console: Console, bar_console: Console, force: bool = False):  # noqa: ANN001, ANN201
    """`run_pipeline` with progress bars and training lines, then the comparison table and guard lines."""
    from lorabench.pipeline import run_pipeline
    from lorabench.report.console import comparison_table, findings_lines
    from lorabench.report.verdicts import verdict_sentence

    bars, factory = progress_bars(bar_console)
    with bars:
        result = run_pipeline(
            config, force=force, say=lambda m: console.print(m, highlight=False), progress=factory,
            on_train_log=train_log_printer(console),
        )
    console.print(comparison_table(result.comparisons, result.base.metrics, result.tuned.metrics))
    for line in findings_lines(result.findings):
        console.print(line, highlight=False)
    for comparison in result.comparisons:
        console.print(verdict_sentence(comparison), highlight=False)
    console.print(f"report: {result.report.resolve()}")
    return result


def run_study_live(study, console: Console, force: bool = False, keep_going: bool = False):  # noqa: ANN001, ANN201
    """`run_study` with progress bars, then the study tables and page rebuilt from disk."""
    from lorabench.study.report import write_study_report
    from lorabench.study.runner import run_study

    bars, factory = progress_bars(console)
    try:
        with bars:
            statuses = run_study(
                study, force=force, say=lambda m: console.print(m, highlight=False), progress=factory,
                on_train_log=train_log_printer(console), keep_going=keep_going,
            )
    finally:
        # Also after an interruption: the page shows what is finished and says what is not.
        files = write_study_report(study)
        console.print(f"study: {files.finished} of {files.total} runs finished; page: {files.html.resolve()}")
    return statuses, files
