"""The `lorabench` command: one module per command, each thin (parse, call the library, print,
exit code). `COMMANDS` lists them in the order `--help` shows.

A new command: a module here with its function, and one line in COMMANDS. A new option of a
command: a parameter of its function (settings options of `eval`: see cli/evaluate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from lorabench.cli import compare, demo, evaluate, judge, leakage, merge, prompts, report, run, score, study, synth, track, train
from lorabench.cli.common import user_errors

app = typer.Typer(
    help="Fine-tune small language models with LoRA on QA data and find out, honestly, whether it helped.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's own help layout: rich's option table cuts long option names at 80 columns.
    rich_markup_mode=None,
)

COMMANDS: dict[str, Callable[..., Any]] = {
    "score": user_errors(score.score, fields=score.FIELDS),
    "synth": user_errors(synth.synth),
    "leakage": user_errors(leakage.leakage),
    "eval": evaluate.command,  # its settings options made from the schema (user_errors applied there)
    "run": user_errors(run.run),
    "train": user_errors(train.train),
    "merge": user_errors(merge.merge),
    "prompts": user_errors(prompts.prompts),
    "study": user_errors(study.study),
    "compare": user_errors(compare.compare),
    "judge": judge.command,  # its own key -> option names (user_errors applied there)
    "report": user_errors(report.report),
    "track": user_errors(track.track),
    "demo": user_errors(demo.demo),
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)


def main() -> None:
    app()
