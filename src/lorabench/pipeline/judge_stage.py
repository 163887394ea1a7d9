"""The run's judge stage: both passes' answers graded by the judge of the config's `judge:` section.
Which metric's verdict is the run's, judged or not, is `comparison.paired.choose_headline`'s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lorabench.config.prompt import PromptSettings
from lorabench.core.notices import Say
from lorabench.data.records import Record
from lorabench.judging.session import JudgeSetup, judge_with
from lorabench.judging.sources import items_from_rows
from lorabench.results.judged import JudgeResult
from lorabench.runs.predictions import PredictionRow

JUDGE_FOLDER = "judge"


def judge_stage(
    setup: JudgeSetup, prompt: PromptSettings, records: Sequence[Record],
    base: Sequence[PredictionRow], tuned: Sequence[PredictionRow], out: Path, alpha: float, say: Say,
) -> JudgeResult:
    """Grade base's and tuned's answers (and compare them in both orders) into out/judge/, with the
    rubrics and the judge backend the run's check read and opened (`setup`, see check_judge); the
    judge reads each question as the run's prompt settings write its task text."""
    items = items_from_rows(records, prompt, [("base", base), ("tuned", tuned)])
    return judge_with(items, ["base", "tuned"], setup, out=Path(out) / JUDGE_FOLDER, alpha=alpha, say=say)
