"""The run's judge stage and its headline: both passes' answers graded by the judge of the config's
`judge:` section, and which metric's verdict is the run's.

metrics.primary may name judge_correct for a kind a judge grades. It is the headline only when the
judge passed its gold check; otherwise the task's own primary metric decides, and the run says why
(in the output, summary.json's verdict and the report). Every metric tested, judged or not, counts
in the multiple-testing note, and Holm (metrics.correction) adjusts them as one family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.comparison.paired import MetricComparison, comparison_from_dict, run_verdict, with_roles
from lorabench.config.judge import JUDGE_PRIMARY
from lorabench.config.prompt import PromptSettings
from lorabench.config.settings import MetricSettings
from lorabench.core.kinds import Task
from lorabench.core.notices import Say
from lorabench.data.records import Record
from lorabench.judging.answers import JudgeSetup, judge_with
from lorabench.judging.sources import items_from_rows
from lorabench.results.judged import JudgeResult
from lorabench.runs.predictions import PredictionRow

JUDGE_FOLDER = "judge"


def judge_stage(
    setup: JudgeSetup, prompt: PromptSettings, records: Sequence[Record],
    base: Sequence[PredictionRow], tuned: Sequence[PredictionRow], out: Path, cache_dir: str | None, alpha: float,
    say: Say,
) -> JudgeResult:
    """Grade base's and tuned's answers (and compare them in both orders) into out/judge/, with the
    rubrics and the judge model the run's check read and resolved (`setup`, see check_judge); the
    judge reads each question as the run's prompt settings write its task text."""
    items = items_from_rows(records, prompt, [("base", base), ("tuned", tuned)])
    return judge_with(items, ["base", "tuned"], setup, out=Path(out) / JUDGE_FOLDER, cache_dir=cache_dir, alpha=alpha, say=say)


@dataclass(frozen=True)
class Headline:
    """Which metric's verdict is the run's, and every comparison with its role."""

    primary: str
    requested: str | None  # metrics.primary as configured (None: the task's own)
    note: str | None  # why the requested metric is not the headline
    comparisons: list[MetricComparison]  # the task's metrics
    judged: list[MetricComparison]  # the judge's ([] without a judge)

    def verdict(self, alpha: float, correction: str) -> dict[str, Any]:
        verdict = run_verdict([*self.judged, *self.comparisons], alpha, correction)
        if self.requested is not None:
            verdict["requested_primary"] = self.requested
        if self.note is not None:
            verdict["note"] = self.note
        return verdict


def choose_headline(
    task: Task, metrics: MetricSettings, comparisons: Sequence[MetricComparison], judged: JudgeResult | None
) -> Headline:
    """The headline of a run of `task` (the run's Task, resolved once) under its `metrics` settings."""
    own = task.primary_metric
    requested = metrics.primary
    primary, note = requested or own, None
    if primary == JUDGE_PRIMARY and (judged is None or not judged.trustworthy):
        gold = next((g.message for g in judged.guards if g.name == "judge_gold"), "") if judged else "no judgment"
        note = (f"metrics.primary is {JUDGE_PRIMARY}, but the judge is not trustworthy on this data ({gold}): "
                f"the verdict is {own}'s")
        primary = own
    judged_comparisons = [comparison_from_dict(c.model_dump()) for c in judged.comparisons] if judged is not None else []
    marked = with_roles([*judged_comparisons, *comparisons], primary, metrics.correction)
    return Headline(primary, requested, note, marked[len(judged_comparisons):], marked[:len(judged_comparisons)])
