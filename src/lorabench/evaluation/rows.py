"""A question's prediction row: its answer scored by the kind's Task, beside what making it cost.

Every strategy (evaluation/strategies.py) writes its rows through here, so a row is scored the
same way whichever strategy asked the question.
"""

from __future__ import annotations

from lorabench.core.kinds import Task
from lorabench.data.records import Record
from lorabench.inference.base import Generation
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.runs.predictions import CostFields, PredictionRow
from lorabench.prompts.build import Prompt


def item_scores(task: Task, record: Record, prediction: str, settings: ScoreSettings = ScoreSettings()) -> dict[str, float]:
    """Every metric of the kind for `prediction` against the record's golds (and its options, for a
    kind that has them), each in [0, 1]. Raises ValueError for an unusable gold."""
    return task.score(ScoreInput(list(record.golds), prediction, task.options(record)), settings)


def generated_row(
    task: Task, record: Record, prompt: Prompt, prediction: str, gen: Generation, hit_max_new_tokens: bool,
    cost: CostFields, settings: ScoreSettings, parse_error: str | None = None,
) -> PredictionRow:
    """The row of one question answered by `gen` (the context's generation for the batch strategy)."""
    # A question without a usable answer is wrong on every metric; scoring its empty prediction
    # would count it right whenever the gold is "unanswerable".
    scores = {name: 0.0 for name in task.metrics} if parse_error else item_scores(task, record, prediction, settings)
    return PredictionRow(
        id=record.id,
        prompt=prompt.text,
        gold=list(record.golds),
        prediction=prediction,
        raw=gen.text,
        scores=scores,
        prompt_tokens=gen.prompt_tokens,
        generated_tokens=gen.generated_tokens,
        latency_s=round(gen.latency_s, 4),
        hit_max_new_tokens=hit_max_new_tokens,
        stop_reason=gen.stop_reason,
        prompt_shortened=prompt.shortened,
        **cost,
        parse_failure=parse_error is not None,
        parse_error=parse_error,
    )


def option_row(
    task: Task, record: Record, prompt: Prompt, label: str, strategy: str, latency_s: float, settings: ScoreSettings
) -> PredictionRow:
    """The row of a record whose kind scores its options (no generation): `label` is the best
    option's under `strategy` (the engine's: letter or logprob), which the row keeps as its stop reason."""
    return PredictionRow(
        id=record.id,
        prompt=prompt.text,
        gold=list(record.golds),
        prediction=label,
        scores=item_scores(task, record, label, settings),
        prompt_tokens=prompt.n_tokens,
        generated_tokens=0,
        latency_s=round(latency_s, 4),
        hit_max_new_tokens=False,
        stop_reason=strategy,
        prompt_shortened=prompt.shortened,
    )
