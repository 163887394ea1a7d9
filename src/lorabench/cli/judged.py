"""The judge's result on the terminal: a table of the judged metrics, the preference line, the
judge's guards, its cost. Shared by `lorabench run` (a config with judge:) and `lorabench judge`."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lorabench.cli.tables import findings_lines
from lorabench.results import JudgeResult, RunSummary
from lorabench.results.judged import JUDGE_METRICS


def judged_table(result: JudgeResult) -> Table:
    """Judged metrics, base vs tuned (McNemar exact), with the share of gold answers the judge
    itself calls correct; one column per side when only one side was judged."""
    trusted = "" if result.trustworthy else " - judge NOT trustworthy on this data"
    table = Table(
        title=f"judged by {escape(str(result.judge.get('model')))} on {result.n} items (%){trusted}",
        box=box.SIMPLE_HEAD, padding=(0, 1),
    )
    table.add_column("metric", no_wrap=True)
    table.add_column("gold", justify="right")
    for side in result.sides:
        table.add_column(escape(side), justify="right")
    if result.comparisons:
        table.add_column("change", justify="right")
        table.add_column("p", justify="right")
        table.add_column("verdict")
    by_metric = {c.metric: c for c in result.comparisons}
    for metric in JUDGE_METRICS:
        row = [metric] + [f"{100 * result.rates[s][metric]:.1f}" for s in ["gold", *result.sides]]
        c = by_metric.get(metric)
        if c is not None:
            verdict = {"better": "[green]better[/]", "worse": "[red]worse[/]"}.get(c.verdict, "n.s.")
            row += [f"{100 * c.difference:+.1f} (+{c.improved}/-{c.regressed})", f"{c.p_value:.2g}",
                    verdict if result.trustworthy else f"({verdict}, untrusted)"]
        table.add_row(*row)
    return table


def run_judgment(out: Path) -> tuple[JudgeResult | None, str | None]:
    """A finished run folder's judge result (judge/) and the note saying why metrics.primary is not
    the headline, when summary.json has one."""
    note = (RunSummary.read(out).get("verdict") or {}).get("note") if (out / "summary.json").is_file() else None
    return JudgeResult.read(out / "judge"), note


def print_judged(result: JudgeResult, console: Console) -> None:
    console.print(judged_table(result))
    say = lambda text: console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    say(("[green]" if result.trustworthy else "[bold red]") + escape(result.trust_sentence()) + "[/]")
    if result.preference is not None:
        say(escape(result.preference.sentence()))
    if len(result.sides) == 1:
        say(escape(result.rates_sentence()))
    for line in findings_lines([g for g in result.guards if g.name != "judge_gold"]):
        say(line)
    say(escape(result.cost_sentence()))
