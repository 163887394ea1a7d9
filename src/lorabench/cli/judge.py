"""`lorabench judge`: answers graded by a judge model, after the fact, the way `score` scores them.

One finished eval folder or predictions file: graded against the gold. Two (base, then tuned): both
graded and compared, paired, and compared with each other in both orders. The judge's settings
options are made from JudgeSettings' fields (cli/settings_options.py), over the `judge:` section of
--config when given.
"""

# No `from __future__ import annotations`: typer reads these annotations, and the generated ones, as objects.

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lorabench.cli.common import console, err_console, say_on, user_errors
from lorabench.cli.settings_options import SettingsOption, field_flags, given, scalar_fields, with_options
from lorabench.config.judge import JudgeSettings

JUDGE_OPTIONS: list[SettingsOption] = [
    SettingsOption("judge", JudgeSettings, "model", ("--model", "-m")),
    *scalar_fields(JudgeSettings, "judge", skip=("model",)),
]
JUDGE_FLAGS = field_flags(JUDGE_OPTIONS)


def judge_command(
    answers: Annotated[list[Path], typer.Argument(
        metavar="ANSWERS...", help="One or two finished eval folders (e.g. runs/x/base runs/x/tuned) or predictions "
        "files (JSON Lines: question, gold, prediction, id). Two are base then tuned, judged paired.",
    )],
    config: Annotated[Optional[Path], typer.Option(help="YAML with a judge: section (a run config works); options given here win.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder for judgments.jsonl and judge.json (default: judge/ beside two inputs, NAME-judge/ beside one).")] = None,
    anyway: Annotated[bool, typer.Option(help="Judge two evaluations made with other prompts or decoding all the same.")] = False,
    alpha: Annotated[float, typer.Option(help="Significance level of the paired tests.")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the result as one JSON object.")] = False,
    **settings: Any,
) -> None:
    """Grade answers with a judge model (correct / incorrect / not attempted) and, for two runs, compare them paired."""
    from lorabench.api import judge
    from lorabench.cli.judged import print_judged

    result = judge(
        answers, given(JUDGE_OPTIONS, settings).get("judge", {}), config=config, out=out, anyway=anyway, alpha=alpha,
        say=say_on(err_console, JUDGE_FLAGS),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    print_judged(result, console)


_own = inspect.signature(judge_command)
_own = _own.replace(parameters=[p for p in _own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD])
command = user_errors(with_options(judge_command, JUDGE_OPTIONS, _own), fields=JUDGE_FLAGS)
